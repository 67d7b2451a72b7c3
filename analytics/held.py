"""The held-messages panel: a campaign's messages that wait, and why each has not gone."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Count, F, QuerySet
from django.urls import reverse
from django.utils import timezone

from analytics.tables import Link
from campaigns.models import Campaign
from outreach.limits import cap_reached
from outreach.models import Message, SenderAccount, SendingSwitch
from outreach.sending.reconcile import settles_at
from outreach.windows import Window, describe_wait

M = Message.Status


HELD_STATUSES = [M.QUEUED, M.PAUSED, M.UNKNOWN]


FREE_SLOT = "waiting for a free sender slot"


HELD_COLUMNS = [
    "message",
    "contact",
    "step",
    "template",
    "channel",
    "status",
    "why not sent",
    "not before",
]


@dataclass
class HeldMessage:
    id: int
    contact: str
    step: int
    channel: str
    status: str
    reason: str
    not_before: datetime | None
    version: str = ""  # the template version it was rendered from, "v3"
    contact_id: int | None = None
    conversation_id: int | None = None
    template: str = ""
    template_id: int | None = None

    def cells(self) -> list:
        """Names, linked to their pages, rather than ids; the time stays a datetime, shown
        in words on the page and as ISO 8601 in the CSV (analytics/tables.py)."""
        template = " ".join(t for t in (self.template, self.version) if t)
        return [
            _link(f"#{self.id}", "inbox:conversation", self.conversation_id),
            _link(self.contact, "contact_pages:detail", self.contact_id),
            self.step,
            _link(template, "templates:edit", self.template_id),
            self.channel,
            self.status,
            self.reason,
            self.not_before or "",
        ]


def _link(text: str, view: str, pk: int | None) -> Link | str:
    return text if pk is None else Link(text, reverse(view, args=[pk]))


def _held(campaign: Campaign) -> QuerySet[Message]:
    """The campaign's held messages (queued, paused, unknown), found by the campaign the
    dispatcher wrote on each (`message_campaign_held`, a partial index of held messages):
    never a walk through the campaign's enrolments, step links and messages."""
    return Message.objects.filter(campaign_id=campaign.id, status__in=HELD_STATUSES)


def held_counts(campaign: Campaign) -> list[Mapping[str, Any]]:
    """Held messages per (step, variant, reason, status, sender, contact time zone): the last
    three let a queued message without a reason of its own get one (`_waiting_reason`).

    The one query on this page that grows with the campaign's held messages: it reads each
    one's step link, enrolment and contact (docs/scaling.md)."""
    return list(
        _held(campaign)
        .values(
            "hold_reason",
            "status",
            "sender_id",
            step=F("step_send__step_id"),
            variant=F("step_send__variant_id"),
            tz=F("step_send__enrollment__contact__time_zone"),
        )
        .annotate(n=Count("id"))
        .order_by()
    )


def _waiting_reason(
    sender: SenderAccount | None, contact_tz: str, now: datetime, kill_switch: bool
) -> tuple[str, datetime | None]:
    """Why a queued message with no reason of its own has not gone, and until when.

    The send path writes a reason only when it tries to send, and the outbox offers nothing
    while the kill switch is on, nothing of a paused sender and one message per free sender
    at a time: the rest of the queue would read "free sender slot" while the real reason is
    the switch, the sender or the window. So it is derived here from the same state, in the
    order the send path checks it (outreach.sending.gate.refusal, outreach.limits.why_no_token).
    """
    if kill_switch:
        return "all sending paused (kill switch)", None
    if sender is None:
        return FREE_SLOT, None
    if sender.paused:
        return f"sender paused: {sender.paused_reason or 'by a user'}", None
    capped = cap_reached(sender, now)
    if capped:
        return capped
    if sender.backoff_until and sender.backoff_until > now:
        return "platform asked us to slow down", sender.backoff_until
    if not sender.window_days:
        return "sender has no sending days", None
    # The window in the contact's time zone, else the sender's, as the send path reads it.
    tz = ZoneInfo(contact_tz or sender.time_zone or "UTC")
    window = Window(sender.window_days, sender.window_start, sender.window_end, tz)
    opens = window.next_open(now)
    if opens > now:
        return describe_wait(opens, tz), opens
    return _inflight_reason(sender)


