"""Storing inbound events: raw before the platform gets its 200 (never lost), unique on the
platform's event id (never twice), processing enqueued on commit."""

import dataclasses
import hashlib
import logging
from datetime import timedelta
from typing import Any

from celery import current_app
from django.db import DataError, IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from outreach.channels import get_channel
from outreach.channels.base import InboundItem
from outreach.models import (
    InboundEvent,
    SenderAccount,
)

log = logging.getLogger(__name__)


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
            key = item.event_id
            if per_sender and sender is not None:
                if _stored_before_per_sender_url(provider, sender, item.event_id):
                    continue
                key = f"{sender.id}:{key}"
                item = dataclasses.replace(item, account_id=item.account_id or sender.handle)
            try:
                payload = storable(dataclasses.asdict(item))
                event_id = _item_store(provider, key, item, sender, payload, raw)
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


def _item_store(
    provider: str,
    key: str,
    item: InboundItem,
    sender: SenderAccount | None,
    payload: dict,
    raw: bytes,
) -> int | None:
    """Store one item under its dedupe key; None for a repeat. A mail is keyed by its
    Message-ID, and by its address too when another address used that id (_email_store):
    never per sender, as no mail comes to a sender's own URL."""
    if provider == "email":
        return _email_store(item, sender, payload, raw)
    return _event_store(provider, key, sender, payload, raw)


def _email_store(
    item: InboundItem, sender: SenderAccount | None, payload: dict, raw: bytes
) -> int | None:
    """Store a mail under its Message-ID; None for a repeat. That id is whatever the
    sender's client wrote, so the same id from another address is another mail (a reply is
    never dropped for it): stored under the id and that address. The same mail again (a
    webhook and a mailbox poll, a re-read) has the same sender, so it is still a repeat.

    Inserted first and looked up only when the id is taken: a new mail, the usual case,
    costs the webhook one statement, not two."""
    stored = _event_store("email", item.event_id, sender, payload, raw)
    if stored is not None:
        return stored
    first_from = (
        InboundEvent.objects.filter(provider="email", provider_event_id=_key(item.event_id))
        .values_list("payload__from_handle", flat=True)
        .first()
    )
    if first_from in (item.from_handle, None):
        return None
    return _event_store("email", f"{item.event_id} {item.from_handle}", sender, payload, raw)


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
                provider_event_id=_key(key),
                sender=sender,
                payload=payload,
                raw=raw,
            )
    except IntegrityError:
        return None  # a retried or duplicated delivery
    return event.id


def _key(key: str) -> str:
    """The dedupe key as stored: what the column holds of it."""
    return storable(key)[:255]


def _enqueue_on_commit(event_ids: list[int]) -> None:
    def enqueue() -> None:
        for event_id in event_ids:
            try:
                # By name: outreach.tasks runs this module's callers, so importing it here
                # would close an import loop (tests/foundation/test_import_cycles.py).
                current_app.send_task("outreach.tasks.process_inbound_event", args=(event_id,))
            except Exception:
                # The event is stored; the broker is not there. The sweeper picks it up, and
                # the platform got its 2xx: it must not deliver it again.
                log.exception("could not queue inbound event %s; the sweeper will", event_id)
                return

    if event_ids:
        transaction.on_commit(enqueue)


class Unparseable(Exception):
    """The stored body cannot be read: trying again cannot help, only a fixed parser."""


def event_parse_again(event: InboundEvent) -> str:
    """A body stored unread: read it now and store what it holds as events of their own."""

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
        payload = storable(dataclasses.asdict(item))
        try:
            new = _item_store(event.provider, key, item, event.sender, payload, raw)
        except DataError as exc:
            raise Unparseable(f"not storable: {exc}") from exc
        if new is not None:
            created.append(new)
    _enqueue_on_commit(created)
    return f"read again: {len(created)} new events"


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
