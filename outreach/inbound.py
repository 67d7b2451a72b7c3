"""Inbound events: stored raw before the platform gets its 200 (never lost), unique on the
platform's event id (never twice), then processed asynchronously and idempotently.

Processing matches an event to an identity, conversation and our own message, records the
inbound message, labels it, reopens the messaging window, applies receipts and late
failures, and tells the app above (outreach/seams.py) so campaigns can stop follow-ups.
"""

import dataclasses
import hashlib
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DataError, IntegrityError, OperationalError, transaction
from django.db.models import Q
from django.utils import timezone

from contacts import normalize
from contacts.models import Contact, Identity
from contacts.services import address_suppress, identity_grant_consent, identity_opt_out
from outreach.channels import get_channel
from outreach.channels.base import ChannelError, InboundItem
from outreach.channels.telegram import TelegramChannel, contact_id_from_token
from outreach.db import is_conflict, retry_on_conflict
from outreach.engagement import email_lead_wanted, engagement_announce
from outreach.inbound_media import inbound_media_discard, inbound_media_enqueue
from outreach.inbox.services import message_classify
from outreach.models import (
    CONVERSATION_SCOPED_IDS,
    Conversation,
    InboundEvent,
    Message,
    MessageEvent,
    SenderAccount,
)
from outreach.seams import MessageFailed, ReplyRecorded, outreach_events
from outreach.services import conversations_for, message_record_sent
from outreach.suppress import bounce_suppress, soft_bounce_retry, soft_bounces
from outreach.unsubscribe import opt_out, unsubscribe_asked

log = logging.getLogger(__name__)
S = Message.Status
OUT = Message.Direction.OUTBOUND

# What an inbound reply releases: messages the platform's rules were holding.
POLICY_HOLD = "platform policy"
# Failed attempts before an event is quarantined (backoff 1, 2, 4, 8 minutes between them).
MAX_ATTEMPTS = 5


def storable(value: Any) -> Any:
    """`value` with what PostgreSQL text and JSON cannot hold replaced: NUL characters are
    dropped (a quoted-printable `=00` is enough to make one) and lone surrogates (undecodable
    bytes the email parser keeps as surrogate escapes) become U+FFFD."""
    if isinstance(value, str):
        return value.replace("\x00", "").encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable(v) for v in value]
    return value


def inbound_items_store(
    *,
    provider: str,
    items: list[InboundItem],
    sender: SenderAccount | None = None,
    per_sender: bool = False,
    raw: bytes = b"",
) -> list[int]:
    """Store each new item, with the body it came in (`raw`, byte for byte), and enqueue its
    processing on commit; a repeat is a no-op.

    per_sender: the platform's event ids count per account (Telegram's update_id counts per
    bot), so the sender is part of the dedupe key: one bot's update never hides another's.

    Each item is stored on its own: one the database refuses all the same is kept as its raw
    body, quarantined with the reason, and the others go on.

    Raises DatabaseError when the database is unavailable, so the webhook answers 5xx and
    the platform retries.
    """
    created = []
    with transaction.atomic():
        for item in items:
            if item.kind == "ignored" or not item.event_id:
                continue
            key = _email_key(item) if provider == "email" else item.event_id
            if per_sender and sender is not None:
                if _stored_before_per_sender_url(provider, sender, item.event_id):
                    continue
                key = f"{sender.id}:{key}"
                item = dataclasses.replace(item, account_id=item.account_id or sender.handle)
            try:
                event_id = _event_store(
                    provider, key, sender, storable(dataclasses.asdict(item)), raw
                )
            except DataError as exc:
                log.warning("%s event %.100r not storable: %s", provider, key, exc)
                created += inbound_unparsed_store(
                    provider=provider, raw=raw, sender=sender, error=f"not storable: {exc}"
                )
                continue
            if event_id is not None:
                created.append(event_id)
        _enqueue_on_commit(created)
    return created


def _email_key(item: InboundItem) -> str:
    """A mail's dedupe key: its Message-ID. That id is whatever the sender's client wrote,
    so the same id from another address is another mail (a reply is never dropped for it):
    stored under the id and that address. The same mail again (a webhook and a mailbox
    poll, a re-read) has the same sender, so it is still a repeat."""
    first = (
        InboundEvent.objects.filter(provider="email", provider_event_id=item.event_id)
        .values_list("id", "payload__from_handle")
        .first()
    )
    if first is None or first[1] in (item.from_handle, None):
        return item.event_id
    return f"{item.event_id} {item.from_handle}"


