"""Inbound media kept, end to end with a real Celery worker: the fake
platform posts a signed webhook with the platform's real payload shape (a Telegram voice
note, a WhatsApp image, a Messenger image), the worker stores the message and then
downloads the file through the platform's own API (Telegram getFile and /file/bot…, the
WhatsApp media id lookup and its token-protected url, Meta's signed CDN link) into our
storage; the inbox shows the stored copy to whoever may see the conversation, and no one else.

Payloads: tests/fixtures/platforms/telegram/voice_nutgram.json (nutgram, MIT),
tests/fixtures/platforms/whatsapp/inbound_image.json (pywa `message.json` key `image`, MIT),
tests/fixtures/platforms/messenger/inbound_image_attachment.json (messenger4j, MIT); sources
in ../shared/fixtures/platform-samples/webhooks/*/README.md.
"""

import base64
import json
import os
import struct
import zlib
from pathlib import Path

import pytest
from django.core.files.storage import default_storage

from contacts.models import Contact
from core.teams import Team
from outreach.models import Message
from tests.channels.conftest import SECRETS, fixture_json
from tests.channels.helpers import platform_sender
from tests.inbox.helpers import rep
from tests.processes import wait_for

pytestmark = [pytest.mark.live_worker]
LIMIT = 64 * 1024  # INBOUND_MEDIA_MAX_BYTES for these tests' worker
BOT_TOKEN = "123456:ABC-bot-token"
WA_TOKEN = "wa-access-token"
PAGE = "PAGE1"


def png(width: int = 3, height: int = 2) -> bytes:
    """A real (tiny, red) PNG, so the browser can draw it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


VOICE = b"OggS\x00\x02" + os.urandom(6000)  # an Ogg/Opus voice note's first bytes, then noise
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + os.urandom(9000)


@pytest.fixture
def media_root(settings, tmp_path) -> Path:
    root = tmp_path / "var"
    root.mkdir()
    settings.MEDIA_ROOT = root
    return root


@pytest.fixture
def worker(worker_factory, fake, media_root):
    """A worker with the real platform backends pointed at the fake platform, storing media
    under this test's media root, with small limits so the tests stay fast."""
    return worker_factory(
        PLATFORM_BACKENDS="true",
        PLATFORM_BASE_URL=fake.url,
        META_APP_SECRET=SECRETS["meta"],
        TELEGRAM_WEBHOOK_SECRET=SECRETS["telegram"],
        VAR_DIR=str(media_root),
        INBOUND_MEDIA_MAX_BYTES=str(LIMIT),
        INBOUND_MEDIA_ATTEMPTS="3",
        INBOUND_MEDIA_RETRY_SECONDS="0.5",
        DATABASE_CONN_MAX_AGE="0",
    )


@pytest.fixture
def send(live_server, control, platform_channels, worker):
    """The platform posts this webhook body, signed, to the live server."""

    def post(channel: str, body: dict) -> None:
        secret = SECRETS["telegram"] if channel == "telegram" else SECRETS["meta"]
        url = f"{live_server.url}/webhooks/{channel}/"
        control.post("webhooks", platform=channel, url=url, secret=secret)
        assert control.post("deliver", platform=channel, body=body)["statuses"] == [200]

    return post


def upload(control, platform: str, data: bytes, content_type: str, **faults) -> dict:
    """A file the user sends: the platform's reference to it, as its webhook carries it."""
    b64 = base64.b64encode(data).decode()
    return control.post(
        "media", platform=platform, content_b64=b64, content_type=content_type, **faults
    )


def settled(channel: str, timeout: float = 30) -> Message:
    """The channel's inbound message once every attachment with a platform reference has an
    outcome (stored, refused, failed)."""
    found: list[Message] = []

    def done() -> bool:
        m = Message.objects.filter(channel=channel, direction="in").first()
        refs = [
            a
            for a in (m.attachments if m else [])
            if a.get("file_id") or a.get("media_id") or a.get("url")
        ]
        if m is None or not refs or any("fetch" not in a for a in refs):
            return False
        found.append(m)
        return True

    wait_for(done, timeout, message=f"the {channel} attachment to be fetched")
    return found[-1]


