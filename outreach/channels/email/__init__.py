"""Email: docs/channels.md#email. backend.py sends through Django's mail backend (SMTP),
signs one-click unsubscribe links and parses the inbound-email webhook; replies by IMAP are
outreach/mailbox.py's."""

from outreach.channels.registry import Channel

CHANNEL = Channel(
    key="email",
    label="Email",
    backend="outreach.channels.email.backend.EmailChannel",
    secrets="email",
    platform_api=False,  # SMTP, not an HTTP API: PLATFORM_BASE_URL does not apply
    webhooks=True,
    webhook_max_bytes="INBOUND_EMAIL_MAX_BYTES",
    webhook_keeps_unreadable=True,
    subject_limit=300,  # Message.subject
    media=None,  # files go as links
)
