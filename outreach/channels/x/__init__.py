"""X API v2 direct messages: docs/channels.md#x. backend.py sends, looks up lost answers,
polls and parses Account Activity webhooks."""

from outreach.channels.registry import Channel

CHANNEL = Channel(
    key="x",
    label="X",
    backend="outreach.channels.x.backend.XChannel",
    secrets="x",
    webhooks=True,
    delivery_receipts=False,  # X DM events carry no delivery status
    text_limit=10_000,
    link_length=23,  # X counts each link as its t.co form
    link_rewrite="X wraps every link in a t.co link (23 characters each, counted in the length)",
    media=None,  # one media_id per DM; URL attachments are appended to the text
)
