"""What reps do in the inbox, and labelling each inbound reply with its intent."""

import logging
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.access import owners_assignable_by
from intent import IncomingReply, get_classifier
from outreach.inbox import hooks
from outreach.inbox.models import ConversationNote, ConversationState, MessageIntent
from outreach.models import Conversation, Message
from outreach.seams import IntentCorrected, outreach_events
from outreach.sending.create import messages_create
from outreach.sending.history import event

log = logging.getLogger(__name__)


def conversation_state(conversation: Conversation) -> ConversationState:
    state, _ = ConversationState.objects.get_or_create(conversation=conversation)
    return state


# --- intent ---------------------------------------------------------------------------------


def message_classify(*, message: Message, kind: str = "reply") -> MessageIntent:
    """Label an inbound message once (idempotent), right after recording it; the label then
    travels up with OutreachEvents.reply_recorded. outreach.inbound.apply._message, which
    records the message in the same transaction, calls message_classify_new directly."""
    found = MessageIntent.objects.filter(message_id=message.id).first()
    if found is not None:
        return found
    return message_classify_new(message=message, kind=kind)


def message_classify_new(*, message: Message, kind: str = "reply") -> MessageIntent:
    """message_classify for a message recorded in this very transaction
    (outreach.inbound.apply._message), which cannot have a label yet: none is looked for."""
    reply = IncomingReply(
        body=message.body,
        subject=message.subject,
        channel=message.channel,
        kind=kind,
        received_on=timezone.localdate(message.sent_at or timezone.now()),
    )
    try:
        result = get_classifier().classify(reply)
        label, back, rule = result.label, result.return_date, result.rule
    except Exception:
        # A broken classifier must never lose the reply or stop the reply path.
        log.exception("intent classifier failed on message %s", message.id)
        label, back, rule = MessageIntent.Label.OTHER, None, "classifier error"
    if label not in MessageIntent.Label.values:
        label, rule = MessageIntent.Label.OTHER, f"unknown label {label!r}"
    intent = MessageIntent.objects.create(
        message=message,
        label=label,
        return_date=back,
        rule=rule[:100],
        classifier=settings.INTENT_CLASSIFIER[:200],
    )
    _state_after_inbound(message, label)
    return intent


def _state_after_inbound(message: Message, label: str) -> None:
    """A new message from the contact reopens the conversation and ends a snooze."""
    # One upsert (INSERT … ON CONFLICT DO UPDATE) where get-or-create then update took five
    # statements (a savepoint around the insert); read_at stays as it was.
    ConversationState.objects.bulk_create(
        [ConversationState(conversation_id=message.conversation_id, intent=label)],
        update_conflicts=True,
        unique_fields=["conversation"],
        update_fields=["intent", "snoozed_until", "resolved_at"],
    )


def intent_consequences(*, intent: MessageIntent, label: str) -> list[str]:
    """What relabelling this reply would do that a rep should confirm first (see hooks)."""
    if label == intent.effective_label:
        return []
    return [line for say in hooks.intent_consequences for line in say(intent.message, label)]


def intent_correct(
    *, intent: MessageIntent, label: str, by, confirmed: bool = False
) -> MessageIntent:
    """A rep says what the reply really meant; the classifier's label is kept beside it.

    confirmed: the rep saw and accepted intent_consequences(); without it campaigns does
    nothing final, such as opting the contact out.
    """
    if label not in MessageIntent.Label.values:
        raise ValueError(f"unknown intent {label!r}")
    with transaction.atomic():
        previous = (
            MessageIntent.objects.select_for_update()
            .filter(id=intent.id)
            .values_list("corrected_label", "label")
            .get()
        )
        MessageIntent.objects.filter(id=intent.id).update(
            corrected_label=label, corrected_by=by, corrected_at=timezone.now()
        )
        intent.refresh_from_db()
        message = intent.message
        latest = message.conversation.messages.filter(direction=Message.Direction.INBOUND).first()
        if latest is None or latest.id == message.id:
            ConversationState.objects.filter(conversation_id=message.conversation_id).update(
                intent=label
            )
        outreach_events().intent_corrected(
            IntentCorrected(
                message=message,
                intent=label,
                previous=previous[0] or previous[1],
                by=by,
                confirmed=confirmed,
                return_date=intent.return_date,
            )
        )
    return intent


