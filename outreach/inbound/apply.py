"""Applying an inbound item (APPLY, by kind): a reply recorded, labelled and handed up
(outreach/seams.py), receipts, late failures, bounces, opt-outs, edits, unsends, reactions,
handovers."""

import dataclasses
import logging
import uuid
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from contacts.models import Contact, Identity
from contacts.services import address_suppress, identity_grant_consent, identity_opt_out
from outreach.channels import get_channel
from outreach.channels.base import ChannelError, InboundItem
from outreach.channels.registry import channel_type
from outreach.channels.whatsapp.backend import ECOSYSTEM, NOT_ON_WHATSAPP
from outreach.engagement import engagement_announce
from outreach.inbound.match import (
    bounce_of,
    conversation_of,
    email_lead_identity,
    identity_of,
    in_scope,
    inbound_fields,
    inbound_message,
    iso_time,
    known_message,
    our_message,
    received_at,
    reply_conversation,
    sender_of,
)
from outreach.inbound_media import inbound_media_discard, inbound_media_enqueue
from outreach.inbox.services import message_classify_new
from outreach.models import (
    Conversation,
    InboundEvent,
    Message,
    MessageEvent,
    SenderAccount,
)
from outreach.seams import MessageFailed, ReplyRecorded, outreach_events
from outreach.sending.create import conversation_get_or_create
from outreach.sending.record import message_record_sent
from outreach.suppress import (
    bounce_suppress,
    sent_message_requeue,
    soft_bounce_retry,
    soft_bounces,
)
from outreach.unsubscribe import email_unsubscribe, opt_out, unsubscribe_asked

log = logging.getLogger(__name__)
S = Message.Status
OUT = Message.Direction.OUTBOUND


# What an inbound reply releases: messages the platform's rules were holding.
POLICY_HOLD = "platform policy"


def _opened(conversation: Conversation, at: datetime) -> None:
    """The contact wrote: the window reopens and held messages may go."""
    Conversation.objects.filter(id=conversation.id).update(last_inbound_at=at)
    Message.objects.filter(
        conversation=conversation, status=S.QUEUED, hold_reason__startswith=POLICY_HOLD
    ).update(not_before=None, hold_reason="", enqueued_at=None)


def _conversation_opened(identity: Identity, sender: SenderAccount, at: datetime) -> Conversation:
    """The conversation with this person, opened at `at` (_opened). One made now is inserted
    opened, and holds no message of ours to release."""
    conversation, new = conversation_get_or_create(identity.id, sender.id, last_inbound_at=at)
    if not new:
        _opened(conversation, at)
    return conversation


def _ignore(event: InboundEvent, item: InboundItem) -> str:
    return f"ignored {item.kind}"


