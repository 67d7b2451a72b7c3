"""Attachments from the media library: {"asset": id} entries expanded to what the channel
backends send ({type, url, name, size, content_type}), and per-channel size/type limits
checked before launch (campaigns.services) and again before each send (outreach.sending.gate).

The limits are the platforms' published ones (summed up in
docs/channels.md#text-and-media-limits), declared by each channel (its `media`, in
outreach/channels/<name>/__init__.py).
"""

import json
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from outreach.channels.registry import MB, channels

KINDS = {"image", "video", "audio", "voice", "gif", "file"}
# What a template's attachment may be: the kinds above, WhatsApp's own names for two of them
# (outreach/channels/whatsapp/backend.MEDIA; not size-checked here) and a WhatsApp template.
KNOWN_TYPES = KINDS | {"document", "sticker", "template"}


def media_limits(channel: str) -> Mapping[str, tuple[int, frozenset[str] | None]] | None:
    """kind -> (max bytes, allowed content types or None for any), as the channel declares
    them (outreach/channels/<name>/); None when its attachments are links or platform ids
    and not size-checked (email, X)."""
    found = channels().get(channel)
    return found.media if found else None


_URL = URLValidator(schemes=["http", "https"])
_EXAMPLE = '{"type": "file", "url": "https://…"} or {"asset": 12}'


def attachment_entry_problem(a: object) -> str:
    """Why one attachment entry has not the shape the code below and the channel backends
    read ("" when it has): {"asset": id}, a WhatsApp {"type": "template", "name"}, or
    {"type": one of KINDS, "url" (or X's "media_id"), optional "name", integer "size",
    "content_type"}."""
    if not isinstance(a, dict):
        return f"{_short(a)} is not an object such as {_EXAMPLE}"
    if "asset" in a:
        asset = a["asset"]
        if not isinstance(asset, int) or isinstance(asset, bool) or asset < 1:
            return f"asset {_short(asset)} is not a media asset id (a whole number)"
        return ""
    kind = a.get("type")
    if kind == "template":
        if not isinstance(a.get("name"), str) or not a["name"].strip():
            return "a WhatsApp template needs its approved template's name"
        params = a.get("params", [])
        if not isinstance(params, list) or any(isinstance(p, dict | list) for p in params):
            return "a WhatsApp template's params are a list of plain values"
        return ""
    if kind not in KNOWN_TYPES:
        return f"type {_short(kind)} is not one of {', '.join(sorted(KNOWN_TYPES))}"
    url, media_id = a.get("url"), a.get("media_id")
    if url is None and media_id is None:
        return f'the {kind} has no url (give one, or use a media asset: {{"asset": id}})'
    if url is not None:
        try:
            _URL(url)
        except ValidationError:
            return f"{_short(url)} is not an http(s) URL"
    elif not isinstance(media_id, str | int) or isinstance(media_id, bool) or not media_id:
        return f"media_id {_short(media_id)} is not a platform media id"
    size = a.get("size", 0)
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        return f"size {_short(size)} is not a number of bytes (a whole number)"
    for key in ("name", "content_type"):
        if not isinstance(a.get(key, ""), str):
            return f"{key} {_short(a[key])} is not text"
    return ""


def validate_attachments(value: object) -> None:
    """The one check of a template's attachments: the model field (so the admin and every
    form over it) and the pre-launch and pre-send checks below use it."""
    if not isinstance(value, list):
        raise ValidationError(f"Attachments are a list such as [{_EXAMPLE}].")
    problems = [
        f"attachment {n}: {problem}"
        for n, a in enumerate(value, start=1)
        if (problem := attachment_entry_problem(a))
    ]
    if problems:
        raise ValidationError(problems)


def _short(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:59] + "…"


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
    if not isinstance(attachments, list):
        return [f"attachments are not a list such as [{_EXAMPLE}]"]
    # Entries saved before validate_attachments existed are reported, never read.
    problems = [
        f"attachment {n}: {problem}"
        for n, a in enumerate(attachments, start=1)
        if (problem := attachment_entry_problem(a))
    ]
    if problems:
        return problems
    limits = media_limits(channel)
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


# --- Uploads: what a file is, judged by its first bytes (never by its name or the type the
# browser declared), and how big it may be. ---

# Per kind: the content types an upload of that kind may turn out to be.
UPLOAD_TYPES: dict[str, set[str]] = {
    "image": {"image/jpeg", "image/png", "image/gif", "image/webp"},
    "gif": {"image/gif", "video/mp4"},
    "video": {"video/mp4", "video/quicktime", "video/3gpp"},
    "audio": {"audio/ogg", "audio/mpeg", "audio/mp4", "audio/aac", "audio/amr"},
    "voice": {"audio/ogg", "audio/mpeg", "audio/mp4", "audio/aac", "audio/amr"},
    "file": {
        "application/pdf",
        "application/rtf",
        "text/plain",
        "application/msword",
        "application/vnd.ms-excel",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.oasis.opendocument.presentation",
    },
}


