"""SendGrid's v3 Mail Send API as it answers
(https://www.twilio.com/docs/sendgrid/api-reference/mail-send/mail-send): POST /v3/mail/send
with "Authorization: Bearer <key>", 202 and an empty body on success; and its Event Webhook
(https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/event), a JSON list of
events each carrying the send's custom_args (anymail's `anymail_id`), signed with ECDSA
P-256 / SHA-256 over timestamp + body, the signature base64 in
X-Twilio-Email-Event-Webhook-Signature and the verification key base64 DER (SubjectPublicKeyInfo)
(https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-security-features)."""

import base64
import secrets
import time
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec


def send(authorization: str, body: dict[str, Any], good_key: str) -> tuple[int, Any]:
    if authorization != f"Bearer {good_key}":
        return 401, {
            "errors": [
                {
                    "message": "The provided authorization grant is invalid, expired, or revoked",
                    "field": None,
                    "help": None,
                }
            ]
        }
    if not body.get("personalizations") or not (body.get("from") or {}).get("email"):
        return 400, {"errors": [{"message": "The from object must be provided.", "field": "from"}]}
    return 202, None  # SendGrid answers an accepted send with no body


class Signer:
    """The account's Event Webhook key pair: SendGrid keeps the private key, the customer
    configures the public one (`public_key`) as the verification key."""

    def __init__(self) -> None:
        self.private_key = ec.generate_private_key(ec.SECP256R1())

    @property
    def public_key(self) -> str:
        der = self.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return base64.b64encode(der).decode()

    def headers(self, body: bytes) -> dict[str, str]:
        timestamp = str(int(time.time()))
        signature = self.private_key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        return {
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
        }


def event(kind: str, *, anymail_id: str, email: str, **fields: Any) -> dict[str, Any]:
    """One event of the webhook's list: "delivered", "bounce" (with "reason", "status",
    "type": "bounce" or "blocked"), "spamreport", "unsubscribe", "dropped"."""
    sg_message_id = secrets.token_urlsafe(16)
    return {
        "email": email,
        "timestamp": int(time.time()),
        "smtp-id": f"<{sg_message_id}@ismtpd0001p1lon1.sendgrid.net>",
        "event": kind,
        "sg_event_id": secrets.token_urlsafe(16),
        "sg_message_id": f"{sg_message_id}.filter0001p1las1-1234-5F8A1B2C-1.0",
        "anymail_id": anymail_id,
        **fields,
    }


def bounce(*, anymail_id: str, email: str) -> dict[str, Any]:
    return event(
        "bounce",
        anymail_id=anymail_id,
        email=email,
        reason="550 5.1.1 The email account that you tried to reach does not exist.",
        status="5.1.1",
        type="bounce",
    )
