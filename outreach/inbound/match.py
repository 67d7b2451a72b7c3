"""Matching an inbound item: the sender account it came to, our message it refers to, the
identity and conversation it belongs to, and an inbound message already recorded."""

import logging
import re
import uuid
from datetime import UTC, datetime

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from contacts import normalize
from contacts.models import Contact, Identity
from outreach.channels.base import InboundItem
from outreach.channels.registry import channel_type
from outreach.engagement import email_lead_wanted
from outreach.models import (
    CONVERSATION_SCOPED_IDS,
    Conversation,
    InboundEvent,
    Message,
    SenderAccount,
)
from outreach.sending.create import conversation_get_or_create

log = logging.getLogger(__name__)
OUT = Message.Direction.OUTBOUND
# Our own Message-ID header, "<idempotency key@sender's domain>"
# (outreach/channels/email/backend.py message_id_for). An ESP that answers its own id
# (Postmark's MessageID, SendGrid's anymail_id) keeps that as provider_message_id, so a
# reply naming our header is found by the key instead.
OUR_HEADER_ID = re.compile(r"^<([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})@")


def sender_of(event: InboundEvent, item: InboundItem) -> SenderAccount | None:
    if event.sender_id:
        return event.sender
    senders = SenderAccount.objects.filter(channel=event.provider)
    by_handle = senders.filter(handle__iexact=item.account_id).first() if item.account_id else None
    if by_handle:
        return by_handle
    for address in item.recipients:  # email: an alias or Cc delivered to one of our mailboxes
        by_handle = senders.filter(handle__iexact=address).first()
        if by_handle:
            return by_handle
    only = list(senders[:2])
    if len(only) == 1:
        return only[0]
    if item.from_id and event.provider != "email":
        # Several accounts and the event names none (Telegram's shared URL): the one account
        # that already has a conversation with this person, if only one has.
        talked = set(
            Conversation.objects.filter(
                sender__channel=event.provider, identity__platform_user_id=item.from_id
            )
            .order_by()
            .values_list("sender_id", flat=True)
            .distinct()[:2]
        )
        if len(talked) == 1:
            return senders.filter(id=talked.pop()).first()
    return None


def our_message(
    channel: str, refers_to: list[str], sender: SenderAccount | None = None
) -> Message | None:
    if not refers_to:
        return None
    named = Q(provider_message_id__in=refers_to)
    keys: dict[uuid.UUID, int] = {}
    if channel == "email":
        for index, ref in enumerate(refers_to):
            if matched := OUR_HEADER_ID.match(ref.lower()):
                keys.setdefault(uuid.UUID(matched.group(1)), index)
        if keys:
            named |= Q(idempotency_key__in=list(keys))
    rows = Message.objects.filter(named, channel=channel, direction=OUT)
    if sender is not None:  # Telegram message ids count per bot and chat
        rows = rows.filter(sender=sender)
    # With what a reply to it reads next: its sender, and the contact (the reply's route).
    related = rows.select_related("conversation__identity__contact", "sender")
    found = list(related.order_by("-id")[:20])

    def position(m: Message) -> int:
        if m.provider_message_id in refers_to:
            return refers_to.index(m.provider_message_id)
        return keys.get(m.idempotency_key, len(refers_to))

    # The nearest one it names (refers_to comes nearest first: an email's In-Reply-To before
    # its older References), so a reply quoting step 1 after step 2 went answers step 1.
    return min(found, key=position, default=None)


