"""The sender-health panel: each sender's sends today, next slot, errors, bounces and complaints."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from campaigns.models import (
    Campaign,
)
from outreach.limits import effective_cap, local_day, remaining_today
from outreach.models import Message, MessageEvent, SenderAccount

M = Message.Status


@dataclass
class SenderHealth:
    id: int
    name: str
    channel: str
    sent_today: int
    cap: int
    next_slot: datetime | None
    next_slot_note: str
    errors_24h: int
    last_error: str
    # The last 7 and 30 days: bounces (reported, hard or soft, or refused at send) and spam
    # complaints.
    bounces_7d: int
    bounces_30d: int
    complaints_7d: int
    complaints_30d: int
    paused: bool
    paused_reason: str
    health: str
    queued: int
    # The pool view: what it can still send today, and its per-provider hourly caps.
    left_today: int = 0
    provider_caps: str = ""


def _bounces(since: datetime) -> QuerySet:
    """The sender's bounces since then, one per bounce (a message soft-bounced twice, then
    hard, is three): the events outreach records for them (outreach.inbound.apply._fail and
    outreach.suppress.soft_bounce_retry for reported ones, outreach.sending.record.record_failed
    for refusals at send, "bounce_…" or "soft_bounce_…" once retrying gave up)."""
    return MessageEvent.objects.filter(
        Q(status=M.FAILED, detail__startswith="bounce_")
        | Q(status=M.FAILED, detail__startswith="soft_bounce_")
        | Q(status=M.QUEUED, detail__startswith="soft bounce ("),
        message__sender_id=OuterRef("id"),
        message__direction=Message.Direction.OUTBOUND,
        at__gte=since,
    )


def _complaints(since: datetime) -> QuerySet:
    # outreach.inbound.apply leaves each complaint as an inbound message with this event.
    return Message.objects.filter(
        sender_id=OuterRef("id"),
        direction=Message.Direction.INBOUND,
        events__detail="complaint",
        created_at__gte=since,
    )


def _count_of(qs: QuerySet, by: str = "sender_id") -> Coalesce:
    """COUNT(*) of a correlated queryset as a subquery: each sender's count comes from the
    (sender, status, id) index instead of joining every message the sender ever sent."""
    count = qs.order_by().values(by).annotate(n=Count("id")).values("n")
    return Coalesce(Subquery(count), 0)


WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def window_words(sender: SenderAccount) -> str:
    days = [WEEKDAYS[int(d)] for d in sorted(sender.window_days)]
    span = f"{sender.window_start:%H:%M}-{sender.window_end:%H:%M}"
    if sender.window_start == sender.window_end:
        span = "all day"
    return f"{' '.join(days) or 'no days'} {span} in each contact's time zone"


def sender_next_slot(sender: SenderAccount, now: datetime) -> tuple[datetime | None, str]:
    """When this sender's own limits (pause, backoff, spacing, daily cap) next let it send,
    in words. The sending window is not folded in: it is read in each contact's time zone
    (the sender's only for contacts without one), so no single time would be true for every
    queued message; it is named instead."""
    if sender.paused:
        return None, f"paused: {sender.paused_reason or 'by a user'}"
    tz = ZoneInfo(sender.time_zone or "UTC")
    at = max(t for t in (now, sender.next_send_at, sender.backoff_until) if t is not None)
    day = local_day(sender, at)
    if sender.counter_day == day and sender.sent_today >= effective_cap(sender, day):
        at = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    window = window_words(sender)
    if at <= now:
        return now, f"now, within the window ({window})"
    return at, f"{at.astimezone(tz):%a %d %b %H:%M} {tz.key}, then within the window ({window})"


def senders_health(
    campaign: Campaign, now: datetime
) -> tuple[list[SenderHealth], list[SenderAccount]]:
    """The campaign's senders' health, and the sender rows it was read from (the held panel
    derives waiting reasons from them): one query, whatever the number of senders."""
    senders = []
    sender_rows: list[SenderAccount] = []
    day_ago = now - timedelta(hours=24)
    week_ago, month_ago = now - timedelta(days=7), now - timedelta(days=30)
    for s in (
        campaign.senders.prefetch_related("provider_caps")
        .annotate(
            _errors=_count_of(
                Message.objects.filter(
                    sender_id=OuterRef("id"), status=M.FAILED, created_at__gte=day_ago
                )
            ),
            _queued=_count_of(Message.objects.filter(sender_id=OuterRef("id"), status=M.QUEUED)),
            _bounces_7=_count_of(_bounces(week_ago), by="message__sender_id"),
            _bounces_30=_count_of(_bounces(month_ago), by="message__sender_id"),
            _complaints_7=_count_of(_complaints(week_ago)),
            _complaints_30=_count_of(_complaints(month_ago)),
        )
        .order_by("name")
    ):
        sender_rows.append(s)
        day = local_day(s, now)
        slot, note = sender_next_slot(s, now)
        senders.append(
            SenderHealth(
                id=s.id,
                name=s.name,
                channel=s.get_channel_display(),
                sent_today=s.sent_today if s.counter_day == day else 0,
                cap=effective_cap(s, day),
                next_slot=slot,
                next_slot_note=note,
                errors_24h=s._errors,  # type: ignore[attr-defined]
                last_error=s.last_error,
                bounces_7d=s._bounces_7,  # type: ignore[attr-defined]
                bounces_30d=s._bounces_30,  # type: ignore[attr-defined]
                complaints_7d=s._complaints_7,  # type: ignore[attr-defined]
                complaints_30d=s._complaints_30,  # type: ignore[attr-defined]
                paused=s.paused,
                paused_reason=s.paused_reason,
                health=s.get_health_display(),
                queued=s._queued,  # type: ignore[attr-defined]
                left_today=0 if s.paused else remaining_today(s, now),
                provider_caps=", ".join(f"{c.label} {c.per_hour}/h" for c in s.provider_caps.all()),
            )
        )
    return senders, sender_rows