def _message(event: InboundEvent, item: InboundItem) -> str:
    channel = event.provider
    ours = our_message(channel, item.refers_to, event.sender)
    if item.kind in ("bounce", "complaint"):
        ours = bounce_of(ours, item, event)
        if ours is None:
            return "unmatched"
    sender = ours.sender if ours else sender_of(event, item)
    # Email threads by In-Reply-To/References; other channels by the platform's user id.
    identity: Identity | None
    if ours is not None:
        identity = ours.conversation.identity
    else:
        identity = identity_of(channel, item, create=channel != "email")
    if identity is None and channel == "email" and sender and item.kind == "message":
        # Not a reply to us: maybe a new lead writing to a watched address (leads@…).
        asked = unsubscribe_asked(subject=item.name, text=item.text)
        identity = None if asked else email_lead_identity(item, sender)
    if sender is None or identity is None:
        return "unmatched"
    kind = {"message": "reply", "auto_reply": "auto_reply", "bounce": "bounce"}.get(
        item.kind, item.kind
    )
    asks = kind in ("reply", "auto_reply") and _asks_to_unsubscribe(channel, item, kind)
    if asks:
        kind = "opt_out"
    opens = kind in ("reply", "opt_out")
    # A conversation made for this message is inserted opened, and holds nothing yet: no
    # message of ours for _opened to release, no copy of this message (known_message).
    conversation, new = reply_conversation(
        identity, sender, ours, opened_at=received_at(item) if opens else None
    )
    # Read again by everything the reply goes through.
    conversation.identity, conversation.sender = identity, sender
    if asks:
        opt_out(channel=channel, address=identity.value, source=f"{channel} reply", note=item.text)
    detail = kind
    if opens and not new:
        _opened(conversation, received_at(item))
    if kind == "bounce" and (new or not known_message(channel, conversation, item)):
        detail = _bounce(identity, ours, item)  # the same bounce mail twice counts once
    if kind == "complaint":
        _complaint(identity, item)
    if item.handover == "standby":
        _thread_owner(conversation, "other", received_at(item), only_if_ours=True)
    if not new and known_message(channel, conversation, item):
        return "duplicate message"  # the same message under another event (standby, edit)
    fields = {
        "conversation": conversation,
        "sender": sender,
        "channel": channel,
        "direction": Message.Direction.INBOUND,
        "status": S.RECEIVED,
        "subject": item.name[:300] if channel == "email" else "",
        "body": item.text,
        "attachments": item.attachments,
        "sent_at": received_at(item),
        "error_code": item.error_code[:64],
    }
    kept = inbound_fields(channel, conversation, item, ours, new_conversation=new)
    message = Message.objects.create(**(fields | kept))
    MessageEvent.objects.create(message=message, status=S.RECEIVED, detail=detail)
    inbound_media_enqueue(message)  # platform media links expire: keep our own copy
    _answer_callback(channel, sender, item)
    # A complaint stops every sequence of the contact, as a "stop" reply does.
    seam_kind = "opt_out" if kind == "complaint" else kind
    intent = message_classify_new(message=message, kind=seam_kind)
    outreach_events().reply_recorded(
        ReplyRecorded(
            message=message,
            kind=seam_kind,
            intent=intent.label,
            return_date=intent.return_date,
            replies_to=ours,
        )
    )
    if kind == "reply":
        engagement_announce(
            event=event,
            item=item,
            identity=identity,
            sender=sender,
            conversation=conversation,
            at=received_at(item),
            message=message,
            new_conversation=new,
        )
    return kind


def _asks_to_unsubscribe(channel: str, item: InboundItem, kind: str) -> bool:
    """In the subject (email only: elsewhere item.name is the person's name) or the text; an
    auto-reply only when a mail client's unsubscribe button wrote it."""
    subject = item.name if channel == "email" else ""
    return unsubscribe_asked(subject=subject, text=item.text, automatic=kind == "auto_reply")


def _bounce(identity: Identity, ours: Message | None, item: InboundItem) -> str:
    """A hard bounce fails our message and suppresses the address; a soft one sends it again
    later, until SOFT_BOUNCE_LIMIT of them (the inbound message's event records each) make it
    hard. Returns that event's detail: "bounce" or "soft bounce"."""
    # This soft bounce's own event is written after this: count it as one more.
    count = soft_bounces(identity) + 1
    hard = item.hard or count >= settings.SOFT_BOUNCE_LIMIT
    code = f"bounce_{item.error_code or 'unknown'}"
    if ours is not None and ours.status in (S.SENT, S.DELIVERED):
        if hard:
            _fail(ours, code, item.text)
        else:
            soft_bounce_retry(message=ours, code=code, reason=item.text, count=count)
    bounce_suppress(identity=identity, hard=hard, at=received_at(item))
    return "bounce" if item.hard else "soft bounce"


def _complaint(identity: Identity, item: InboundItem) -> None:
    """A spam complaint: the person opted out, and the address is never mailed again. The
    inbound message it leaves on the sender's conversation counts against that sender."""
    day = timezone.localdate(received_at(item)).isoformat()
    identity_opt_out(identity=identity, source="email spam complaint", note=item.text[:200])
    address_suppress(channel="email", value=identity.value, reason=f"spam complaint on {day}")


def _fail(message: Message, code: str, reason: str) -> None:
    sent = [S.SENT, S.DELIVERED, S.READ]
    # Locked first: campaigns counts a delivered message that fails differently.
    previous = (
        Message.objects.select_for_update()
        .filter(id=message.id, status__in=sent)
        .values_list("status", flat=True)
        .first()
    )
    if previous and Message.objects.filter(id=message.id, status=previous).update(
        status=S.FAILED, error_code=code[:64], error_reason=reason[:1000]
    ):
        MessageEvent.objects.create(message=message, status=S.FAILED, detail=f"{code}: {reason}")
        message.status, message.error_code, message.error_reason = S.FAILED, code[:64], reason
        outreach_events().message_failed(MessageFailed(message, previous=previous))


