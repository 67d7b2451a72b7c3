"""Settling sends whose outcome was never recorded (a worker killed mid-send, a timeout),
run by every dispatcher tick.

Guarantees (docs/reliability.md, "Ambiguous outcomes and lookups"): never resends blindly. A
claim that never called the platform goes back to the queue at once; one that did is marked
unknown and the channel's lookup() decides: found is recorded as sent, not found goes back to
the queue with its cap unit refunded, cannot tell goes to a human for review. A sender whose
in-flight slot names a message no longer in flight gets its slot back, so one lost release
can never stop a sender for good.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from core.db import retry_on_conflict
from outreach import limits
from outreach.channels import get_channel
from outreach.channels.registry import channels
from outreach.models import Message, SenderAccount
from outreach.seams import MessageRequeued, outreach_events
from outreach.sending import claimer
from outreach.sending.deliver import outgoing
from outreach.sending.history import event
from outreach.sending.record import message_mark_unknown, message_record_sent

log = logging.getLogger(__name__)
S = Message.Status
IN_FLIGHT = [S.SENDING, S.UNKNOWN]


def messages_reconcile(*, now: datetime | None = None) -> dict[str, int]:
    """Resolve sends whose outcome was never recorded (crashed worker, timeout). Never resends
    blindly: a message goes back to the queue only when the platform says it never arrived,
    or when its attempt never called the platform."""
    now = now or timezone.now()
    grace = now - timedelta(seconds=settings.SEND_GRACE)
    counts = {"sent": 0, "requeued": 0, "review": 0, "freed": _slots_free_orphaned()}
    # Still "sending" after SEND_GRACE, or claimed by a process on this machine that is gone:
    # either way its worker will not call the platform any more.
    stuck = Message.objects.filter(status=S.SENDING).filter(
        Q(claimed_at__lt=grace) | Q(claimed_by__in=_claimers_gone(since=grace))
    )
    counts["requeued"] += _stuck_settle(stuck)
    keys = list(channels())
    # A channel no longer configured keeps the default window.
    settled = Q(claimed_at__lt=now - settle_window("")) & ~Q(channel__in=keys)
    for key in keys:
        settled |= Q(channel=key, claimed_at__lt=now - settle_window(key))
    unknown = (
        Message.objects.filter(status=S.UNKNOWN)
        .filter(settled)
        .select_related("sender", "conversation__identity")
    )
    for message in unknown:
        result = get_channel(message.channel).lookup(outgoing(message))
        if result.found:
            if message_record_sent(
                message_id=message.id, provider_message_id=result.provider_message_id
            ):
                counts["sent"] += 1
        elif result.found is False:
            _requeue_unknown(message)
            counts["requeued"] += 1
        else:
            _send_to_review(message)
            counts["review"] += 1
    return counts


def claims_of_gone_processes_settle() -> int:
    """What the reconciler does first, for the claims of processes on this machine that are
    gone only: run by every worker's main process on its heartbeat timer
    (config/worker_beat.py), so a pool process that died is settled for within seconds also
    where no dispatcher shares the worker's machine or container. Returns how many went back
    to the queue; the rest are "unknown" and wait for the dispatcher's lookup."""
    grace = timezone.now() - timedelta(seconds=settings.SEND_GRACE)
    gone = _claimers_gone(since=grace)
    if not gone:
        return 0
    return _stuck_settle(Message.objects.filter(status=S.SENDING, claimed_by__in=gone))


def _stuck_settle(stuck: QuerySet[Message]) -> int:
    """Claims whose worker will not call the platform any more: those it never tried go back
    to the queue, the one it was making is marked unknown. Returns how many went back."""
    requeued = 0
    for message in stuck.filter(_NOT_STARTED).select_related("sender"):
        requeued += _requeue_not_started(message)
    for mid, attempt in stuck.values_list("id", "attempts"):
        message_mark_unknown(
            message_id=mid, reason="worker stopped before recording the outcome", attempt=attempt
        )
    return requeued


def _claimers_gone(*, since: datetime) -> list[str]:
    """The processes on this machine that claimed a send since `since`, still "sending", and
    are gone (killed, crashed, out of memory): their claims need not wait for SEND_GRACE."""
    here = claimer.machine()
    if not here:
        return []
    names = (
        Message.objects.filter(status=S.SENDING, claimed_at__gte=since)
        .filter(claimed_by__startswith=here)
        .order_by()
        .values_list("claimed_by", flat=True)
        .distinct()
    )
    return [name for name in names if claimer.gone(name, here)]