def upload_max(kind: str) -> int:
    """The largest file of this kind any channel takes; bigger uploads could never be sent
    anywhere."""
    return max(
        (c.media[kind][0] for c in channels().values() if c.media and kind in c.media),
        default=0,
    )


_OLE_BY_EXT = {
    "doc": "application/msword",
    "xls": "application/vnd.ms-excel",
    "ppt": "application/vnd.ms-powerpoint",
}
_OOXML_BY_DIR = {
    "word/": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xl/": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt/": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
_MARKUP = (b"<!doctype", b"<html", b"<script", b"<svg", b"<?xml", b"<body", b"<head", b"<iframe")


def _zip_document_type(fileobj) -> str | None:
    import zipfile

    try:
        with zipfile.ZipFile(fileobj) as z:
            names = z.namelist()
            if "mimetype" in names:
                odf = z.read("mimetype")[:100].decode("ascii", "replace").strip()
                return odf if odf in UPLOAD_TYPES["file"] else None
            if "[Content_Types].xml" in names:
                for prefix, ctype in _OOXML_BY_DIR.items():
                    if any(n.startswith(prefix) for n in names):
                        return ctype
    except (zipfile.BadZipFile, OSError, KeyError, RuntimeError, NotImplementedError):
        return None
    return None


def sniff_content_type(fileobj, name: str = "") -> str | None:
    """The content type the file's bytes show, or None when they match nothing we take.

    ``name`` only chooses between formats the bytes cannot tell apart (the old Office
    formats share one container); it never makes a file pass on its own."""
    fileobj.seek(0)
    head = fileobj.read(4096)
    fileobj.seek(0)
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand == b"qt  ":
            return "video/quicktime"
        if brand in (b"M4A ", b"M4B "):
            return "audio/mp4"
        if brand[:3] in (b"3gp", b"3g2"):
            return "video/3gpp"
        return "video/mp4"
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"pnot"):
        return "video/quicktime"  # QuickTime files from before the ftyp atom
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head.startswith(b"ID3"):
        return "audio/mpeg"
    if head.startswith(b"#!AMR\n"):
        return "audio/amr"
    if len(head) > 1 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0:
        return "audio/aac"  # ADTS frame: sync bits, layer 00
    if len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & 0x06:
        return "audio/mpeg"  # MPEG audio frame: sync bits, layer I-III
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"{\\rtf"):
        return "application/rtf"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return _OLE_BY_EXT.get(name.rsplit(".", 1)[-1].lower()) if "." in name else None
    if head.startswith(b"PK\x03\x04"):
        return _zip_document_type(fileobj)
    return _text_type(head)


def _text_type(head: bytes) -> str | None:
    """Plain text: valid UTF-8 without NULs or control bytes, and not markup (an HTML page
    named notes.txt is not a text file)."""
    if not head or b"\0" in head:
        return None
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start < len(head) - 4:  # not just a character cut by the 4 KB window
            return None
        text = head[: e.start].decode("utf-8")
    if any(ord(c) < 32 and c not in "\t\n\r\f" for c in text):
        return None
    lowered = text.lstrip("\ufeff \t\r\n").lower().encode()
    if lowered.startswith(b"<") or any(tag in lowered for tag in _MARKUP):
        return None
    return "text/plain"


_DESCRIBE = {
    "image": "a JPEG, PNG, GIF or WebP image",
    "gif": "a GIF image or an MP4 video",
    "video": "an MP4 or QuickTime video",
    "audio": "OGG, MP3, M4A or AAC audio",
    "voice": "OGG, MP3, M4A or AAC audio",
    "file": "a PDF, Word, Excel, PowerPoint, OpenDocument, RTF or plain-text document",
}


def upload_check(kind: str, upload) -> str:
    """The content type of an upload of this kind, from its bytes; ValueError (with a
    message for the person uploading) when it is not what the kind takes or too big."""
    if kind not in UPLOAD_TYPES:
        raise ValueError(f"Unknown kind {kind!r}.")
    size = upload.size
    if not size:
        raise ValueError("The file is empty.")
    if size > upload_max(kind):
        raise ValueError(
            f"{_mb(size)} is over the {_mb(upload_max(kind))} limit for {kind} "
            "(the largest any channel takes)."
        )
    ctype = sniff_content_type(upload, getattr(upload, "name", "") or "")
    upload.seek(0)
    if ctype not in UPLOAD_TYPES[kind]:
        found = f"its content is {ctype}" if ctype else "its content is not a format we accept"
        raise ValueError(
            f"This file is not {_DESCRIBE[kind]}: {found}, whatever its name or declared type."
        )
    return ctype