def _settle(event: InboundEvent, item: InboundItem) -> bool:
    """A status that carries our idempotency key proves a send whose answer was lost (a
    timeout, a crash after the request) arrived: record it as sent, no review, no resend."""
    if not item.callback_key or not item.refers_to:
        return False
    try:
        key = uuid.UUID(item.callback_key)
    except ValueError:
        return False
    message = Message.objects.filter(
        channel=event.provider,
        direction=OUT,
        idempotency_key=key,
        status__in=[S.SENDING, S.UNKNOWN],
    ).first()
    return message is not None and message_record_sent(
        message_id=message.id, provider_message_id=item.refers_to[0]
    )


def _delayed(event: InboundEvent, item: InboundItem) -> str:
    """A delay warning: the server is still trying. Kept, never counted as a bounce."""
    return "delayed: not a bounce"


def _sent(event: InboundEvent, item: InboundItem) -> str:
    return "settled a lost answer: sent" if _settle(event, item) else "sent: already known"


def _echo(event: InboundEvent, item: InboundItem) -> str:
    """Our own message echoed back (Messenger message_echoes): never a reply, but it may
    settle a send whose answer was lost."""
    return "echo: settled a lost answer" if _settle(event, item) else "echo"


def _receipt(event: InboundEvent, item: InboundItem) -> str:
    """Delivered/read only move forward; a late or out-of-order receipt never regresses."""
    _settle(event, item)
    new, before = (
        (S.DELIVERED, [S.SENT]) if item.kind == "delivered" else (S.READ, [S.SENT, S.DELIVERED])
    )
    rows = Message.objects.filter(channel=event.provider, direction=OUT, status__in=before)
    if item.read_through:
        # X: the last message read, so every earlier one of that conversation was read too.
        last = our_message(event.provider, item.refers_to)
        if last is None or last.sent_at is None:
            return "no message to update"
        rows = rows.filter(conversation=last.conversation_id, sent_at__lte=last.sent_at)
    elif item.watermark is not None and item.from_id:
        # Meta: everything sent before the watermark, whether or not its mid is listed.
        mark = datetime.fromtimestamp(item.watermark, tz=UTC)
        rows = rows.filter(
            Q(provider_message_id__in=item.refers_to)
            | Q(conversation__identity__platform_user_id=item.from_id, sent_at__lte=mark)
        )
    elif item.refers_to:
        rows = rows.filter(provider_message_id__in=item.refers_to)
    else:
        return "no message to update"
    # Locked in id order, so which ones were merely "sent" before is known for certain.
    found = dict(rows.select_for_update(of=("self",)).order_by("id").values_list("id", "status"))
    ids = list(found)
    Message.objects.filter(id__in=ids, status__in=before).update(status=new)
    MessageEvent.objects.bulk_create([MessageEvent(message_id=i, status=new) for i in ids])
    newly = [i for i, status in found.items() if status == S.SENT]
    if newly:
        outreach_events().messages_delivered(newly)
    return f"{new}: {len(ids)}"


# A late `failed` status says the same as the send's answer would have (whatsapp/backend.py).
READABLE = {"whatsapp_131049": ECOSYSTEM, "whatsapp_131026": NOT_ON_WHATSAPP}
ECOSYSTEM_CODE = "whatsapp_131049"


def _failed(event: InboundEvent, item: InboundItem) -> str:
    """WhatsApp's late `failed` status: the 200 we got only meant "accepted"."""
    _settle(event, item)
    ours = our_message(event.provider, item.refers_to)
    if ours is None:
        return "failed status for an unknown message"
    code = f"{event.provider}_{item.error_code}"
    readable = READABLE.get(code, "")
    if code == ECOSYSTEM_CODE and ours.error_code != code:
        # As the send's own 131049 answer (outreach/sending/deliver.py): this person gets
        # this message once more, 24 h after the failure; a second 131049 fails it.
        retry_at = received_at(item) + timedelta(hours=24)
        when = timezone.localtime(retry_at).strftime("%Y-%m-%d %H:%M %Z")
        hold = f"{ECOSYSTEM}: tried once more after {when}"
        if sent_message_requeue(
            message=ours,
            code=code,
            reason=f"{readable}. {item.error}",
            retry_at=retry_at,
            hold=hold,
        ):
            return "requeued after 24 h"
    _fail(ours, code, f"{readable}. {item.error}" if readable else item.error or code)
    if item.error_code == "131050":  # the contact stopped marketing messages from us
        identity_opt_out(identity=ours.conversation.identity, source="whatsapp 131050")
    if code == "whatsapp_131026":  # not on WhatsApp: as a hard bounce, never again there
        bounce_suppress(identity=ours.conversation.identity, hard=True, at=received_at(item))
    return "failed"