def identity_of(channel: str, item: InboundItem, *, create: bool) -> Identity | None:
    identity = None
    if item.from_id:
        identity = (
            Identity.objects.filter(channel=channel, platform_user_id=item.from_id)
            .select_related("contact")  # the reply's route reads the contact next
            .first()
        )
    if identity is None and item.from_handle:
        value = item.from_handle.lower().lstrip("@") if channel != "whatsapp" else item.from_handle
        identity = (
            Identity.objects.filter(channel=channel, value=value).select_related("contact").first()
        )
        if identity and item.from_id and not identity.platform_user_id:
            Identity.objects.filter(id=identity.id).update(platform_user_id=item.from_id)
            identity.platform_user_id = item.from_id
    if identity is None and create and (item.from_id or item.from_handle):
        # A new person wrote first (the normal start on social platforms): a new lead.
        contact = Contact.objects.create(first_name=item.name[:150] or item.from_handle[:150])
        identity = Identity.objects.create(
            contact=contact,
            channel=channel,
            value=(item.from_handle.lower().lstrip("@") or item.from_id)[:255],
            platform_user_id=item.from_id,
        )
    return identity


def email_lead_identity(item: InboundItem, sender: SenderAccount) -> Identity | None:
    """An unknown address wrote to an address an entry trigger watches (leads@…): the person
    wrote first, so they become a contact with an email identity. Never for our own
    mailboxes, auto-replies or bounces (those never reach here as kind "message")."""
    try:
        address = normalize.email(item.from_handle)
    except normalize.Invalid:
        return None
    ours = SenderAccount.objects.filter(channel="email", handle__iexact=address).exists()
    if ours or not email_lead_wanted(item.recipients, sender):
        return None
    if "," in item.from_name:  # "Lopez, Maria"
        last, _, first = item.from_name.partition(",")
    else:
        first, _, last = item.from_name.partition(" ")
    try:
        with transaction.atomic():
            contact = Contact.objects.create(
                first_name=first.strip()[:150], last_name=last.strip()[:150]
            )
            return Identity.objects.create(contact=contact, channel="email", value=address)
    except IntegrityError:  # the same person's other mail, processed at the same moment
        return Identity.objects.filter(channel="email", value=address).first()


def received_at(item: InboundItem) -> datetime:
    now = timezone.now()
    if item.occurred_at is None:
        return now
    return min(datetime.fromtimestamp(item.occurred_at, tz=UTC), now)


def conversation_of(identity: Identity, sender: SenderAccount) -> Conversation:
    conversation, _ = conversation_get_or_create(identity.id, sender.id)
    return conversation


def reply_conversation(
    identity: Identity,
    sender: SenderAccount,
    ours: Message | None,
    *,
    opened_at: datetime | None,
) -> tuple[Conversation, bool]:
    """The conversation an inbound message goes to, and whether it was made for it. The
    message of ours it answers was read with its conversation, the same one (a message's
    sender is its conversation's): not read again. One made for it is inserted already
    opened at `opened_at` (see apply._opened)."""
    if ours is not None:
        theirs = ours.conversation
        if theirs.identity_id == identity.id and theirs.sender_id == sender.id:
            return theirs, False
    opened = {"last_inbound_at": opened_at} if opened_at is not None else {}
    return conversation_get_or_create(identity.id, sender.id, **opened)


def bounce_of(ours: Message | None, item: InboundItem, event: InboundEvent) -> Message | None:
    """Which of our messages this bounce or complaint reports on, to the address it went to.

    Anyone can mail us a report naming any address, so it must either return our own message
    (its Message-ID, our per-message token) sent to an address it names, or, when it returns
    none of ours (no original attached, or one without its Message-ID, as Exchange sends),
    name an address our latest message went to from the very mailbox the report came to.
    """
    named = {a.lower() for a in item.failed_recipients or [item.from_handle] if a}
    if ours is not None:
        return ours if not named or ours.conversation.identity.value.lower() in named else None
    if not named:
        return None
    rows = Message.objects.filter(
        channel=event.provider,
        direction=OUT,
        sent_at__isnull=False,
        conversation__identity__channel=event.provider,
        conversation__identity__value__in=named,
    )
    if event.sender_id:
        rows = rows.filter(sender_id=event.sender_id)
    else:
        mailboxes = Q()
        for address in {*item.recipients, item.account_id} - {""}:
            mailboxes |= Q(sender__handle__iexact=address)
        if not mailboxes:
            return None
        rows = rows.filter(mailboxes)
    related = rows.select_related("conversation__identity__contact", "sender")  # as our_message
    return related.order_by("-sent_at", "-id").first()


