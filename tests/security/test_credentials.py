"""Platform credentials: never plaintext in the database, readable across a key rotation,
masked in the admin and the API, and never in a log line."""

import logging

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection

from outreach.fields import _fernet
from outreach.models import SenderAccount
from tests import factories

pytestmark = pytest.mark.django_db
TOKEN = "EAAG-super-secret-page-token-0042"


def stored(sender: SenderAccount) -> str:
    with connection.cursor() as cur:
        cur.execute("SELECT credentials FROM outreach_senderaccount WHERE id = %s", [sender.id])
        return cur.fetchone()[0]


@pytest.fixture
def keys(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.CREDENTIALS_KEYS = [old]
    yield settings, old, new
    _fernet.cache_clear()


def test_the_database_holds_no_plaintext_token(keys):
    sender = factories.sender(credentials=TOKEN)
    assert TOKEN not in stored(sender)
    assert SenderAccount.objects.get(id=sender.id).credentials == TOKEN


def test_rotating_the_key_keeps_tokens_readable_and_reencrypts_with_the_new_key(keys):
    settings, old, new = keys
    sender = factories.sender(credentials=TOKEN)
    before = stored(sender)
    settings.CREDENTIALS_KEYS = [new, old]  # new key first: encrypts; old still decrypts
    assert SenderAccount.objects.get(id=sender.id).credentials == TOKEN
    call_command("rotate_credentials")
    after = stored(sender)
    assert after != before
    settings.CREDENTIALS_KEYS = [new]  # old key retired
    assert SenderAccount.objects.get(id=sender.id).credentials == TOKEN


def test_admin_never_shows_the_token_in_full(keys, client):
    sender = factories.sender(credentials=TOKEN)
    client.force_login(User.objects.create_superuser("root", "r@example.com", "pw-123456"))
    page = client.get(f"/admin/outreach/senderaccount/{sender.id}/change/").content.decode()
    assert TOKEN not in page
    assert "0042" in page  # the masked tail, so a human recognises which token it is


def test_a_failed_send_never_logs_the_token(keys, caplog, settings):
    """The Telegram API puts the bot token in the URL; a failing call must not leak it."""
    from outreach.models import Conversation, Message
    from outreach.sending.deliver import message_send

    settings.OUTREACH_CHANNELS = {
        **settings.OUTREACH_CHANNELS,
        "telegram": {
            "BACKEND": "outreach.channels.telegram.backend.TelegramChannel",
            "OPTIONS": {"base_url": "http://127.0.0.1:9"},  # nothing listens: connect error
        },
    }
    contact = factories.contact(channels=("telegram",))
    identity = contact.identities.get()
    identity.platform_user_id = "12345"
    identity.save()
    sender = factories.sender(channel="telegram", credentials=TOKEN)
    conversation = Conversation.objects.create(identity=identity, sender=sender)
    message = Message.objects.create(
        conversation=conversation,
        sender=sender,
        channel="telegram",
        direction="out",
        status="queued",
        body="hello",
    )
    with caplog.at_level(logging.DEBUG):
        message_send(message_id=message.id)
    message.refresh_from_db()
    assert message.status != "sent"
    everything = caplog.text + message.error_reason + message.hold_reason + sender.last_error
    assert TOKEN not in everything
    assert TOKEN not in "".join(str(e.detail) for e in message.events.all())


def test_a_successful_platform_call_never_logs_its_url_with_the_token(caplog):
    """httpx logs each request line at INFO; Telegram's API carries the token in the URL."""
    import httpx

    from fakeplatform.server import FakePlatformServer

    server = FakePlatformServer().start()
    try:
        with caplog.at_level(logging.DEBUG):
            httpx.get(f"{server.url}/bot{TOKEN}/getMe", timeout=5)
    finally:
        server.stop()
    assert TOKEN not in caplog.text
