"""WhatsApp Cloud API: docs/channels.md#whatsapp. backend.py sends and parses webhooks."""

from outreach.channels.registry import MB, Channel

CHANNEL = Channel(
    key="whatsapp",
    label="WhatsApp",
    backend="outreach.channels.whatsapp.backend.WhatsAppChannel",
    secrets="meta",
    webhooks=True,
    unsends=True,
    text_limit=4_096,
    # WhatsApp Cloud API "Supported media types".
    media={
        "image": (5 * MB, frozenset({"image/jpeg", "image/png"})),
        "video": (16 * MB, frozenset({"video/mp4", "video/3gpp"})),
        "gif": (16 * MB, frozenset({"video/mp4"})),  # WhatsApp plays GIFs as looping MP4 video
        "audio": (
            16 * MB,
            frozenset({"audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg"}),
        ),
        "voice": (16 * MB, frozenset({"audio/ogg"})),  # voice notes: OGG/Opus
        "file": (100 * MB, None),
    },
)