def inbound_unparsed_store(
    *, provider: str, raw: bytes, sender: SenderAccount | None, error: str
) -> list[int]:
    """Keep a body we could not read (the parser failed on it, or the database refused what
    it made of it): stored raw, quarantined at once with the reason, replayable from the
    admin once the parser can read it. Never holds up the bodies behind it."""
    key = f"unparsed:{hashlib.sha256(raw).hexdigest()}"
    with transaction.atomic():
        try:
            with transaction.atomic():
                event = InboundEvent.objects.create(
                    provider=provider,
                    provider_event_id=key,
                    sender=sender,
                    payload={},
                    raw=raw,
                    error=storable(error)[:2000],
                    quarantined_at=timezone.now(),
                )
        except IntegrityError:
            return []  # the same bytes again
    return [event.id]


def _event_store(
    provider: str, key: str, sender: SenderAccount | None, payload: dict, raw: bytes
) -> int | None:
    """The new event's id, None for a repeat. DataError: the database refused a value."""
    try:
        with transaction.atomic():
            event = InboundEvent.objects.create(
                provider=provider,
                provider_event_id=storable(key)[:255],
                sender=sender,
                payload=payload,
                raw=raw,
            )
    except IntegrityError:
        return None  # a retried or duplicated delivery
    return event.id


def _enqueue_on_commit(event_ids: list[int]) -> None:
    def enqueue() -> None:
        from outreach.tasks import process_inbound_event

        for event_id in event_ids:
            try:
                process_inbound_event.delay(event_id)
            except Exception:
                # The event is stored; the broker is not there. The sweeper picks it up, and
                # the platform got its 2xx: it must not deliver it again.
                log.exception("could not queue inbound event %s; the sweeper will", event_id)
                return

    if event_ids:
        transaction.on_commit(enqueue)


CONFLICT = "conflict"  # inbound_event_process: not applied yet, worth trying again at once


class Unparseable(Exception):
    """The stored body cannot be read: trying again cannot help, only a fixed parser."""


def inbound_event_process(*, event_id: int) -> str:
    """Apply one stored event once. A failure is retried by the sweeper with backoff, then
    the event is quarantined with its error (see inbound_events_replay); either way, the
    events after it go on."""
    try:
        return _event_apply(event_id)
    except OperationalError as exc:
        if not is_conflict(exc):
            log.exception("inbound event %s failed", event_id)
            return _attempt_failed(event_id, exc)
        # Lost its locks on every quick retry (many replies to one campaign at once): the
        # caller tries again within seconds; the sweeper's backoff would hold it a minute.
        log.warning("inbound event %s lost its locks again; trying again shortly", event_id)
        return CONFLICT
    except Exception as exc:
        log.exception("inbound event %s failed", event_id)
        return _attempt_failed(event_id, exc)


@retry_on_conflict  # a lost deadlock is tried again at once, not after the sweeper's minute
def _event_apply(event_id: int) -> str:
    with transaction.atomic():
        event = (
            InboundEvent.objects.select_for_update()
            .filter(id=event_id, processed_at=None, quarantined_at=None)
            .first()
        )
        if event is None:
            return "already processed"
        if event.payload:
            item = InboundItem(**event.payload)
            outcome = APPLY.get(item.kind, _ignore)(event, item)
        else:
            outcome = _parse_again(event)
        event.processed_at, event.error, event.retry_at = timezone.now(), "", None
        event.save(update_fields=["processed_at", "error", "retry_at"])
        return outcome


def _parse_again(event: InboundEvent) -> str:
    """A body stored unread: read it now and store what it holds as events of their own."""
    from outreach.channels import get_channel

    raw = bytes(event.raw)
    try:
        items = get_channel(event.provider).parse_webhook(raw)
    except Exception as exc:
        raise Unparseable(f"{type(exc).__name__}: {exc}") from exc
    per_sender = event.sender_id is not None and event.provider != "email"
    created = []
    for item in items:
        if item.kind == "ignored" or not item.event_id:
            continue
        key = f"{event.sender_id}:{item.event_id}" if per_sender else item.event_id
        if event.provider == "email":
            key = _email_key(item)
        try:
            new = _event_store(
                event.provider, key, event.sender, storable(dataclasses.asdict(item)), raw
            )
        except DataError as exc:
            raise Unparseable(f"not storable: {exc}") from exc
        if new is not None:
            created.append(new)
    _enqueue_on_commit(created)
    return f"read again: {len(created)} new events"


