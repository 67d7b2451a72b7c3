"""Inbound media kept: what a contact sends (a Telegram voice note, a WhatsApp image, an
Instagram or Messenger image, share or story) arrives as a platform file id, media id or CDN
link, and those expire. Soon after the message is stored, a task downloads each attachment
through the platform's own API (the channel backend's media_source) into the default
storage, and records on the attachment entry in Message.attachments:

    fetch: "stored" | "refused" | "failed" | "skipped"
    stored, size, content_type: the file in storage (when stored)
    fetch_error: why not (otherwise)

The platform's own reference (file_id, media_id, url) stays on the entry. Files over
INBOUND_MEDIA_MAX_BYTES, or whose bytes are not an image, video, audio or common document
(judged by the bytes, as uploads are: outreach.media.sniff_content_type), are refused;
network errors and 5xx answers are tried again with backoff (outreach.tasks), and a fetch
that keeps failing is recorded as failed. The message itself never depends on any of this.
"""

import logging
import mimetypes
import tempfile
import uuid
from datetime import datetime, timedelta
from typing import IO, Any
from urllib.parse import urlsplit

import httpx
from celery import current_app
from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from outreach.channels import get_channel, http
from outreach.channels.base import (
    Ambiguous,
    BaseChannel,
    ChannelError,
    MediaSource,
    RateLimited,
    Transient,
)
from outreach.media import UPLOAD_TYPES, sniff_content_type
from outreach.models import Message

log = logging.getLogger(__name__)

# The platform's reference to the file, by channel backend: Telegram file_id, WhatsApp
# media_id, Meta CDN url.
REFERENCES = ("file_id", "media_id", "url")
DONE = {"stored", "refused", "failed", "skipped"}
KEPT_TYPES = set().union(*UPLOAD_TYPES.values())
CHUNK = 64 * 1024


class FetchLater(Exception):
    """A network error or a 5xx/429 answer: worth trying again later."""


def _reference(entry: Any) -> str:
    if not isinstance(entry, dict):
        return ""
    return next((str(entry[k]) for k in REFERENCES if entry.get(k)), "")


def _waiting(entry: Any) -> bool:
    return bool(_reference(entry)) and entry.get("fetch") not in DONE


def inbound_media_enqueue(message: Message) -> None:
    """Queue the download of a just-stored inbound message's attachments, once the message
    is committed. A lost task loses only the copy: the message and its links stay."""
    if not any(_waiting(a) for a in message.attachments or []):
        return
    message_id = message.id

    def enqueue() -> None:
        try:
            # By name, as outreach.inbound.store queues processing: no import loop.
            current_app.send_task("outreach.tasks.fetch_inbound_media", args=(message_id,))
        except Exception:
            log.exception("could not queue the media download of message %s", message_id)

    transaction.on_commit(enqueue)


def inbound_media_fetch(*, message_id: int, last_try: bool = False) -> str:
    """Download every attachment of the message not fetched yet. Raises FetchLater when one
    is worth trying again (unless `last_try`: then it is recorded as failed)."""
    message = (
        Message.objects.select_related("sender")
        .filter(id=message_id, direction=Message.Direction.INBOUND, deleted_at=None)
        .first()
    )
    if message is None:
        return "no such message"
    backend = get_channel(message.channel)
    credentials = message.sender.credentials if message.sender else ""
    later: list[str] = []
    outcomes: list[str] = []
    for index, entry in enumerate(list(message.attachments or [])):
        if not _waiting(entry):
            continue
        try:
            result = _fetch_one(backend, credentials, entry)
        except FetchLater as exc:
            reason = _scrub(str(exc), credentials)
            if not last_try:
                later.append(reason)
                continue
            result = {"fetch": "failed", "fetch_error": f"gave up: {reason}"[:500]}
        _record(message.id, index, entry, result)
        outcomes.append(result["fetch"])
    if later:
        raise FetchLater("; ".join(later))
    return ", ".join(outcomes) or "nothing to fetch"


def inbound_media_sweep(*, now: datetime | None = None, limit: int = 50) -> int:
    """Download what a lost task left waiting (the broker was down when the message was
    stored, or a worker died mid-download): inbound messages of the last day with an
    attachment not fetched yet, older than a queued task's retries take. Beat runs this;
    what still fails waits for the next run. Returns how many messages it tried."""
    now = now or timezone.now()
    # A queued task waits R, 2R, 4R, ... between its attempts.
    waits = 2 ** (settings.INBOUND_MEDIA_ATTEMPTS - 1) - 1
    retries = settings.INBOUND_MEDIA_RETRY_SECONDS * waits
    rows = (
        Message.objects.filter(
            direction=Message.Direction.INBOUND,
            deleted_at=None,
            created_at__gte=now - timedelta(days=1),
            created_at__lt=now - timedelta(seconds=retries + 60),
        )
        .exclude(attachments=[])
        .order_by("id")
        .values_list("id", "attachments")
    )
    waiting = [i for i, attachments in rows.iterator() if any(map(_waiting, attachments or []))]
    for message_id in waiting[:limit]:
        try:
            inbound_media_fetch(message_id=message_id)
        except FetchLater as exc:
            log.info("media of message %s: %s; tried again on the next sweep", message_id, exc)
    return len(waiting[:limit])


