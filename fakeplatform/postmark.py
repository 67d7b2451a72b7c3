"""Postmark's email API as it answers (https://postmarkapp.com/developer/api/email-api):
POST /email with the server token in X-Postmark-Server-Token, and its bounce webhooks
(https://postmarkapp.com/developer/webhooks/bounce-webhook), which Postmark authenticates
only by the basic-auth credentials in the webhook URL."""

import uuid
from datetime import UTC, datetime
from typing import Any


def send(token: str, body: dict[str, Any], good_token: str) -> tuple[int, dict[str, Any]]:
    """POST /email. A wrong token answers 401 with ErrorCode 10, as Postmark does."""
    if token != good_token:
        return 401, {"ErrorCode": 10, "Message": "The Server Token you provided was invalid."}
    if not body.get("From") or not body.get("To"):
        return 422, {"ErrorCode": 300, "Message": "Invalid email request: no From or To."}
    return 200, {
        "To": body["To"],
        "SubmittedAt": datetime.now(UTC).isoformat(),
        "MessageID": str(uuid.uuid4()),
        "ErrorCode": 0,
        "Message": "OK",
    }


def bounce_webhook(
    *, message_id: str, email: str, record: str = "Bounce", kind: str = "HardBounce"
) -> dict[str, Any]:
    """A bounce or spam complaint webhook body (RecordType "Bounce" or "SpamComplaint")."""
    return {
        "RecordType": record,
        "ID": uuid.uuid4().int % 10**10,
        "Type": kind,
        "TypeCode": 512 if kind == "SpamComplaint" else 1,
        "Name": "Spam complaint" if kind == "SpamComplaint" else "Hard bounce",
        "MessageStream": "outbound",
        "MessageID": message_id,
        "ServerID": 23,
        "Description": (
            "The subscriber explicitly marked this message as spam."
            if kind == "SpamComplaint"
            else "The server was unable to deliver your message (ex: unknown user)."
        ),
        "Details": "Test details",
        "Email": email,
        "From": "sender@example.com",
        "BouncedAt": datetime.now(UTC).isoformat(),
        "DumpAvailable": True,
        "Inactive": True,
        "CanActivate": True,
        "Subject": "Test subject",
    }


def delivery_webhook(*, message_id: str, recipient: str) -> dict[str, Any]:
    """The Delivery webhook (https://postmarkapp.com/developer/webhooks/delivery-webhook)."""
    return {
        "RecordType": "Delivery",
        "ServerID": 23,
        "MessageStream": "outbound",
        "MessageID": message_id,
        "Recipient": recipient,
        "Tag": "",
        "DeliveredAt": datetime.now(UTC).isoformat(),
        "Details": "Test delivery webhook details",
        "Metadata": {},
    }


def header_message_id(request: dict[str, Any], answer: dict[str, Any]) -> str:
    """The Message-ID header of the mail Postmark delivers: the one the API request gave in
    its Headers (Postmark keeps it), else one of its own built on its MessageID."""
    for header in request.get("Headers") or []:
        if header.get("Name", "").lower() == "message-id":
            return header["Value"]
    return f"<{answer['MessageID']}@mtasv.net>"