def _attempt_failed(event_id: int, exc: Exception) -> str:
    """Count the failed attempt: try again later (backoff), or quarantine after the last."""
    now = timezone.now()
    with transaction.atomic():
        event = (
            InboundEvent.objects.select_for_update()
            .filter(id=event_id, processed_at=None, quarantined_at=None)
            .first()
        )
        if event is None:
            return "error"
        event.attempts += 1
        event.error = storable(f"{type(exc).__name__}: {exc}")[:2000]
        if isinstance(exc, Unparseable) or event.attempts >= MAX_ATTEMPTS:
            event.quarantined_at, event.retry_at = now, None
        else:
            event.retry_at = now + timedelta(seconds=min(30 * 2**event.attempts, 3600))
        event.save(update_fields=["attempts", "error", "quarantined_at", "retry_at"])
    return "quarantined" if event.quarantined_at else "error"


def inbound_events_sweep(*, older_than: float = 30.0) -> int:
    """Process events whose task was lost (a broker down, a worker killed) and failed events
    whose retry time came. Each is taken on its own: a failing one never blocks the rest."""
    now = timezone.now()
    stale = now - timedelta(seconds=older_than)
    ids = (
        InboundEvent.objects.filter(processed_at=None, quarantined_at=None)
        .filter(Q(retry_at=None, received_at__lt=stale) | Q(retry_at__lte=now))
        .order_by("id")
        .values_list("id", flat=True)
    )
    return sum(inbound_event_process(event_id=i) not in ("error", "quarantined") for i in ids[:500])


def inbound_events_replay(*, event_ids: list[int]) -> dict[str, int]:
    """Try quarantined (or waiting) events again now, as new: the admin's "replay". A body
    stored unread is read again by today's parser. Returns how many ended how."""
    outcomes: dict[str, int] = {}
    for event_id in event_ids:
        reset = InboundEvent.objects.filter(id=event_id, processed_at=None).update(
            quarantined_at=None, retry_at=None, attempts=0
        )
        outcome = inbound_event_process(event_id=event_id) if reset else "already processed"
        key = outcome if outcome in ("error", "quarantined", "already processed") else "processed"
        outcomes[key] = outcomes.get(key, 0) + 1
    return outcomes


def _stored_before_per_sender_url(provider: str, sender: SenderAccount, event_id: str) -> bool:
    """A bot moved from the shared URL to its own gets the updates Telegram still holds (up to
    24 hours) again: stored then under the bare update id, they are not new."""
    return InboundEvent.objects.filter(
        Q(sender=sender) | Q(sender=None),
        provider=provider,
        provider_event_id=event_id,
        received_at__gte=timezone.now() - timedelta(hours=24),
    ).exists()


def webhook_sender(*, channel: str, ref: str) -> SenderAccount | None:
    """The sender a per-sender webhook URL names: its id, or its handle (a bot's @name)."""
    senders = SenderAccount.objects.filter(channel=channel)
    if ref.isdigit():
        by_id = senders.filter(id=int(ref)).first()
        if by_id:
            return by_id
    name = ref.lstrip("@")
    found = list(senders.filter(Q(handle__iexact=name) | Q(handle__iexact=f"@{name}"))[:2])
    return found[0] if len(found) == 1 else None  # two senders with one handle: use the id


# --- matching -------------------------------------------------------------------------------


def _sender(event: InboundEvent, item: InboundItem) -> SenderAccount | None:
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


def _ours(
    channel: str, refers_to: list[str], sender: SenderAccount | None = None
) -> Message | None:
    if not refers_to:
        return None
    rows = Message.objects.filter(channel=channel, direction=OUT, provider_message_id__in=refers_to)
    if sender is not None:  # Telegram message ids count per bot and chat
        rows = rows.filter(sender=sender)
    found = list(rows.select_related("conversation__identity").order_by("-id")[:20])
    # The nearest one it names (refers_to comes nearest first: an email's In-Reply-To before
    # its older References), so a reply quoting step 1 after step 2 went answers step 1.
    return min(found, key=lambda m: refers_to.index(m.provider_message_id), default=None)


