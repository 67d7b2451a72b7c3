"""Brevo's transactional email API as it answers
(https://developers.brevo.com/reference/sendtransacemail): POST /v3/smtp/email with the key
in the "api-key" header, 201 {"messageId": "<…@smtp-relay.mailin.fr>"}; and its
transactional webhooks (https://developers.brevo.com/docs/transactional-webhooks), one JSON
event per post, which Brevo authenticates only by the basic-auth credentials in the
webhook URL. Shapes as django-anymail's own Brevo webhook tests record them."""

import time
from typing import Any


def send(api_key: str, body: dict[str, Any], good_key: str) -> tuple[int, dict[str, Any]]:
    if api_key != good_key:
        return 401, {"code": "unauthorized", "message": "Key not found"}
    if not body.get("to") or not (body.get("sender") or {}).get("email"):
        return 400, {"code": "missing_parameter", "message": "sender is missing"}
    stamp = time.strftime("%Y%m%d%H%M")
    return 201, {"messageId": f"<{stamp}.{time.time_ns() % 10**11}@smtp-relay.mailin.fr>"}


def event(kind: str, *, message_id: str, email: str, **fields: Any) -> dict[str, Any]:
    """ "delivered", "hard_bounce" / "soft_bounce" (with "reason"), "spam", "unsubscribe"."""
    now = time.time()
    return {
        "event": kind,
        "email": email,
        "id": 9999999,  # the Brevo account's id, not an event id
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "ts": int(now),
        "ts_event": int(now),
        "ts_epoch": int(now * 1000),
        "message-id": message_id,
        **fields,
    }


def hard_bounce(*, message_id: str, email: str) -> dict[str, Any]:
    # The leading space in the reason is as Brevo sends it.
    reason = " RecipientError: 550 5.1.1 Requested action not taken: mailbox unavailable."
    return event("hard_bounce", message_id=message_id, email=email, reason=reason)


def inbound(*, raw_headers: dict[str, str], text: str, uuid: str) -> dict[str, Any]:
    """The inbound parsing webhook's body
    (https://developers.brevo.com/docs/inbound-parse-webhooks#parsed-email-payload)."""
    return {
        "items": [
            {
                "Uuid": [uuid],
                "MessageId": raw_headers.get("Message-ID", ""),
                "InReplyTo": raw_headers.get("In-Reply-To"),
                "From": {"Name": None, "Address": raw_headers.get("From", "")},
                "To": [{"Name": None, "Address": raw_headers.get("To", "")}],
                "Subject": raw_headers.get("Subject", ""),
                "RawTextBody": text,
                "RawHtmlBody": None,
                "ExtractedMarkdownMessage": text,
                "SpamScore": 0.1,
                "Attachments": [],
                "Headers": raw_headers,
            }
        ]
    }
