"""The sender rate limiter: authoritative in the database, global across every worker.

One conditional UPDATE on the sender row takes a "token": at most one send in flight per
sender, spacing counted from when the previous send finished, and a daily cap per local day.
Celery's task rate_limit is per worker (celery#5732), so it is never used for this.
"""

import random
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Case, F, PositiveIntegerField, Q, When
from django.utils import timezone

from outreach.models import SenderAccount

COUNT = PositiveIntegerField()


def local_day(sender: SenderAccount, now: datetime) -> date:
    return now.astimezone(ZoneInfo(sender.time_zone or "UTC")).date()


def effective_cap(sender: SenderAccount, day: date) -> int:
    """The daily cap, lowered during warm-up: start value plus a daily increase."""
    if sender.warmup_start_cap is None:
        return sender.daily_cap
    started = sender.warmup_started_on or sender.created_at.date()
    days = max((day - started).days, 0)
    return min(sender.daily_cap, sender.warmup_start_cap + sender.warmup_daily_increase * days)


def token_take(*, sender: SenderAccount, message_id: int, now: datetime) -> bool:
    today = local_day(sender, now)
    cap = effective_cap(sender, today)
    return bool(
        SenderAccount.objects.filter(id=sender.id, paused=False, inflight_message_id=None)
        .filter(Q(next_send_at=None) | Q(next_send_at__lte=now))
        .filter(Q(backoff_until=None) | Q(backoff_until__lte=now))
        .filter(~Q(counter_day=today) | Q(counter_day=None) | Q(sent_today__lt=cap))
        .update(
            inflight_message_id=message_id,
            counter_day=today,
            sent_today=Case(
                When(counter_day=today, then=F("sent_today") + 1), default=1, output_field=COUNT
            ),
        )
    )


def token_release(
    *,
    sender: SenderAccount,
    message_id: int,
    refund_day: date | None = None,
    backoff_until: datetime | None = None,
    space: bool = True,
) -> None:
    """Free the sender after a send finished. The next send waits a random gap from *now*.

    refund_day gives the daily-cap unit back, and only when the platform proved the
    message never arrived.
    """
    now = timezone.now()
    updates: dict = {"inflight_message_id": None}
    if space:
        gap = random.uniform(sender.min_gap_seconds, sender.max_gap_seconds)
        updates["next_send_at"] = now + timedelta(seconds=gap)
    if backoff_until is not None:
        updates["backoff_until"] = backoff_until
    if refund_day is not None:
        updates["sent_today"] = Case(
            When(counter_day=refund_day, sent_today__gt=0, then=F("sent_today") - 1),
            default=F("sent_today"),
            output_field=COUNT,
        )
    SenderAccount.objects.filter(id=sender.id, inflight_message_id=message_id).update(**updates)


def cap_reached(sender: SenderAccount, now: datetime) -> tuple[str, datetime] | None:
    """("sender daily cap reached (50/50)", the sender's next local midnight), or None."""
    today = local_day(sender, now)
    cap = effective_cap(sender, today)
    if sender.counter_day != today or sender.sent_today < cap:
        return None
    tz = ZoneInfo(sender.time_zone or "UTC")
    midnight = datetime.combine(today + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    return f"sender daily cap reached ({sender.sent_today}/{cap})", midnight


def why_no_token(*, sender: SenderAccount, now: datetime) -> tuple[str, datetime | None]:
    """Explain a refused token in words a rep understands, and when to try again."""
    sender.refresh_from_db()
    if sender.paused:
        return f"sender paused: {sender.paused_reason or 'by a user'}", None
    if sender.backoff_until and sender.backoff_until > now:
        return "platform asked us to slow down", sender.backoff_until
    capped = cap_reached(sender, now)
    if capped:
        return capped
    if sender.inflight_message_id is not None:
        return "sender busy with another message", None
    if sender.next_send_at and sender.next_send_at > now:
        return "spacing between sends", sender.next_send_at
    return "sender not available", None
