"""Mailgun's messages API as it answers
(https://documentation.mailgun.com/docs/mailgun/api-reference/send/mailgun/messages):
POST /v3/<domain>/messages, HTTP basic auth "api:<key>", form fields; and its webhooks
(https://documentation.mailgun.com/docs/mailgun/user-manual/webhooks/securing-webhooks/),
signed with HMAC-SHA256 of timestamp + token under the HTTP webhook signing key."""

import base64
import hashlib
import hmac
import secrets
import time
from typing import Any


def send(authorization: str, domain: str, fields: dict[str, list[str]], good_key: str):
    """The answer to POST /v3/<domain>/messages: the Message-Id Mailgun will use (the
    sender's own h:Message-Id when it gives one)."""
    expected = "Basic " + base64.b64encode(f"api:{good_key}".encode()).decode()
    if authorization != expected:
        return 401, {"message": "Invalid private key"}
    if not fields.get("to") or not fields.get("from"):
        return 400, {"message": "'to' parameter is missing"}
    own = (fields.get("h:Message-ID") or fields.get("h:Message-Id") or [""])[0]
    message_id = own or f"<{time.strftime('%Y%m%d%H%M%S')}.{secrets.token_hex(8)}@{domain}>"
    return 200, {"id": message_id, "message": "Queued. Thank you."}


def sign(signing_key: str, event_data: dict[str, Any]) -> dict[str, Any]:
    """A webhook body as Mailgun posts it: the signature block and the event."""
    timestamp, token = str(int(time.time())), secrets.token_hex(25)
    signature = hmac.new(
        signing_key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256
    ).hexdigest()
    return {
        "signature": {"timestamp": timestamp, "token": token, "signature": signature},
        "event-data": event_data,
    }


def failed_permanent(*, message_id: str, recipient: str) -> dict[str, Any]:
    """The "failed", severity "permanent" event (a hard bounce)."""
    return {
        "event": "failed",
        "severity": "permanent",
        "reason": "bounce",
        "recipient": recipient,
        "timestamp": time.time(),
        "log-level": "error",
        "message": {"headers": {"to": recipient, "message-id": message_id.strip("<>")}},
        "delivery-status": {
            "attempt-no": 1,
            "description": "",
            "code": 550,
            "message": "5.1.1 The email account that you tried to reach does not exist.",
        },
    }


def delivered(*, message_id: str, recipient: str) -> dict[str, Any]:
    """The "delivered" event."""
    return {
        "event": "delivered",
        "recipient": recipient,
        "timestamp": time.time(),
        "log-level": "info",
        "message": {"headers": {"to": recipient, "message-id": message_id.strip("<>")}},
        "delivery-status": {"attempt-no": 1, "description": "", "code": 250, "message": "OK"},
    }