def stored_bytes(entry: dict) -> bytes:
    with default_storage.open(entry["stored"], "rb") as f:
        return f.read()


def telegram_voice(file_id: str, size: int) -> dict:
    body = fixture_json("telegram", "voice_nutgram")
    body["message"]["voice"].update(file_id=file_id, file_size=size)
    return body


def whatsapp_image(media_id: str) -> dict:
    body = fixture_json("whatsapp", "inbound_image")
    body["entry"][0]["changes"][0]["value"]["messages"][0]["image"]["id"] = media_id
    return body


def messenger_image(url: str) -> dict:
    text = json.dumps(fixture_json("messenger", "inbound_image_attachment"))
    body = json.loads(text.replace("PAGE_ID", PAGE).replace("USER_ID", "5550001"))
    body["entry"][0]["messaging"][0]["message"]["attachments"][0]["payload"]["url"] = url
    return body


def media_log(control) -> list[dict]:
    return control.client.get(f"{control.url}/_fake/media").json()


# --- kept ----------------------------------------------------------------------------------


def test_a_telegram_voice_note_is_kept_through_getfile_with_its_bytes_and_type(send, control):
    platform_sender("telegram", "acme_bot", BOT_TOKEN)
    ref = upload(control, "telegram", VOICE, "audio/ogg")
    send("telegram", telegram_voice(ref["file_id"], len(VOICE)))

    message = settled("telegram")
    [voice] = message.attachments
    assert (voice["type"], voice["fetch"], voice["content_type"]) == (
        "voice",
        "stored",
        "audio/ogg",
    )
    assert voice["size"] == len(VOICE) and stored_bytes(voice) == VOICE
    assert voice["file_id"] == ref["file_id"]  # the platform's reference stays
    assert BOT_TOKEN not in json.dumps(message.attachments)
    assert message.body == "[voice]"
    [logged] = media_log(control)
    assert (logged["lookups"], logged["downloads"]) == (1, 1)


def test_a_whatsapp_image_is_fetched_by_media_id_with_the_token(send, control):
    platform_sender("whatsapp", "1122334455667", WA_TOKEN)
    ref = upload(control, "whatsapp", JPEG, "image/jpeg")
    send("whatsapp", whatsapp_image(ref["media_id"]))

    [image] = settled("whatsapp").attachments
    assert (image["fetch"], image["content_type"], image["size"]) == (
        "stored",
        "image/jpeg",
        len(JPEG),
    )
    assert stored_bytes(image) == JPEG and image["media_id"] == ref["media_id"]
    assert image["stored"].startswith("inbound/") and image["stored"].endswith(".jpg")


def test_a_messenger_image_is_kept_from_metas_cdn_link_and_the_other_entries_are_left(
    send, control
):
    platform_sender("messenger", PAGE, "page-token")
    picture = png()
    ref = upload(control, "messenger", picture, "image/png")
    send("messenger", messenger_image(ref["url"]))

    message = settled("messenger")
    image, fallback, location = message.attachments
    assert (image["fetch"], image["content_type"]) == ("stored", "image/png")
    assert stored_bytes(image) == picture and image["url"] == ref["url"]
    assert "fetch" not in fallback and "fetch" not in location  # nothing to download


# --- refused and failed ---------------------------------------------------------------------


def test_a_file_over_the_size_limit_is_refused_with_its_reason_and_the_message_stays(send, control):
    platform_sender("whatsapp", "1122334455667", WA_TOKEN)
    big = b"\xff\xd8\xff\xe0" + os.urandom(LIMIT + 10_000)
    ref = upload(control, "whatsapp", big, "image/jpeg")
    send("whatsapp", whatsapp_image(ref["media_id"]))

    message = settled("whatsapp")
    [image] = message.attachments
    assert image["fetch"] == "refused" and "stored" not in image
    assert "over the 0.1 MB limit (INBOUND_MEDIA_MAX_BYTES)" in image["fetch_error"]
    assert image["media_id"] == ref["media_id"]
    assert message.status == "received"
    assert not default_storage.exists("inbound") or not list(
        Path(default_storage.path("inbound")).rglob("*.*")
    )