# --- rep actions ----------------------------------------------------------------------------


def conversation_reply(
    *,
    conversation: Conversation,
    author,
    body: str,
    subject: str = "",
    send_at: datetime | None = None,
) -> Message:
    """Queue a person's reply on the normal send path (limits, policy gate), ahead of the
    sender's campaign backlog and not held by the sending window.

    The one way a rep answers, from the inbox and from the API. human_written lets the Meta
    backend use the HUMAN_AGENT tag within 7 days. send_at ("send later"): the message
    waits with not_before, which the offer and the claim both respect, then goes through
    the same claim and limits as any other.
    """
    body = body.strip()
    if not body:
        raise ValueError("A reply needs some text.")
    later = send_at is not None and send_at > timezone.now()
    message = Message(
        conversation=conversation,
        sender_id=conversation.sender_id,
        channel=conversation.sender.channel,
        direction=Message.Direction.OUTBOUND,
        status=Message.Status.QUEUED,
        subject=subject,
        body=body,
        human_written=True,
        author=author,
        not_before=send_at if later else None,
        hold_reason=SCHEDULED if later else "",
    )
    with transaction.atomic():
        (message,) = messages_create([message])
        conversation_mark_read(conversation=conversation)
    return message


SCHEDULED = "scheduled by a rep"


def scheduled_reply_cancel(*, message: Message, by) -> bool:
    """Cancel a rep's scheduled reply that has not gone yet. False if it is no longer
    waiting (its time came and a worker claimed it): the conditional update under the
    row's lock decides, as the claim's does."""
    with transaction.atomic():
        cancelled = Message.objects.filter(
            id=message.id, status=Message.Status.QUEUED, human_written=True
        ).update(status=Message.Status.CANCELLED, hold_reason=f"cancelled by {by}"[:200])
        if cancelled:
            event(message, Message.Status.CANCELLED, f"scheduled reply cancelled by {by}")
    return bool(cancelled)


def conversation_mark_read(*, conversation: Conversation, at: datetime | None = None) -> None:
    state = conversation_state(conversation)
    ConversationState.objects.filter(id=state.id).update(read_at=at or timezone.now())


def _may_name(by, user) -> bool:
    return owners_assignable_by(by).filter(pk=user.pk).exists()


def conversation_assign(
    *, conversation: Conversation, user, only_if_unassigned: bool = False, by=None
):
    """Assign to ``user`` (None: nobody). ``by``, the person doing it, may only name someone
    they could make an owner: being assigned a conversation lets one read it."""
    if by is not None and user is not None and not _may_name(by, user):
        raise ValueError(f"{by} may not assign conversations to {user}.")
    rows = Conversation.objects.filter(id=conversation.id)
    if only_if_unassigned:
        rows = rows.filter(assigned_to=None)
    if rows.update(assigned_to=user):
        conversation.assigned_to = user


def conversation_note_add(*, conversation: Conversation, author, body: str) -> ConversationNote:
    return ConversationNote.objects.create(conversation=conversation, author=author, body=body)


def conversation_snooze(*, conversation: Conversation, until: datetime | None) -> None:
    """Hide it from the open inbox until then (None: wake it now)."""
    state = conversation_state(conversation)
    ConversationState.objects.filter(id=state.id).update(snoozed_until=until)


def conversation_resolve(*, conversation: Conversation, resolved: bool = True) -> None:
    state = conversation_state(conversation)
    ConversationState.objects.filter(id=state.id).update(
        resolved_at=timezone.now() if resolved else None
    )