def _identity(channel: str, item: InboundItem, *, create: bool) -> Identity | None:
    identity = None
    if item.from_id:
        identity = Identity.objects.filter(channel=channel, platform_user_id=item.from_id).first()
    if identity is None and item.from_handle:
        value = item.from_handle.lower().lstrip("@") if channel != "whatsapp" else item.from_handle
        identity = Identity.objects.filter(channel=channel, value=value).first()
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


def _email_lead(item: InboundItem, sender: SenderAccount) -> Identity | None:
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


def _at(item: InboundItem) -> datetime:
    now = timezone.now()
    if item.occurred_at is None:
        return now
    return min(datetime.fromtimestamp(item.occurred_at, tz=UTC), now)


def _conversation(identity: Identity, sender: SenderAccount) -> Conversation:
    return conversations_for({(identity.id, sender.id)})[(identity.id, sender.id)]


def _opened(conversation: Conversation, at: datetime) -> None:
    """The contact wrote: the window reopens and held messages may go."""
    Conversation.objects.filter(id=conversation.id).update(last_inbound_at=at)
    Message.objects.filter(
        conversation=conversation, status=S.QUEUED, hold_reason__startswith=POLICY_HOLD
    ).update(not_before=None, hold_reason="", enqueued_at=None)


# --- applying -------------------------------------------------------------------------------


def _ignore(event: InboundEvent, item: InboundItem) -> str:
    return f"ignored {item.kind}"


def _message(event: InboundEvent, item: InboundItem) -> str:
    channel = event.provider
    ours = _ours(channel, item.refers_to, event.sender)
    if item.kind in ("bounce", "complaint"):
        ours = _bounce_of(ours, item, event)
        if ours is None:
            return "unmatched"
    sender = ours.sender if ours else _sender(event, item)
    # Email threads by In-Reply-To/References; other channels by the platform's user id.
    identity: Identity | None
    if ours is not None:
        identity = ours.conversation.identity
    else:
        identity = _identity(channel, item, create=channel != "email")
    if identity is None and channel == "email" and sender and item.kind == "message":
        # Not a reply to us: maybe a new lead writing to a watched address (leads@…).
        asked = unsubscribe_asked(subject=item.name, text=item.text)
        identity = None if asked else _email_lead(item, sender)
    if sender is None or identity is None:
        return "unmatched"
    conversation = _conversation(identity, sender)
    kind = {"message": "reply", "auto_reply": "auto_reply", "bounce": "bounce"}.get(
        item.kind, item.kind
    )
    if kind in ("reply", "auto_reply") and _asks_to_unsubscribe(channel, item, kind):
        kind = "opt_out"
        opt_out(channel=channel, address=identity.value, source=f"{channel} reply", note=item.text)
    detail = kind
    if kind in ("reply", "opt_out"):
        _opened(conversation, _at(item))
    if kind == "bounce" and not _known_message(channel, conversation, item):
        detail = _bounce(identity, ours, item)  # the same bounce mail twice counts once
    if kind == "complaint":
        _complaint(identity, item)
    if item.handover == "standby":
        _thread_owner(conversation, "other", _at(item), only_if_ours=True)
    if _known_message(channel, conversation, item):
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
        "sent_at": _at(item),
        "error_code": item.error_code[:64],
    }
    message = Message.objects.create(
        **(fields | _inbound_fields(channel, conversation, item, ours))
    )
    MessageEvent.objects.create(message=message, status=S.RECEIVED, detail=detail)
    inbound_media_enqueue(message)  # platform media links expire: keep our own copy
    _answer_callback(channel, sender, item)
    # A complaint stops every sequence of the contact, as a "stop" reply does.
    seam_kind = "opt_out" if kind == "complaint" else kind
    intent = message_classify(message=message, kind=seam_kind)
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
            at=_at(item),
            message=message,
        )
    return kind


def _asks_to_unsubscribe(channel: str, item: InboundItem, kind: str) -> bool:
    """In the subject (email only: elsewhere item.name is the person's name) or the text; an
    auto-reply only when a mail client's unsubscribe button wrote it."""
    subject = item.name if channel == "email" else ""
    return unsubscribe_asked(subject=subject, text=item.text, automatic=kind == "auto_reply")


def _bounce_of(ours: Message | None, item: InboundItem, event: InboundEvent) -> Message | None:
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
    return rows.select_related("conversation__identity").order_by("-sent_at", "-id").first()


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
    bounce_suppress(identity=identity, hard=hard, at=_at(item))
    return "bounce" if item.hard else "soft bounce"