def test_a_file_whose_bytes_are_a_web_page_is_refused_whatever_type_the_platform_said(
    send, control
):
    platform_sender("messenger", PAGE, "page-token")
    page = b"<!doctype html><script>alert(1)</script>"
    ref = upload(control, "messenger", page, "image/png")
    send("messenger", messenger_image(ref["url"]))

    image = settled("messenger").attachments[0]
    assert image["fetch"] == "refused" and "stored" not in image
    assert "the platform said image/png" in image["fetch_error"]


def test_the_platform_failing_twice_then_answering_still_keeps_the_file(send, control):
    platform_sender("telegram", "acme_bot", BOT_TOKEN)
    ref = upload(control, "telegram", VOICE, "audio/ogg", fail=2, fail_status=502)
    send("telegram", telegram_voice(ref["file_id"], len(VOICE)))

    [voice] = settled("telegram").attachments
    assert voice["fetch"] == "stored" and stored_bytes(voice) == VOICE
    [logged] = media_log(control)
    assert logged["downloads"] == 3  # two 502s, then the file


def test_a_download_that_keeps_failing_is_recorded_as_failed_and_the_message_stays(send, control):
    platform_sender("whatsapp", "1122334455667", WA_TOKEN)
    ref = upload(control, "whatsapp", JPEG, "image/jpeg", fail=99, fail_status=500)
    send("whatsapp", whatsapp_image(ref["media_id"]))

    message = settled("whatsapp")
    [image] = message.attachments
    assert image["fetch"] == "failed" and "stored" not in image
    assert image["fetch_error"] == "gave up: the platform answered HTTP 500"
    assert media_log(control)[0]["downloads"] == 3  # INBOUND_MEDIA_ATTEMPTS
    assert Message.objects.filter(id=message.id, status="received").exists()


# --- who sees it ----------------------------------------------------------------------------


def test_the_stored_copy_is_served_to_who_may_see_the_conversation_and_404_to_another_team(
    send, control, client
):
    platform_sender("telegram", "acme_bot", BOT_TOKEN)
    ref = upload(control, "telegram", VOICE, "audio/ogg")
    send("telegram", telegram_voice(ref["file_id"], len(VOICE)))
    message = settled("telegram")
    ann, bob = rep("ann"), rep("bob")
    Team.objects.create(name="North").members.add(ann)
    Team.objects.create(name="South").members.add(bob)
    Contact.objects.filter(id=message.conversation.identity.contact_id).update(owner=ann)
    url = f"/inbox/{message.conversation_id}/media/{message.id}/0/"

    assert client.get(url).status_code == 302  # to the login page
    client.force_login(bob)
    assert client.get(url).status_code == 404
    client.force_login(ann)
    r = client.get(url)
    assert r.status_code == 200 and r["Content-Type"] == "audio/ogg"
    assert b"".join(r.streaming_content) == VOICE
    assert r["X-Content-Type-Options"] == "nosniff" and "sandbox" in r["Content-Security-Policy"]
    page = client.get(f"/inbox/{message.conversation_id}/").content.decode()
    assert f'<audio controls preload="none" src="{url}"></audio>' in page
    assert client.get(f"/inbox/{message.conversation_id}/media/{message.id}/1/").status_code == 404


def test_the_inbox_shows_the_image_they_sent_from_our_storage(
    send, control, page, django_user_model
):
    platform_sender("messenger", PAGE, "page-token")
    picture = png(4, 3)
    ref = upload(control, "messenger", picture, "image/png")
    send("messenger", messenger_image(ref["url"]))
    message = settled("messenger")
    django_user_model.objects.create_superuser("boss", "boss@example.com", "boss-password-1")
    page.goto("/accounts/login/")
    page.fill("#id_username", "boss")
    page.fill("#id_password", "boss-password-1")
    page.locator("form button[type=submit], form input[type=submit]").first.click()
    page.wait_for_load_state()

    page.goto(f"/inbox/{message.conversation_id}/")
    img = page.locator(f".message[data-message='{message.pk}'] .attachment.stored img")
    img.wait_for()
    assert img.get_attribute("src") == f"/inbox/{message.conversation_id}/media/{message.id}/0/"
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=img.element_handle())
    assert img.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [4, 3]
