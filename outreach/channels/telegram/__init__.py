"""Telegram Bot API: docs/channels.md#telegram. backend.py sends, parses Updates and signs
the deep links that let a contact start the bot."""

from outreach.channels.registry import MB, Channel

CHANNEL = Channel(
    key="telegram",
    label="Telegram",
    backend="outreach.channels.telegram.backend.TelegramChannel",
    secrets="telegram",
    webhooks=True,
    delivery_receipts=False,  # the Bot API has no delivery receipts
    # No lookup: the Bot API cannot read a chat's history, so an ambiguous send can only go
    # to review; waiting longer would only hold the sender's slot.
    settle_after=0.0,
    start_tokens="outreach.channels.telegram.backend.contact_id_from_token",
    text_limit=4_096,
    # Bot API "Sending files" by URL (our backend sends by URL): photos 5 MB, others 20 MB.
    media={
        "image": (5 * MB, None),
        "video": (20 * MB, None),
        "gif": (20 * MB, None),
        "audio": (20 * MB, None),
        "voice": (20 * MB, frozenset({"audio/ogg", "audio/mpeg", "audio/mp4"})),
        "file": (20 * MB, None),
    },
)
