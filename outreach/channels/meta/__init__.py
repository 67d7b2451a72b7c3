"""Instagram and Facebook Messenger (Meta Graph Send API): docs/channels.md#instagram-and-messenger.

backend.py sends, checks policy windows, verifies and parses webhooks; the two channels
below are what the registry (outreach/channels/registry.py) knows of them.
"""

from outreach.channels.registry import MB, Channel

_ANY = None
INSTAGRAM = Channel(
    key="instagram",
    label="Instagram",
    backend="outreach.channels.meta.backend.InstagramChannel",
    secrets="meta",
    webhooks=True,
    unsends=True,
    text_limit=1_000,
    link_rewrite="Instagram sends every link through its l.instagram.com redirect",
    # Instagram Messaging "Send a media message": images 8 MB.
    media={
        "image": (8 * MB, frozenset({"image/jpeg", "image/png", "image/gif"})),
        "gif": (8 * MB, frozenset({"image/gif"})),
        "video": (25 * MB, _ANY),
        "audio": (25 * MB, _ANY),
        "voice": (25 * MB, _ANY),
        "file": (25 * MB, _ANY),
    },
)
MESSENGER = Channel(
    key="messenger",
    label="Facebook Messenger",
    backend="outreach.channels.meta.backend.MessengerChannel",
    secrets="meta",
    webhooks=True,
    unsends=True,
    text_limit=2_000,
    link_rewrite="Messenger sends every link through Facebook's l.facebook.com link shim",
    # Messenger Send API "Attachment": 25 MB, any type.
    media={k: (25 * MB, _ANY) for k in ("image", "video", "audio", "voice", "gif", "file")},
)