def _start(event: InboundEvent, item: InboundItem) -> str:
    """Telegram /start <token>: bind this chat to the contact the deep link named."""
    sender = sender_of(event, item)
    contact_id = channel_type(event.provider).contact_from_start_token(item.start_token)
    identity = None
    if contact_id and Contact.objects.filter(id=contact_id).exists():
        Identity.objects.filter(channel=event.provider, platform_user_id=item.from_id).exclude(
            contact_id=contact_id
        ).update(platform_user_id="")
        identity = Identity.objects.filter(contact_id=contact_id, channel=event.provider).first()
        if identity is None:
            identity = Identity.objects.create(
                contact_id=contact_id,
                channel=event.provider,
                value=(item.from_handle.lower() or item.from_id)[:255],
            )
        Identity.objects.filter(id=identity.id).update(platform_user_id=item.from_id)
    else:
        identity = identity_of(event.provider, item, create=True)
    if identity is None:
        return "unmatched"
    identity_grant_consent(identity=identity, source="telegram /start")
    if sender is not None:
        conversation = _conversation_opened(identity, sender, received_at(item))
        engagement_announce(
            event=event,
            item=item,
            identity=identity,
            sender=sender,
            conversation=conversation,
            at=received_at(item),
        )
    return "bound" if contact_id else "started"


def _blocked(event: InboundEvent, item: InboundItem) -> str:
    identity = identity_of(event.provider, item, create=False)
    if identity is None:
        return "unmatched"
    # Cancelled first, so they keep this reason (the opt-out then stops the sequences).
    cancelled = _cancel_queued(identity, event.provider, "the contact blocked the bot")
    identity_opt_out(identity=identity, source=f"{event.provider}: blocked the bot")
    return f"blocked: {cancelled} queued message(s) cancelled" if cancelled else "blocked"


def _cancel_queued(identity: Identity, channel: str, reason: str) -> int:
    """Nothing more can reach this identity on this channel: its unsent messages are cancelled
    now (campaigns stops the sequences they belong to), not when each one's turn comes."""
    queued = list(
        Message.objects.select_for_update()
        .filter(
            conversation__identity=identity,
            channel=channel,
            direction=OUT,
            status__in=[S.QUEUED, S.PAUSED],
        )
        .order_by("id")
    )
    for message in queued:
        Message.objects.filter(id=message.id).update(
            status=S.CANCELLED, hold_reason=reason[:200], enqueued_at=None
        )
        MessageEvent.objects.create(message=message, status=S.CANCELLED, detail=reason)
        message.status, message.hold_reason = S.CANCELLED, reason
        outreach_events().message_cancelled(message)
    return len(queued)


def _comment(event: InboundEvent, item: InboundItem) -> str:
    """A comment allows one private reply within 7 days (Instagram, Messenger)."""
    sender = sender_of(event, item)
    if sender is not None and item.from_id and item.from_id == sender.handle:
        return "echo"  # our own comment (a public reply): never a lead, never answered
    if our_message(event.provider, item.refers_to):
        return "echo"
    identity = identity_of(event.provider, item, create=True)
    if sender is None or identity is None:
        return "unmatched"
    at = received_at(item)
    comment = {"comment_id": item.refers_to[0] if item.refers_to else "", "comment_at": at}
    conversation, new = conversation_get_or_create(identity.id, sender.id, **comment)
    if not new:  # one made now is inserted with the comment, and holds nothing to release
        Conversation.objects.filter(id=conversation.id).update(**comment)
        Message.objects.filter(
            conversation=conversation, status=S.QUEUED, hold_reason__startswith=POLICY_HOLD
        ).update(not_before=None, hold_reason="", enqueued_at=None)
        conversation.refresh_from_db()
    engagement_announce(
        event=event,
        item=item,
        identity=identity,
        sender=sender,
        conversation=conversation,
        at=at,
    )
    return "comment"