def _fetch_one(backend: BaseChannel, credentials: str, entry: dict[str, Any]) -> dict[str, Any]:
    try:
        source = backend.media_source(credentials=credentials, attachment=entry)
    except (Transient, Ambiguous, RateLimited) as exc:  # a lookup is a GET: safe to repeat
        raise FetchLater(exc.reason) from exc
    except ChannelError as exc:
        return _not_kept("failed", f"the platform refused: {_scrub(exc.reason, credentials)}")
    if source is None:
        return _not_kept("skipped", f"the {backend.channel} backend cannot download media")
    host = urlsplit(source.url).hostname or ""
    if not backend.media_host_allowed(host):
        return _not_kept("failed", f"{host or 'the link'} is not a {backend.channel} media host")
    limit = settings.INBOUND_MEDIA_MAX_BYTES
    if source.size > limit:
        return _not_kept("refused", _too_big(source.size, limit))
    with tempfile.SpooledTemporaryFile(max_size=1024 * 1024) as tmp:
        size, said, problem = _download(backend, source, tmp, limit)
        if problem:
            return problem
        content_type = sniff_content_type(tmp, source.name)
        if content_type not in KEPT_TYPES:
            said = source.content_type or said or "no type"
            return _not_kept(
                "refused",
                f"not an image, video, audio or common document (the platform said {said}, "
                f"the bytes are {content_type or 'not a format we keep'})",
            )
        tmp.seek(0)
        name = default_storage.save(_storage_name(content_type), File(tmp))
    return {"fetch": "stored", "stored": name, "size": size, "content_type": content_type}


def _download(
    backend: BaseChannel, source: MediaSource, out: IO[bytes], limit: int
) -> tuple[int, str, dict[str, Any] | None]:
    """Stream the file into `out`, never more than `limit` bytes: (size, the type the
    answer declared, None), or (0, "", the reason it is not kept). FetchLater for what may
    work on another try."""
    try:
        with http.client().stream(
            "GET",
            source.url,
            headers=source.headers,
            timeout=httpx.Timeout(30.0, connect=5.0),
            follow_redirects=True,
        ) as r:
            if not backend.media_host_allowed(r.url.host):
                return 0, "", _not_kept("failed", f"redirected to {r.url.host}, not a media host")
            if r.status_code >= 500 or r.status_code == 429:
                raise FetchLater(f"the platform answered HTTP {r.status_code}")
            if r.status_code != 200:
                return 0, "", _not_kept("failed", f"the platform answered HTTP {r.status_code}")
            declared = r.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > limit:
                return 0, "", _not_kept("refused", _too_big(int(declared), limit))
            said = r.headers.get("Content-Type", "").partition(";")[0].strip()[:100]
            size = 0
            for chunk in r.iter_bytes(CHUNK):
                size += len(chunk)
                if size > limit:
                    return 0, "", _not_kept("refused", _too_big(size, limit, more=True))
                out.write(chunk)
    except httpx.HTTPError as exc:
        raise FetchLater(f"network error: {type(exc).__name__}") from exc
    if size == 0:
        return 0, "", _not_kept("failed", "the platform sent an empty file")
    out.seek(0)
    return size, said, None


def _record(message_id: int, index: int, entry: dict[str, Any], result: dict[str, Any]) -> None:
    """Write the outcome on the entry, unless the message changed meanwhile (unsent, or the
    entry is another one): then a file just stored is removed again."""
    with transaction.atomic():
        message = Message.objects.select_for_update().filter(id=message_id).first()
        attachments = list(message.attachments or []) if message else []
        current = attachments[index] if index < len(attachments) else None
        if (
            message is None
            or message.deleted_at is not None
            or not isinstance(current, dict)
            or _reference(current) != _reference(entry)
            or not _waiting(current)
        ):
            _discard([result.get("stored", "")])
            return
        attachments[index] = {**current, **result, "fetched_at": timezone.now().isoformat()}
        message.attachments = attachments
        message.save(update_fields=["attachments"])


def _not_kept(outcome: str, reason: str) -> dict[str, Any]:
    return {"fetch": outcome, "fetch_error": reason[:500]}


def _too_big(size: int, limit: int, *, more: bool = False) -> str:
    mb = 1024 * 1024
    return (
        f"{'over ' if more else ''}{size / mb:.1f} MB is over the "
        f"{limit / mb:.1f} MB limit (INBOUND_MEDIA_MAX_BYTES)"
    )


def _scrub(text: str, credentials: str) -> str:
    """Reasons are stored and shown: a token (Telegram's is in its URLs) never is."""
    return text.replace(credentials, "…") if credentials else text


def _storage_name(content_type: str) -> str:
    ext = mimetypes.guess_extension(content_type) or ""
    return f"inbound/{timezone.now():%Y/%m}/{uuid.uuid4().hex}{ext}"


# --- reading and removing stored copies -------------------------------------------------


def stored_attachment(message: Message, index: int) -> dict[str, Any] | None:
    """The message's attachment entry `index` when a copy of it is stored."""
    attachments = message.attachments or []
    if not 0 <= index < len(attachments) or message.deleted_at is not None:
        return None
    entry = attachments[index]
    return entry if isinstance(entry, dict) and entry.get("stored") else None


def stored_names(messages: QuerySet[Message]) -> list[str]:
    """The stored copies of these messages' attachments."""
    names = []
    for attachments in messages.exclude(attachments=[]).values_list("attachments", flat=True):
        names += [a["stored"] for a in attachments or [] if isinstance(a, dict) and a.get("stored")]
    return names


def inbound_media_discard(messages: QuerySet[Message]) -> int:
    """Remove the stored copies of these messages' attachments once the transaction that
    blanks the messages commits (an unsend, an erasure, retention)."""
    names = stored_names(messages)
    _discard(names)
    return len(names)


def _discard(names: list[str]) -> None:
    names = [n for n in names if n]

    def delete() -> None:
        for name in names:
            try:
                default_storage.delete(name)
            except OSError:
                log.exception("could not delete stored media %s", name)

    if names:
        transaction.on_commit(delete)