def inbound_fields(
    channel: str,
    conversation: Conversation,
    item: InboundItem,
    ours: Message | None,
    *,
    new_conversation: bool = False,
) -> dict[str, object]:
    """What an inbound message keeps beside its text: the platform's id for it (so an edit
    or unsend finds it), the message of ours it answers, the button it pressed. An unsend
    processed before the message itself leaves it redacted from the start.
    new_conversation: the conversation was made for this message, so nothing in it can
    have taken the id."""
    fields: dict[str, object] = {"reply_to": ours, "payload": item.payload}
    if not item.message_id:
        return fields
    too_long = len(item.message_id) > 255
    if too_long or _id_taken(channel, conversation, item.message_id, new_conversation):
        # An email's Message-ID is the sender's to write: too long, or one of our own ids
        # repeated, it is not kept, and the reply is stored all the same.
        log.warning("%s message id %.100s not kept: taken or too long", channel, item.message_id)
        return fields
    fields["provider_message_id"] = item.message_id
    # Looked up only where the platform reports unsends (a mail cannot be unsent).
    unsent = (
        channel_type(channel).unsends
        and InboundEvent.objects.filter(
            provider=channel, provider_event_id=f"deleted:{item.message_id}"
        ).exists()
    )
    if unsent:
        fields |= {"body": "", "attachments": [], "payload": {}, "deleted_at": timezone.now()}
    return fields


def _id_taken(
    channel: str, conversation: Conversation, message_id: str, new_conversation: bool
) -> bool:
    """Does a stored message have this platform id in its scope (models.py
    CONVERSATION_SCOPED_IDS): the conversation's inbound messages, or the whole channel
    where the platform's ids are global."""
    rows = Message.objects.filter(channel=channel, provider_message_id=message_id)
    if channel in CONVERSATION_SCOPED_IDS:
        if new_conversation:
            # Made in this transaction: no message can be in it yet, ours or another's.
            return False
        rows = rows.filter(conversation=conversation, direction=Message.Direction.INBOUND)
    return rows.exists()


def known_message(channel: str, conversation: Conversation, item: InboundItem) -> bool:
    """Is this message already stored (the same message under another event: a standby
    copy, an edit processed first)? Looked up in its conversation: Telegram ids count per bot
    and chat, and another sender's mail may repeat a Message-ID. If it was first stored from
    an edit, its original text goes to the front of the edit history."""
    if not item.message_id:
        return False
    known = (
        Message.objects.select_for_update()
        .filter(
            conversation=conversation,
            direction=Message.Direction.INBOUND,  # never our own message with that id
            provider_message_id=item.message_id,
        )
        .first()
    )
    if known is None:
        return False
    texts = [known.body] + [e.get("text") for e in known.edits]
    if item.kind == "message" and item.text not in texts and known.deleted_at is None:
        known.edits = [{"text": item.text, "at": received_at(item).isoformat()}, *known.edits]
        known.save(update_fields=["edits"])
    return True


def inbound_message(event: InboundEvent, item: InboundItem, ids: list[str]) -> Message | None:
    """One of the contact's messages we stored, by the platform's id for it."""
    rows = Message.objects.filter(
        channel=event.provider, direction=Message.Direction.INBOUND, provider_message_id__in=ids
    )
    return in_scope(rows, event, item).select_for_update().order_by("-id").first()


def in_scope(rows, event: InboundEvent, item: InboundItem):
    """`rows` narrowed to the account the event came to: a Telegram message id names a
    message of one bot's chat (two bots' chats with one person count from 1 each)."""
    if event.sender_id:
        return rows.filter(sender_id=event.sender_id)
    if event.provider in CONVERSATION_SCOPED_IDS and (sender := sender_of(event, item)):
        return rows.filter(sender=sender)
    return rows


def iso_time(item: InboundItem) -> str:
    return received_at(item).isoformat()