def _referral(event: InboundEvent, item: InboundItem) -> str:
    """A click on a click-to-message ad (or an m.me ref link) into an existing thread: the
    person started it, so the standard window opens."""
    sender = sender_of(event, item)
    identity = identity_of(event.provider, item, create=True)
    if sender is None or identity is None:
        return "unmatched"
    conversation = _conversation_opened(identity, sender, received_at(item))
    engagement_announce(
        event=event,
        item=item,
        identity=identity,
        sender=sender,
        conversation=conversation,
        at=received_at(item),
    )
    return "referral"


def _number_changed(event: InboundEvent, item: InboundItem) -> str:
    """WhatsApp: the person moved to a new number. Their identity moves with them (history
    and conversations kept), so a reply from the new number is the same conversation."""
    identity = identity_of(event.provider, item, create=False)
    if identity is None:
        return "unmatched"
    value = f"+{item.new_id}"
    taken = (
        Identity.objects.filter(channel=event.provider)
        .filter(Q(platform_user_id=item.new_id) | Q(value=value))
        .exclude(id=identity.id)
        .first()
    )
    if taken is not None:
        log.warning(
            "%s changed number to %s, which identity %s already has: both left as they are",
            identity,
            value,
            taken.id,
        )
        return "number changed: new number already known"
    Identity.objects.filter(id=identity.id).update(platform_user_id=item.new_id, value=value)
    return "number changed"


def _edited(event: InboundEvent, item: InboundItem) -> str:
    """The contact edited a message: the stored text becomes the new one and the old text
    goes to the edit history. Never a second reply. An edit of a message we never got (it
    is still queued, or was sent before we listened) is the first we hear of it: a reply."""
    message = inbound_message(event, item, [item.message_id])
    if message is None and item.subtype == "start":
        return "edit of a /start: nothing to do"  # never a second start, never a reply
    if message is None:
        outcome = _message(event, dataclasses.replace(item, kind="message"))
        return f"edit of an unknown message: {outcome}"
    if message.deleted_at is not None:
        return "edit of an unsent message: kept redacted"
    if item.text == message.body:
        return "edit: text unchanged"
    at = message.sent_at.isoformat() if message.sent_at else ""
    if message.edits:
        at = message.edits[-1].get("replaced_at", at)
    message.edits = [
        *message.edits,
        {"text": message.body, "at": at, "replaced_at": iso_time(item)},
    ]
    message.body = item.text
    message.save(update_fields=["body", "edits"])
    MessageEvent.objects.create(message=message, status=S.RECEIVED, detail="edited")
    return "edited"


def _deleted(event: InboundEvent, item: InboundItem) -> str:
    """The contact unsent a message: its text, edits and media are redacted, the fact and
    the time stay (it still counted as a reply when it came)."""
    _redact_stored_events(event.provider, item.message_id)
    message = inbound_message(event, item, [item.message_id])
    if message is None:
        return "unsend of a message not stored (redacted when it arrives)"
    inbound_media_discard(Message.objects.filter(id=message.id))  # the stored copies too
    message.body, message.edits, message.attachments, message.payload = "", [], [], {}
    message.deleted_at = message.deleted_at or received_at(item)
    message.save(update_fields=["body", "edits", "attachments", "payload", "deleted_at"])
    MessageEvent.objects.create(message=message, status=S.RECEIVED, detail="unsent by contact")
    return "unsent: redacted"


def _redact_stored_events(provider: str, message_id: str) -> None:
    """The stored copy of the unsent message (Meta's event id is its mid) loses its text
    and media too, and its raw body; the row stays, so a repeat delivery is still known."""
    for stored in InboundEvent.objects.select_for_update().filter(
        provider=provider, provider_event_id=message_id
    ):
        stored.payload = stored.payload | {"text": "", "attachments": [], "payload": {}}
        stored.raw = b""  # the body as received holds the same text
        stored.save(update_fields=["payload", "raw"])