def _inflight_reason(sender: SenderAccount) -> tuple[str, datetime | None]:
    """A sender sends one message at a time: name the one holding its slot, and when the
    reconciler settles it if its outcome is in doubt (outreach.sending.reconcile)."""
    inflight = (
        Message.objects.filter(id=sender.inflight_message_id, status__in=[M.SENDING, M.UNKNOWN])
        .only("id", "status", "channel", "claimed_at")
        .first()
        if sender.inflight_message_id
        else None
    )
    if inflight is None or inflight.claimed_at is None:
        return FREE_SLOT, None
    until = settles_at(inflight)
    at = timezone.localtime(inflight.claimed_at).strftime("%H:%M")
    by = timezone.localtime(until).strftime("%H:%M") if until else "?"
    if inflight.status == M.UNKNOWN:
        return f"waiting for message #{inflight.id} sent at {at} to settle (until {by})", until
    sending = f"waiting for message #{inflight.id}, sending since {at} (lost if not done by {by})"
    return sending, until


class HeldReasons:
    """Each held message's reason: its own, else derived once per (sender, time zone)."""

    def __init__(self, senders: Sequence[SenderAccount], now: datetime) -> None:
        self.senders: dict[int, SenderAccount | None] = {s.id: s for s in senders}
        self.now = now
        self.kill_switch = SendingSwitch.is_paused()
        self.derived: dict[tuple[int | None, str], tuple[str, datetime | None]] = {}

    def __call__(self, m: Mapping[str, Any]) -> tuple[str, datetime | None]:
        if m["hold_reason"] or m["status"] != M.QUEUED:
            return m["hold_reason"] or FREE_SLOT, m.get("not_before")
        key = (m["sender_id"], m["tz"] or "")
        if key not in self.derived:
            sender = self.senders.get(m["sender_id"])
            if m["sender_id"] not in self.senders:  # since removed from the campaign
                sender = SenderAccount.objects.filter(id=m["sender_id"]).first()
                self.senders[m["sender_id"]] = sender
            self.derived[key] = _waiting_reason(sender, key[1], self.now, self.kill_switch)
        reason, until = self.derived[key]
        return reason, m.get("not_before") or until


def held_messages(
    *,
    campaign: Campaign,
    now: datetime | None = None,
    reasons: HeldReasons | None = None,
    limit: int | None = None,
) -> Iterator[HeldMessage]:
    """The campaign's held messages, longest-waiting first, each with why it is not sent.
    Without a limit every one, read in chunks (the CSV export streams them)."""
    now = now or timezone.now()
    first_held = F("not_before").asc(nulls_first=True), "id"
    held = _held(campaign).order_by(*first_held)
    if limit is not None:
        # The first ones found from the index alone, then only those joined to their names
        # (as a list: PostgreSQL plans `IN (subquery … LIMIT)` as a join of every message).
        # With nothing held, the second query is not made.
        held = Message.objects.filter(id__in=list(held.values_list("id", flat=True)[:limit]))
    rows = held.order_by(*first_held).values(
        "id",
        "channel",
        "status",
        "hold_reason",
        "not_before",
        "sender_id",
        "conversation_id",
        step=F("step_send__step__position"),
        version=F("step_send__template_version__number"),
        tpl_id=F("step_send__step__template_id"),
        tpl=F("step_send__step__template__name"),
        cid=F("conversation__identity__contact_id"),
        first=F("conversation__identity__contact__first_name"),
        last=F("conversation__identity__contact__last_name"),
        tz=F("conversation__identity__contact__time_zone"),
    )
    if reasons is None:
        reasons = HeldReasons(list(campaign.senders.all()), now)
    for m in rows.iterator(chunk_size=2000) if limit is None else rows:
        reason, not_before = reasons(m)
        yield HeldMessage(
            id=m["id"],
            contact=f"{m['first']} {m['last']}".strip() or f"contact #{m['cid']}",
            step=m["step"],
            channel=m["channel"],
            status=m["status"],
            reason=reason,
            not_before=not_before,
            version=f"v{m['version']}" if m["version"] else "",
            contact_id=m["cid"],
            conversation_id=m["conversation_id"],
            template=m["tpl"] or "",
            template_id=m["tpl_id"],
        )
