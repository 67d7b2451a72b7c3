"""An ESP's tracking and inbound webhooks (django-anymail's views, verified as each ESP signs
them) into the paths mailbox parsing uses: each event becomes an inbound item of the email
channel, stored raw and unique on the ESP's event id (a replayed webhook is a no-op), then
processed like a bounce mail, a feedback-loop report or a reply (outreach/inbound/apply.py).

delivered -> our message delivered; bounced / rejected -> a bounce, hard or soft from the
ESP's own fields; complained -> a spam complaint (opt-out, suppressed, counted); unsubscribed
-> the one-click opt-out (outreach/unsubscribe.py); an inbound mail -> the same reply path as
the inbound-email webhook (docs/deliverability.md#esps)."""

import hashlib
import json
from typing import Any

from anymail.signals import AnymailInboundEvent, AnymailTrackingEvent, EventType, RejectReason

from outreach.bounces import status_in
from outreach.channels.base import InboundItem
from outreach.inbound.store import inbound_items_store, inbound_unparsed_store
from outreach.mailparse import classify

KINDS = {
    EventType.DELIVERED: "delivered",
    EventType.BOUNCED: "bounce",
    EventType.REJECTED: "bounce",
    EventType.COMPLAINED: "complaint",
    EventType.UNSUBSCRIBED: "unsubscribed",
}
# The ESP's own word for "this one may still go through" (Postmark's bounce Type,
# https://postmarkapp.com/developer/api/bounce-api#bounce-types; Mailgun's severity,
# https://documentation.mailgun.com/docs/mailgun/user-manual/events/; Brevo's "soft_bounce"
# event, https://developers.brevo.com/docs/transactional-webhooks; Amazon SES's bounceType
# Transient / Undetermined, https://docs.aws.amazon.com/ses/latest/dg/notification-contents.html).
SOFT_TYPES = {"SoftBounce", "Transient", "DnsError", "AutoResponder"}
# A rejection for these reasons is about the address (hard); any other is the ESP's own
# refusal of this send (soft: the message is retried, the address kept).
HARD_REJECTIONS = {RejectReason.BOUNCED, RejectReason.INVALID, RejectReason.SPAM}


def esp_event_body(event: AnymailTrackingEvent) -> bytes:
    """The ESP's event as it came (JSON, or the form fields of a legacy Mailgun post)."""
    raw = event.esp_event
    if hasattr(raw, "lists"):  # a Django QueryDict
        raw = dict(raw.lists())
    return json.dumps(raw, sort_keys=True, default=str).encode()


def tracking_item(esp: str, event: AnymailTrackingEvent, raw: bytes) -> InboundItem | None:
    kind = KINDS.get(event.event_type)
    if kind is None or not event.recipient:
        return None  # queued, sent, opened, clicked, deferred: nothing to act on
    # The ESP's event id where it gives one (Mailgun's signature token, Postmark's bounce ID);
    # else the event's own bytes, which a replay repeats exactly.
    key = f"{esp}:{event.event_id or hashlib.sha256(raw).hexdigest()}"
    status = status_in(f"{event.mta_response or ''} {event.description or ''}")
    details = " ".join(filter(None, [event.description, event.mta_response]))
    return InboundItem(
        kind=kind,
        event_id=key,
        message_id=key,
        from_handle=event.recipient.lower(),
        failed_recipients=[event.recipient.lower()],
        refers_to=[event.message_id] if event.message_id else [],
        hard=kind == "bounce" and _hard(event, status),
        error_code=status[:20],
        text=details[:2000],
        subtype=f"{esp} {event.event_type}",
        occurred_at=event.timestamp.timestamp() if event.timestamp else None,
    )


def _hard(event: AnymailTrackingEvent, status: str) -> bool:
    raw: Any = event.esp_event if isinstance(event.esp_event, dict) else {}
    severity = (raw.get("event-data") or {}).get("severity", "")
    if (
        raw.get("Type") in SOFT_TYPES
        or severity == "temporary"
        or raw.get("event") == "soft_bounce"
    ):
        return False
    if status:
        return status.startswith("5") and not status.startswith(("5.2.2", "552"))
    if event.event_type == EventType.REJECTED:
        return event.reject_reason in HARD_REJECTIONS
    return True  # the ESP calls it a bounce (Postmark HardBounce, Mailgun permanent)


def tracking_received(
    sender: object, event: AnymailTrackingEvent, esp_name: str, **kwargs: object
) -> None:
    """anymail's `tracking` signal. An exception answers the ESP 500: it retries."""
    esp = esp_name.lower()
    raw = esp_event_body(event)
    item = tracking_item(esp, event, raw)
    if item is not None:
        inbound_items_store(provider="email", items=[item], raw=raw)


def inbound_received(
    sender: object, event: AnymailInboundEvent, esp_name: str, **kwargs: object
) -> None:
    """anymail's `inbound` signal: the mail as RFC 5322 bytes, read and stored exactly as
    the inbound-email webhook reads and stores one (outreach/channels/email/backend.py)."""
    if event.message is None:
        return
    raw = event.message.as_bytes()
    try:
        item = classify(raw)
    except Exception as exc:  # kept unread and replayable, as the inbound-email webhook does
        error = f"{type(exc).__name__}: {exc}"
        inbound_unparsed_store(provider="email", raw=raw, sender=None, error=error)
        return
    inbound_items_store(provider="email", items=[item], raw=raw)