def _reaction(event: InboundEvent, item: InboundItem) -> str:
    """An emoji on one of our messages: kept on that message, never a reply."""
    rows = Message.objects.filter(channel=event.provider, provider_message_id__in=item.refers_to)
    rows = in_scope(rows, event, item)
    message = rows.select_for_update().order_by("-id").first() if item.refers_to else None
    if message is None:
        return "reaction on a message we do not have"
    reaction = {"emoji": item.emoji, "action": item.action or "react", "at": iso_time(item)}
    message.reactions = [*message.reactions, reaction]
    message.save(update_fields=["reactions"])
    return f"reaction {reaction['action']}"


def _handover(event: InboundEvent, item: InboundItem) -> str:
    """Meta's handover protocol: who owns the thread now. A request only asks; the owner
    (us) keeps the thread until it passes it."""
    sender = sender_of(event, item)
    identity = identity_of(event.provider, item, create=False)
    if sender is None or identity is None:
        return f"{item.handover}_thread_control: unmatched"
    conversation = conversation_of(identity, sender)
    if item.handover in ("pass", "take"):
        _thread_owner(conversation, item.thread_owner, received_at(item))
    owner = conversation.thread_owner or "us"
    log.info("%s_thread_control on %s: owner %s", item.handover, conversation, owner)
    return f"{item.handover}_thread_control: owner {owner}"


def _thread_owner(
    conversation: Conversation, owner: str, at: datetime, *, only_if_ours: bool = False
) -> None:
    """Record who owns the thread since `at`. Events may be processed out of order: an older
    one never overrides what a newer one said."""
    rows = (
        Conversation.objects.filter(id=conversation.id)
        .filter(Q(thread_owner_since=None) | Q(thread_owner_since__lte=at))
        .exclude(thread_owner=owner)
    )
    if only_if_ours:
        rows = rows.filter(thread_owner="")
    if rows.update(thread_owner=owner, thread_owner_since=at) and not owner:
        # The thread is ours again: what waited for it may go now.
        Message.objects.filter(
            conversation=conversation, status=S.QUEUED, hold_reason__startswith=POLICY_HOLD
        ).update(not_before=None, hold_reason="", enqueued_at=None)
    conversation.refresh_from_db(fields=["thread_owner", "thread_owner_since"])


def _answer_callback(channel: str, sender: SenderAccount, item: InboundItem) -> None:
    """Telegram shows a spinner on the pressed button until the bot answers the query."""
    if not item.callback_query_id:
        return
    backend = get_channel(channel)

    def send() -> None:
        try:
            backend.answer_callback(
                credentials=sender.credentials, callback_query_id=item.callback_query_id
            )
        except ChannelError as exc:  # the choice is stored; only the spinner stays longer
            log.warning("answerCallbackQuery failed for %s: %s", sender, exc.reason)

    transaction.on_commit(send)


def _unsubscribed(event: InboundEvent, item: InboundItem) -> str:
    """An ESP's unsubscribe event (its own link, or List-Unsubscribe handled by the ESP):
    the same opt-out as our one-click link (deliverability/esp.py)."""
    email_unsubscribe(address=item.from_handle, source=item.subtype or "ESP unsubscribe")
    return "opt_out"


def _unknown(event: InboundEvent, item: InboundItem) -> str:
    log.warning(
        "%s event %s of a kind not handled (%s): stored, nothing applied",
        event.provider,
        event.provider_event_id,
        item.subtype or "?",
    )
    return f"unknown kind {item.subtype or '?'}: stored"


APPLY = {
    "message": _message,
    "auto_reply": _message,
    "bounce": _message,
    "complaint": _message,
    "delayed": _delayed,
    "sent": _sent,
    "echo": _echo,
    "delivered": _receipt,
    "read": _receipt,
    "failed": _failed,
    "start": _start,
    "blocked": _blocked,
    "comment": _comment,
    "referral": _referral,
    "number_changed": _number_changed,
    "edited": _edited,
    "deleted": _deleted,
    "reaction": _reaction,
    "handover": _handover,
    "unsubscribed": _unsubscribed,
    "unknown": _unknown,
}


def item_apply(event: InboundEvent, item: InboundItem) -> str:
    """Apply one stored item by its kind; returns what was done (the event's outcome)."""
    return APPLY.get(item.kind, _ignore)(event, item)
