"""Attachments from the media library: {"asset": id} entries expanded to what the channel
backends send ({type, url, name, size, content_type}), and per-channel size/type limits
checked before launch (campaigns.services) and again before each send (outreach.services).

The limits are the platforms' published ones. CHANNELS.md lists which media each channel
takes (sections 2 Instagram, 3 Messenger, 4 WhatsApp "Send", 5 X, 6 Telegram "Send") but not
sizes; the figures below are from the platforms' own pages: WhatsApp Cloud API "Supported
media types", Messenger Send API "Attachment" (25 MB), Instagram Messaging "Send a media
message" (image 8 MB), Telegram Bot API "Sending files" (by URL: photos 5 MB, others 20 MB;
our Telegram backend sends by URL, so the 50 MB upload limit does not apply).
"""

from typing import Any

MB = 1024 * 1024
KINDS = {"image", "video", "audio", "voice", "gif", "file"}
# channel -> kind -> (max bytes, allowed content types or None for any)
LIMITS: dict[str, dict[str, tuple[int, set[str] | None]]] = {
    "whatsapp": {
        "image": (5 * MB, {"image/jpeg", "image/png"}),
        "video": (16 * MB, {"video/mp4", "video/3gpp"}),
        "gif": (16 * MB, {"video/mp4"}),  # WhatsApp plays GIFs as looping MP4 video
        "audio": (16 * MB, {"audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg"}),
        "voice": (16 * MB, {"audio/ogg"}),  # voice notes: OGG/Opus
        "file": (100 * MB, None),
    },
    "messenger": {k: (25 * MB, None) for k in ("image", "video", "audio", "voice", "gif", "file")},
    "instagram": {
        "image": (8 * MB, {"image/jpeg", "image/png", "image/gif"}),
        "gif": (8 * MB, {"image/gif"}),
        "video": (25 * MB, None),
        "audio": (25 * MB, None),
        "voice": (25 * MB, None),
        "file": (25 * MB, None),
    },
    "telegram": {
        "image": (5 * MB, None),
        "video": (20 * MB, None),
        "gif": (20 * MB, None),
        "audio": (20 * MB, None),
        "voice": (20 * MB, {"audio/ogg", "audio/mpeg", "audio/mp4"}),
        "file": (20 * MB, None),
    },
}


def attachments_expand(attachments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Replace {"asset": id} entries by the asset's details; other entries pass unchanged,
    so templates written as [{type, url, name}] keep working."""
    from outreach.models import MediaAsset

    ids = [a["asset"] for a in attachments if a.get("asset")]
    if not ids:
        return attachments
    assets = MediaAsset.objects.in_bulk(ids)
    expanded = []
    for a in attachments:
        asset = assets.get(a["asset"]) if a.get("asset") else None
        if a.get("asset") and asset is None:
            expanded.append({**a, "missing": True})
        elif asset is not None:
            expanded.append(
                {
                    "type": asset.kind,
                    "url": asset.public_url,
                    "name": asset.name,
                    "size": asset.size,
                    "content_type": asset.content_type,
                    "asset": asset.id,
                }
            )
        else:
            expanded.append(a)
    return expanded


def _mb(size: int) -> str:
    return f"{size / MB:.1f} MB".replace(".0 MB", " MB")


def attachment_problems(channel: str, attachments: list[dict[str, Any]]) -> list[str]:
    """Why these attachments cannot go out on this channel (empty: they can)."""
    problems = []
    limits = LIMITS.get(channel)
    for a in attachments_expand(attachments):
        if a.get("missing"):
            problems.append(f"media asset {a['asset']} no longer exists")
            continue
        if limits is None or a.get("type") not in KINDS:
            continue  # email and X send links; templates and other entries are not media
        name = a.get("name") or a.get("url") or a["type"]
        if a["type"] not in limits:
            problems.append(f"{name}: {channel} does not take {a['type']} attachments")
            continue
        max_size, types = limits[a["type"]]
        if a.get("size", 0) > max_size:
            problems.append(
                f"{name}: {_mb(a['size'])} is over {channel}'s {_mb(max_size)} limit for "
                f"{a['type']}"
            )
        ctype = (a.get("content_type") or "").lower()
        if types is not None and ctype and ctype not in types:
            problems.append(f"{name}: {channel} takes {a['type']} as {', '.join(sorted(types))}")
    return problems
