"""DKIM signing in the app (RFC 6376, dkimpy) for senders whose mail server does not sign:
a 2048-bit RSA key per domain, its public half published at
``<selector>._domainkey.<domain>``, and the signature the email channel prepends to each
message (EMAIL_MESSAGE_SIGNER, outreach/channels/email/backend.py)."""

import base64
import email
import logging

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from deliverability.models import SendingDomain

log = logging.getLogger(__name__)

# What Gmail and Yahoo want covered (one-click unsubscribe must be signed, RFC 8058 4),
# plus the addressing headers when the message has them.
SIGNED = ["From", "Subject", "Date", "Message-ID", "List-Unsubscribe", "List-Unsubscribe-Post"]
SIGNED_IF_PRESENT = ["To", "Reply-To", "Cc", "In-Reply-To", "References"]


def key_pair() -> tuple[str, str]:
    """(private key PEM, public key as the base64 DER the TXT record's p= carries)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, base64.b64encode(public).decode()


def message_sign(message: bytes, from_domain: str) -> bytes | None:
    """The DKIM-Signature header line(s) to prepend to ``message`` (bytes as sent, CRLF),
    or None when the From domain does not sign in the app."""
    sending = (
        SendingDomain.objects.filter(domain=from_domain.lower(), signing=True)
        .exclude(dkim_private_key="")
        .first()
    )
    if sending is None:
        return None
    parsed = email.message_from_bytes(message)
    present = {name.lower() for name in parsed}  # iterating a Message gives its header names
    headers = SIGNED + [h for h in SIGNED_IF_PRESENT if h.lower() in present]
    try:
        return dkim.sign(
            message,
            sending.dkim_selector.encode(),
            sending.signing_domain.encode(),
            sending.dkim_private_key.encode(),
            include_headers=[h.encode() for h in headers],
        )
    except dkim.DKIMException:
        # An unsigned message still goes: a broken key shows as failing DKIM on the domain
        # page, and refusing to send would hide it behind held messages.
        log.exception("DKIM signing failed for %s", from_domain)
        return None
