"""The sender rate limiter: authoritative in the database, global across every worker.

An UPDATE of the locked sender row takes a "token": at most one send in flight per
sender, spacing counted from when the previous send finished, and a daily cap per local day.
Celery's task rate_limit is per worker (celery#5732), so it is never used for this.
"""

import random
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from outreach.models import SenderAccount


def local_day(sender: SenderAccount, now: datetime) -> date:
    return now.astimezone(ZoneInfo(sender.time_zone or "UTC")).date()


def effective_cap(sender: SenderAccount, day: date) -> int:
    """The daily cap, lowered during warm-up: start value plus a daily increase."""
    if sender.warmup_start_cap is None:
        return sender.daily_cap
    started = sender.warmup_started_on or sender.created_at.date()
    days = max((day - started).days, 0)
    return min(sender.daily_cap, sender.warmup_start_cap + sender.warmup_daily_increase * days)


def remaining_today(sender: SenderAccount, now: datetime) -> int:
    """Sends the sender may still make today (its local day), after warm-up."""
    today = local_day(sender, now)
    used = sender.sent_today if sender.counter_day == today else 0
    return max(effective_cap(sender, today) - used, 0)


def _may_take(sender: SenderAccount, now: datetime) -> bool:
    if sender.paused or sender.inflight_message_id is not None:
        return False
    if sender.next_send_at and sender.next_send_at > now:
        return False
    if sender.backoff_until and sender.backoff_until > now:
        return False
    today = local_day(sender, now)
    return sender.counter_day != today or sender.sent_today < effective_cap(sender, today)


def tokens_take(*, wanted: list[tuple[SenderAccount, int]], now: datetime) -> set[int]:
    """Give each (sender, message id) the sender's token where the sender may send now, in
    one UPDATE; returns the message ids that got one.

    The caller holds the senders' rows locked (the claim selects them FOR UPDATE; on SQLite
    its IMMEDIATE transaction is the only writer), so the rows read are the rows written
    and deciding in Python is as authoritative as a conditional UPDATE. A sender wanted
    twice must be the same object: the second sees the first's token and is refused.
    """
    taken: dict[int, SenderAccount] = {}
    won: set[int] = set()
    for sender, message_id in wanted:
        if not _may_take(sender, now):
            continue
        today = local_day(sender, now)
        sender.sent_today = sender.sent_today + 1 if sender.counter_day == today else 1
        sender.counter_day = today
        sender.inflight_message_id = message_id
        taken[sender.id] = sender
        won.add(message_id)
    if taken:
        SenderAccount.objects.bulk_update(
            list(taken.values()), ["inflight_message_id", "counter_day", "sent_today"]
        )
    return won


def token_take(*, sender: SenderAccount, message_id: int, now: datetime) -> bool:
    with transaction.atomic():
        locked = SenderAccount.objects.select_for_update(no_key=True).get(id=sender.id)
        return bool(tokens_take(wanted=[(locked, message_id)], now=now))


def tokens_release(
    *,
    held: list[tuple[SenderAccount, int]],
    refund_day: date | None = None,
    backoff_until: datetime | None = None,
    space: bool = True,
) -> None:
    """Free each sender whose token its message holds, after the send finished, in one
    UPDATE. The next send waits a random gap from *now*. The senders' rows are locked, as
    for tokens_take.

    refund_day gives the daily-cap unit back, and only when the platform proved the
    message never arrived.
    """
    now = timezone.now()
    freed = []
    for sender, message_id in held:
        if sender.inflight_message_id != message_id:
            continue  # already freed (a stalled attempt, the reconciler got there first)
        sender.inflight_message_id = None
        if space:
            gap = random.uniform(sender.min_gap_seconds, sender.max_gap_seconds)
            gap *= max(sender.gap_factor, 1.0)  # the guards' slow-down
            sender.next_send_at = now + timedelta(seconds=gap)
        if backoff_until is not None:
            sender.backoff_until = backoff_until
        if refund_day is not None and sender.counter_day == refund_day and sender.sent_today:
            sender.sent_today -= 1
        freed.append(sender)
    if freed:
        SenderAccount.objects.bulk_update(
            freed, ["inflight_message_id", "next_send_at", "backoff_until", "sent_today"]
        )


def token_release(
    *,
    sender: SenderAccount,
    message_id: int,
    refund_day: date | None = None,
    backoff_until: datetime | None = None,
    space: bool = True,
) -> None:
    with transaction.atomic():
        locked = SenderAccount.objects.select_for_update(no_key=True).get(id=sender.id)
        tokens_release(
            held=[(locked, message_id)],
            refund_day=refund_day,
            backoff_until=backoff_until,
            space=space,
        )


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
    """Explain a refused token in words a rep understands, and when to try again, from the
    sender's row as the caller holds it (locked, as tokens_take left it)."""
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
