"""Recording the outcome of a send (T2): sent (in batches), not sent (back to the queue),
failed, or unknown; and a rep's send by hand (a ManualTask), recorded like any other. Sent,
not sent and failed release the sender's in-flight slot and tell campaigns through
outreach_events() in the same transaction; unknown keeps the slot for the reconciler.

Guarantees (docs/reliability.md): every record is fenced by the attempt number, so a stalled
worker cannot overwrite the outcome of a later attempt; a message already settled is left
alone, so recording twice (a lookup, a webhook, a late worker) counts once; what the platform
proved it never received refunds the sender's cap unit.
"""

from datetime import timedelta

from django.db import transaction
from django.db.models import Case, Value, When
from django.utils import timezone

from core.db import retry_on_conflict
from outreach import limits, policy
from outreach.channels.base import Bounced, ChannelError, PolicyWindowClosed
from outreach.models import Conversation, ManualTask, Message, MessageEvent
from outreach.seams import MessageFailed, MessageRequeued, outreach_events
from outreach.sending.claim import Claim, lock_with_senders
from outreach.sending.history import event
from outreach.suppress import SOFT_SEND_CODE, bounce_suppress

S = Message.Status


def record_sent_batch(sent: list[tuple[Message, str]]) -> None:
    messages_record_sent(sent=[(m.id, provider_id, m.attempts) for m, provider_id in sent])
    for message, _ in sent:
        _private_reply_used(message)  # it went out, whoever records it


def _private_reply_used(message: Message) -> None:
    """Meta allows one private reply per comment: once it went out, the comment is spent and
    the policy gate holds anything else until the person writes."""
    conversation = message.conversation
    if not conversation.comment_id or message.channel not in ("instagram", "messenger"):
        return
    if message.public_reply_to:
        return  # a public reply under the comment leaves the private reply unused
    route = policy.meta_route(
        now=message.claimed_at or timezone.now(),
        last_inbound_at=conversation.last_inbound_at,
        comment_id=conversation.comment_id,
        comment_at=conversation.comment_at,
        human_written=message.human_written,
    )
    if route == "private_reply":
        Conversation.objects.filter(id=conversation.id, comment_id=conversation.comment_id).update(
            comment_id=""
        )


def _this_attempt(message_id: int, attempt: int | None, statuses: list[str]):
    """Rows this attempt may still change. Fencing by attempt number stops a stalled worker
    from overwriting the outcome of a later attempt the reconciler allowed."""
    rows = Message.objects.filter(id=message_id, status__in=statuses)
    return rows if attempt is None else rows.filter(attempts=attempt)


@retry_on_conflict
def messages_record_sent(*, sent: list[tuple[int, str, int | None]]) -> set[int]:
    """T2 for a batch of (message id, provider id, attempt or None): sent + provider id +
    release the senders + tell campaigns, in one transaction. Returns the ids recorded now;
    a message another attempt already settled is left alone."""
    now = timezone.now()
    wanted = {mid: (provider_id, attempt) for mid, provider_id, attempt in sent}
    with transaction.atomic():
        locked = lock_with_senders(
            Message.objects.filter(id__in=wanted, status__in=[S.SENDING, S.UNKNOWN])
        )
        # Fencing by attempt number stops a stalled worker from overwriting the outcome of
        # a later attempt the reconciler allowed.
        messages = [m for m in locked if wanted[m.id][1] in (None, m.attempts)]
        if not messages:
            return set()
        provider_ids = {m.id: wanted[m.id][0] for m in messages}
        Message.objects.filter(id__in=provider_ids).update(
            status=S.SENT,
            sent_at=now,
            hold_reason="",
            provider_message_id=Case(
                *[When(id=mid, then=Value(pid)) for mid, pid in provider_ids.items()],
                output_field=Message._meta.get_field("provider_message_id"),
            ),
        )
        for message in messages:
            message.status, message.sent_at, message.hold_reason = S.SENT, now, ""
            message.provider_message_id = provider_ids[message.id]
        limits.tokens_release(held=[(m.sender, m.id) for m in messages])
        Conversation.objects.filter(id__in={m.conversation_id for m in messages}).update(
            last_outbound_at=now
        )
        MessageEvent.objects.bulk_create(
            [
                MessageEvent(message=m, status=S.SENT, detail=m.provider_message_id[:300])
                for m in messages
            ]
        )
        outreach_events().messages_sent(messages)
    return set(provider_ids)