def settle_window(channel: str) -> timedelta:
    """How long after its claim an unknown send of this channel waits before it is looked
    up or put to review: the channel's settle_after, never more than SEND_GRACE."""
    known = channels().get(channel)
    after = known.settle_after if known else 30.0
    return timedelta(seconds=min(settings.SEND_GRACE, after))


def settles_at(message: Message) -> datetime | None:
    """When the reconciler acts on this unsettled send at the latest (a tick later at most):
    a send still "sending" is taken as lost after SEND_GRACE, an unknown one is settled after
    its channel's window."""
    if message.claimed_at is None:
        return None
    if message.status == S.SENDING:
        return message.claimed_at + timedelta(seconds=settings.SEND_GRACE)
    return message.claimed_at + settle_window(message.channel)


# A claim whose attempt never got as far as calling the platform.
_NOT_STARTED = Q(send_started=False)


def _requeue_not_started(message: Message) -> bool:
    """A worker died after its claim, before calling the platform (the rest of its batch):
    nothing went out, so it goes back to the queue at once. False if it started meanwhile:
    the reconciler then settles it as unknown."""
    rows = Message.objects.filter(
        _NOT_STARTED, id=message.id, status=S.SENDING, attempts=message.attempts
    )
    return _requeue(message, rows, "worker stopped before sending it", "never sent")


def _requeue_unknown(message: Message) -> None:
    rows = Message.objects.filter(id=message.id, status=S.UNKNOWN)
    _requeue(message, rows, "platform confirmed it never arrived", "not at the platform")


@retry_on_conflict
def _requeue(message: Message, rows, why: str, found: str) -> bool:
    """Nothing went out: back to the queue, the sender's cap unit refunded."""
    with transaction.atomic():
        if not rows.update(status=S.QUEUED, enqueued_at=None, hold_reason=why):
            return False
        day = limits.local_day(message.sender, message.claimed_at or timezone.now())
        limits.token_release(sender=message.sender, message_id=message.id, refund_day=day)
        event(message, S.QUEUED, f"reconciler: {found}, will send again")
        outreach_events().message_requeued(MessageRequeued(message))
    return True


def _send_to_review(message: Message) -> None:
    """The platform cannot tell us: a human decides. The sender moves on to other messages."""
    with transaction.atomic():
        if (
            Message.objects.filter(id=message.id, status=S.UNKNOWN)
            .exclude(hold_reason__startswith="needs review")
            .update(hold_reason="needs review: the platform cannot confirm delivery")
        ):
            limits.token_release(sender=message.sender, message_id=message.id)
            event(message, S.UNKNOWN, "sent to the review queue")


def _slots_free_orphaned() -> int:
    """Free each sender whose in-flight slot names a message that is no longer in flight
    (settled, back in the queue, cancelled or deleted). Every path that settles a claimed
    message releases the slot in the same transaction; this is the backstop for a path that
    did not, which would otherwise hold the sender's queue for good."""
    in_flight = Message.objects.filter(id=OuterRef("inflight_message_id"), status__in=IN_FLIGHT)
    orphaned = (
        SenderAccount.objects.filter(inflight_message_id__isnull=False)
        .filter(~Exists(in_flight))
        .values_list("id", "inflight_message_id")
    )
    freed = 0
    for sender_id, message_id in orphaned:
        freed += _slot_free(sender_id, message_id)
    return freed


@retry_on_conflict
def _slot_free(sender_id: int, message_id: int) -> bool:
    with transaction.atomic():
        # Lock order as everywhere: the message, then its sender. Under the message's lock a
        # claim of it has either committed (then it is in flight again and keeps the slot)
        # or not begun.
        status = (
            Message.objects.select_for_update()
            .filter(id=message_id)
            .values_list("status", flat=True)
            .first()
        )
        if status in IN_FLIGHT:
            return False
        sender = SenderAccount.objects.select_for_update(no_key=True).get(id=sender_id)
        if sender.inflight_message_id != message_id:
            return False
        limits.tokens_release(held=[(sender, message_id)])
    log.warning(
        "sender %s freed: its in-flight message %s is %s", sender_id, message_id, status or "gone"
    )
    return True