def _complaint(identity: Identity, item: InboundItem) -> None:
    """A spam complaint: the person opted out, and the address is never mailed again. The
    inbound message it leaves on the sender's conversation counts against that sender."""
    day = timezone.localdate(_at(item)).isoformat()
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
        last = _ours(event.provider, item.refers_to)
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


def _failed(event: InboundEvent, item: InboundItem) -> str:
    """WhatsApp's late `failed` status: the 200 we got only meant "accepted"."""
    _settle(event, item)
    ours = _ours(event.provider, item.refers_to)
    if ours is None:
        return "failed status for an unknown message"
    code = f"{event.provider}_{item.error_code}"
    _fail(ours, code, item.error or code)
    if item.error_code == "131050":  # the contact stopped marketing messages from us
        identity_opt_out(identity=ours.conversation.identity, source="whatsapp 131050")
    return "failed"


def _start(event: InboundEvent, item: InboundItem) -> str:
    """Telegram /start <token>: bind this chat to the contact the deep link named."""
    sender = _sender(event, item)
    contact_id = contact_id_from_token(item.start_token) if item.start_token else None
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
        identity = _identity(event.provider, item, create=True)
    if identity is None:
        return "unmatched"
    identity_grant_consent(identity=identity, source="telegram /start")
    if sender is not None:
        conversation = _conversation(identity, sender)
        _opened(conversation, _at(item))
        engagement_announce(
            event=event,
            item=item,
            identity=identity,
            sender=sender,
            conversation=conversation,
            at=_at(item),
        )
    return "bound" if contact_id else "started"


def _blocked(event: InboundEvent, item: InboundItem) -> str:
    identity = _identity(event.provider, item, create=False)
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
    sender = _sender(event, item)
    if sender is not None and item.from_id and item.from_id == sender.handle:
        return "echo"  # our own comment (a public reply): never a lead, never answered
    if _ours(event.provider, item.refers_to):
        return "echo"
    identity = _identity(event.provider, item, create=True)
    if sender is None or identity is None:
        return "unmatched"
    conversation = _conversation(identity, sender)
    Conversation.objects.filter(id=conversation.id).update(
        comment_id=item.refers_to[0] if item.refers_to else "", comment_at=_at(item)
    )
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
        at=_at(item),
    )
    return "comment"


def _referral(event: InboundEvent, item: InboundItem) -> str:
    """A click on a click-to-message ad (or an m.me ref link) into an existing thread: the
    person started it, so the standard window opens."""
    sender = _sender(event, item)
    identity = _identity(event.provider, item, create=True)
    if sender is None or identity is None:
        return "unmatched"
    conversation = _conversation(identity, sender)
    _opened(conversation, _at(item))
    engagement_announce(
        event=event,
        item=item,
        identity=identity,
        sender=sender,
        conversation=conversation,
        at=_at(item),
    )
    return "referral"


def _number_changed(event: InboundEvent, item: InboundItem) -> str:
    """WhatsApp: the person moved to a new number. Their identity moves with them (history
    and conversations kept), so a reply from the new number is the same conversation."""
    identity = _identity(event.provider, item, create=False)
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


# --- edits, unsends, reactions, handover, unknown kinds (issue 17, item 4) ----------------


def _inbound_fields(
    channel: str, conversation: Conversation, item: InboundItem, ours: Message | None
) -> dict[str, object]:
    """What an inbound message keeps beside its text: the platform's id for it (so an edit
    or unsend finds it), the message of ours it answers, the button it pressed. An unsend
    processed before the message itself leaves it redacted from the start."""
    fields: dict[str, object] = {"reply_to": ours, "payload": item.payload}
    if not item.message_id:
        return fields
    if len(item.message_id) > 255 or _id_taken(channel, conversation, item.message_id):
        # An email's Message-ID is the sender's to write: too long, or one of our own ids
        # repeated, it is not kept, and the reply is stored all the same.
        log.warning("%s message id %.100s not kept: taken or too long", channel, item.message_id)
        return fields
    fields["provider_message_id"] = item.message_id
    unsent = InboundEvent.objects.filter(
        provider=channel, provider_event_id=f"deleted:{item.message_id}"
    ).exists()
    if unsent:
        fields |= {"body": "", "attachments": [], "payload": {}, "deleted_at": timezone.now()}
    return fields