def message_record_sent(
    *, message_id: int, provider_message_id: str, attempt: int | None = None
) -> bool:
    """Record one message as sent (see messages_record_sent); False if already settled."""
    return bool(messages_record_sent(sent=[(message_id, provider_message_id, attempt)]))


@retry_on_conflict
def record_not_sent(
    claim: Claim, exc: ChannelError, *, retry_in: float | None, backoff: bool
) -> None:
    """The platform proved the message did not go out: back to the queue, cap unit refunded."""
    now = timezone.now()
    not_before = now + timedelta(seconds=retry_in) if retry_in else None
    with transaction.atomic():
        if not _this_attempt(
            claim.message.id, claim.message.attempts, [S.SENDING, S.UNKNOWN]
        ).update(
            status=S.QUEUED,
            not_before=not_before,
            enqueued_at=None,
            error_code=exc.code,
            error_reason=exc.reason[:1000],
            hold_reason=f"retrying after {exc.code}: {exc.reason}"[:200],
        ):
            return
        limits.token_release(
            sender=claim.sender,
            message_id=claim.message.id,
            refund_day=claim.day,
            backoff_until=not_before if backoff else None,
        )
        event(claim.message, S.QUEUED, f"{exc.code}: {exc.reason}")
        # Campaigns may have stopped or paused while it was in flight: let them hold it.
        outreach_events().message_requeued(MessageRequeued(claim.message))


@retry_on_conflict
def record_failed(claim: Claim, exc: ChannelError) -> None:
    with transaction.atomic():
        if not _this_attempt(
            claim.message.id, claim.message.attempts, [S.SENDING, S.UNKNOWN]
        ).update(status=S.FAILED, error_code=exc.code, error_reason=exc.reason[:1000]):
            return
        # A rejected message never arrived, so it does not count against the cap.
        limits.token_release(sender=claim.sender, message_id=claim.message.id, refund_day=claim.day)
        event(claim.message, S.FAILED, f"{exc.code}: {exc.reason}")
        if isinstance(exc, Bounced) or exc.code.startswith(SOFT_SEND_CODE):
            # The address does not exist (or stayed unreachable): never again, anywhere.
            bounce_suppress(
                identity=claim.message.conversation.identity,
                hard=isinstance(exc, Bounced),
                at=timezone.now(),
            )
        claim.message.status, claim.message.error_reason = S.FAILED, exc.reason
        claim.message.error_code = exc.code
        outreach_events().message_failed(
            MessageFailed(claim.message, refused=isinstance(exc, PolicyWindowClosed))
        )


def message_mark_unknown(*, message_id: int, reason: str, attempt: int | None = None) -> None:
    """The outcome is unknown: keep the sender's in-flight slot until the reconciler decides."""
    with transaction.atomic():
        if _this_attempt(message_id, attempt, [S.SENDING]).update(
            status=S.UNKNOWN,
            error_code="ambiguous",
            error_reason=reason[:1000],
            hold_reason="outcome unknown: checking with the platform",
        ):
            event(message_id, S.UNKNOWN, reason)


def manual_task_complete(*, task: ManualTask, actor=None) -> None:
    """A rep sent it by hand: record it like any other send, so the sequence moves on."""
    with transaction.atomic():
        if ManualTask.objects.filter(id=task.id, done_at=None).update(
            done_at=timezone.now(), assignee=actor
        ):
            Message.objects.filter(id=task.message_id, status=S.QUEUED).update(status=S.SENDING)
            message_record_sent(
                message_id=task.message_id, provider_message_id=f"manual-{task.message_id}"
            )
