"""Platform webhooks, the one-click unsubscribe link and media-library files. Thin."""

import logging

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.signing import BadSignature, TimestampSigner
from django.db import DatabaseError
from django.http import FileResponse, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from outreach.access import media_assets_visible_to
from outreach.channels import get_channel
from outreach.channels.email.backend import unsubscribe_address
from outreach.channels.registry import channels
from outreach.inbound.store import inbound_items_store, inbound_unparsed_store, webhook_sender
from outreach.media import UPLOAD_TYPES
from outreach.models import MediaAsset, SenderAccount
from outreach.unsubscribe import email_unsubscribe

log = logging.getLogger(__name__)


@csrf_exempt  # platforms cannot send CSRF tokens; the signature is the authentication
@require_http_methods(["GET", "POST"])
def webhook(request: HttpRequest, channel: str, account: str = "") -> HttpResponse:
    kind = channels().get(channel)
    if kind is None or not kind.webhooks:
        return HttpResponse(status=404)
    backend = get_channel(channel)
    if account and not backend.account_webhooks:
        return HttpResponse(status=404)
    if request.method == "GET":
        answer = backend.handshake(request.GET)
        if answer is None:
            return HttpResponse(status=400)
        status, body, content_type = answer
        return HttpResponse(body, status=status, content_type=content_type)
    # A wrong shared secret is refused before the body is read: no one without it can make
    # us read up to INBOUND_EMAIL_MAX_BYTES.
    if not backend.verify_headers(request.headers):
        return HttpResponse("bad signature", status=403)
    # The raw bytes: re-serialized JSON would break the signature.
    limit = getattr(settings, kind.webhook_max_bytes) if kind.webhook_max_bytes else None
    raw = _body(request, limit)
    if raw is None:
        return HttpResponse("body too large", status=413)
    if not backend.verify_signature(request.headers, raw):
        return HttpResponse("bad signature", status=403)
    # Looked up only after the signature: an unsigned request learns nothing of our senders.
    sender = webhook_sender(channel=channel, ref=account) if account else None
    if account and sender is None:
        return HttpResponse(status=404)
    try:
        try:
            items = backend.parse_webhook(raw)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            if not kind.webhook_keeps_unreadable:
                # Signed JSON not of the shape the platform documents (a list, a string
                # where an object belongs): nothing to store, and a 5xx would be retried
                # for days.
                log.warning("unreadable %s webhook body: %.200r", channel, raw)
                return HttpResponse("unreadable body", status=400)
            _unparsed(channel, raw, sender, exc)
        except Exception as exc:  # the parser tripped on a body (a mail) that arrived
            _unparsed(channel, raw, sender, exc)
        else:
            inbound_items_store(
                provider=channel, items=items, sender=sender, per_sender=bool(sender), raw=raw
            )
    except DatabaseError:
        # Not stored: a 5xx makes the platform deliver it again later.
        log.exception("could not store %s webhook", channel)
        return HttpResponse("try again later", status=503)
    return HttpResponse("ok")


def _unparsed(channel: str, raw: bytes, sender: SenderAccount | None, exc: Exception) -> None:
    """Kept raw and quarantined (replayable from the admin): a 2xx, or it comes again."""
    log.warning("%s webhook body the parser cannot read: %r", channel, exc)
    error = f"{type(exc).__name__}: {exc}"
    inbound_unparsed_store(provider=channel, raw=raw, sender=sender, error=error)


def _body(request: HttpRequest, limit: int | None) -> bytes | None:
    """The request body, or None when it is over `limit` bytes (Django's own limit when
    None). Read from the stream: request.body would refuse anything over
    DATA_UPLOAD_MAX_MEMORY_SIZE with a 400, which the platform may never retry."""
    if limit is None:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if limit is None:
        return request.read()
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit:
        return None
    raw = request.read(limit + 1)
    return None if len(raw) > limit else raw


@csrf_exempt  # RFC 8058: mail providers POST "List-Unsubscribe=One-Click" with no token
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    address = unsubscribe_address(token)
    page = "outreach/unsubscribe.html"
    if address is None:
        return render(request, page, {"address": None}, status=404)
    # A GET only asks: link scanners follow GETs, so only a POST unsubscribes.
    if request.method == "POST":
        email_unsubscribe(address=address, source="one-click unsubscribe")
    return render(request, page, {"address": address, "done": request.method == "POST"})


_SERVABLE = set().union(*UPLOAD_TYPES.values())
_INLINE = {t for t in _SERVABLE if t.split("/")[0] in ("image", "video", "audio")}


def _signed_for(pk: int, sig: str) -> bool:
    """A platform fetching an attachment has no login: the link carries a signature."""
    try:
        TimestampSigner(salt="outreach.media").unsign(
            f"{pk}:{sig}", max_age=settings.MEDIA_LINK_MAX_AGE
        )
    except BadSignature:
        return False
    return True


@require_http_methods(["GET", "HEAD"])
def media_file(request: HttpRequest, pk: int) -> HttpResponseBase:
    """An uploaded media-library file, for users who may see the asset (others: 404), or for
    anyone holding an unexpired signed link (the platforms that fetch attachments).

    Sent with the type its content showed at upload (anything else goes out as
    application/octet-stream), nosniff, as an attachment unless it is an image, video or
    audio, and a sandboxing CSP so that nothing in it can run on this origin."""
    if _signed_for(pk, request.GET.get("sig", "")):
        visible = MediaAsset.objects.all()
    elif not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    else:
        visible = media_assets_visible_to(request.user)
    asset = get_object_or_404(visible.exclude(file=""), pk=pk)
    try:
        handle = asset.file.open("rb")
    except FileNotFoundError:
        return HttpResponse("The file is missing from storage.", status=404)
    return stored_file_response(handle, asset.content_type, asset.file.name or "")


def stored_file_response(handle, content_type: str, name: str) -> FileResponse:
    """A stored file (a media-library upload, a copy of inbound media) as we serve it: with
    the type its bytes showed (anything else as application/octet-stream), nosniff, as an
    attachment unless it is an image, video or audio, and a sandboxing CSP so that nothing
    in it can run on this origin; never cached by shared caches."""
    ctype = content_type if content_type in _SERVABLE else "application/octet-stream"
    response = FileResponse(
        handle,
        content_type=ctype,
        as_attachment=ctype not in _INLINE,
        filename=name.rsplit("/", 1)[-1],
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response