def _id_taken(channel: str, conversation: Conversation, message_id: str) -> bool:
    """Does a stored message have this platform id in its scope (models.py
    CONVERSATION_SCOPED_IDS): the conversation's inbound messages, or the whole channel
    where the platform's ids are global."""
    rows = Message.objects.filter(channel=channel, provider_message_id=message_id)
    if channel in CONVERSATION_SCOPED_IDS:
        rows = rows.filter(conversation=conversation, direction=Message.Direction.INBOUND)
    return rows.exists()


def _known_message(channel: str, conversation: Conversation, item: InboundItem) -> bool:
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
        known.edits = [{"text": item.text, "at": _at(item).isoformat()}, *known.edits]
        known.save(update_fields=["edits"])
    return True


def _inbound_message(event: InboundEvent, item: InboundItem, ids: list[str]) -> Message | None:
    """One of the contact's messages we stored, by the platform's id for it."""
    rows = Message.objects.filter(
        channel=event.provider, direction=Message.Direction.INBOUND, provider_message_id__in=ids
    )
    return _in_scope(rows, event, item).select_for_update().order_by("-id").first()


def _in_scope(rows, event: InboundEvent, item: InboundItem):
    """`rows` narrowed to the account the event came to: a Telegram message id names a
    message of one bot's chat (two bots' chats with one person count from 1 each)."""
    if event.sender_id:
        return rows.filter(sender_id=event.sender_id)
    if event.provider in CONVERSATION_SCOPED_IDS and (sender := _sender(event, item)):
        return rows.filter(sender=sender)
    return rows


def _edited(event: InboundEvent, item: InboundItem) -> str:
    """The contact edited a message: the stored text becomes the new one and the old text
    goes to the edit history. Never a second reply. An edit of a message we never got (it
    is still queued, or was sent before we listened) is the first we hear of it: a reply."""
    message = _inbound_message(event, item, [item.message_id])
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
    message.edits = [*message.edits, {"text": message.body, "at": at, "replaced_at": _iso(item)}]
    message.body = item.text
    message.save(update_fields=["body", "edits"])
    MessageEvent.objects.create(message=message, status=S.RECEIVED, detail="edited")
    return "edited"


def _deleted(event: InboundEvent, item: InboundItem) -> str:
    """The contact unsent a message: its text, edits and media are redacted, the fact and
    the time stay (it still counted as a reply when it came)."""
    _redact_stored_events(event.provider, item.message_id)
    message = _inbound_message(event, item, [item.message_id])
    if message is None:
        return "unsend of a message not stored (redacted when it arrives)"
    inbound_media_discard(Message.objects.filter(id=message.id))  # the stored copies too
    message.body, message.edits, message.attachments, message.payload = "", [], [], {}
    message.deleted_at = message.deleted_at or _at(item)
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
    rows = _in_scope(rows, event, item)
    message = rows.select_for_update().order_by("-id").first() if item.refers_to else None
    if message is None:
        return "reaction on a message we do not have"
    reaction = {"emoji": item.emoji, "action": item.action or "react", "at": _iso(item)}
    message.reactions = [*message.reactions, reaction]
    message.save(update_fields=["reactions"])
    return f"reaction {reaction['action']}"


def _handover(event: InboundEvent, item: InboundItem) -> str:
    """Meta's handover protocol: who owns the thread now. A request only asks; the owner
    (us) keeps the thread until it passes it."""
    sender = _sender(event, item)
    identity = _identity(event.provider, item, create=False)
    if sender is None or identity is None:
        return f"{item.handover}_thread_control: unmatched"
    conversation = _conversation(identity, sender)
    if item.handover in ("pass", "take"):
        _thread_owner(conversation, item.thread_owner, _at(item))
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
    if not isinstance(backend, TelegramChannel):
        return

    def send() -> None:
        try:
            backend.answer_callback(
                credentials=sender.credentials, callback_query_id=item.callback_query_id
            )
        except ChannelError as exc:  # the choice is stored; only the spinner stays longer
            log.warning("answerCallbackQuery failed for %s: %s", sender, exc.reason)

    transaction.on_commit(send)


def _unknown(event: InboundEvent, item: InboundItem) -> str:
    log.warning(
        "%s event %s of a kind not handled (%s): stored, nothing applied",
        event.provider,
        event.provider_event_id,
        item.subtype or "?",
    )
    return f"unknown kind {item.subtype or '?'}: stored"


def _iso(item: InboundItem) -> str:
    return _at(item).isoformat()


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
    "unknown": _unknown,
}
