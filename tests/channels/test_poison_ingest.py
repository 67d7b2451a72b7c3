"""Poison-proof ingestion: whatever arrives (a NUL byte, a charset no codec knows, a stored
event an older worker cannot read) is stored, never holds back the events behind it, and
what cannot be processed is retried, then quarantined with its reason and replayable from
the admin. Through the real fake IMAP server and signed webhook bytes."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from outreach.inbound.process import MAX_ATTEMPTS, inbound_events_sweep
from outreach.mailbox import mailbox_poll
from outreach.models import InboundEvent, MailboxCursor, Message
from outreach.tasks import sweep_inbound_events
from tests.channels.conftest import fixture_bytes
from tests.channels.helpers import (
    MAILBOX,
    deliver,
    platform_sender,
    process_all,
    reply_by_references,
)
from tests.channels.test_imap import lead as lead  # noqa: F401  (the fixture, reused)
from tests.processes import wait_for

pytestmark = pytest.mark.django_db


def nul_mail() -> bytes:
    """A real-world shape: quoted-printable `=00` in the body, an encoded NUL in the subject."""
    return (
        b"From: Someone Else <someone@else.example>\n"
        b"To: anna@acme.example\n"
        b"Subject: =?utf-8?q?Rechnung=00_Mai?=\n"
        b"Message-ID: <nul-1@else.example>\n"
        b"MIME-Version: 1.0\n"
        b"Content-Type: text/plain; charset=utf-8\n"
        b"Content-Transfer-Encoding: quoted-printable\n\n"
        b"Anbei die Rechnung=00 f=C3=BCr Mai.\n"
    )


def unknown_charset_mail() -> bytes:
    """A charset Python has no codec for ("unknown-8bit" is what some MTAs write)."""
    return (
        b"From: Old Client <old@client.example>\n"
        b"To: anna@acme.example\n"
        b"Subject: hi\n"
        b"Message-ID: <charset-1@client.example>\n"
        b'Content-Type: text/plain; charset="unknown-8bit"\n\n'
        b"Gr\xfc\xdfe\n"
    )


def crlf(raw: bytes) -> bytes:
    return raw.replace(b"\n", b"\r\n")  # as the IMAP server serves it


def test_a_nul_byte_mail_and_an_unreadable_mail_never_hold_back_the_reply_behind_them(
    lead,  # noqa: F811
    imap,
    admin_client,
):
    sender, enrollment, ours = lead
    imap.state.append(MAILBOX, nul_mail())
    imap.state.append(MAILBOX, unknown_charset_mail())
    imap.state.append(MAILBOX, reply_by_references(ours.provider_message_id))

    assert mailbox_poll(sender=sender) == 3
    assert MailboxCursor.objects.get(sender=sender).last_uid == 3  # moved past all three
    assert sorted(process_all()) == ["reply", "unmatched"]
    enrollment.refresh_from_db()
    assert enrollment.state == "replied"  # the follow-up is cancelled
    assert Message.objects.get(direction="in").body == "Hello"

    # The NUL mail is stored, kept byte for byte, its summary without the NUL.
    nul = InboundEvent.objects.get(provider_event_id="<nul-1@else.example>")
    assert bytes(nul.raw) == crlf(nul_mail())
    assert nul.payload["text"] == "Anbei die Rechnung für Mai."
    assert nul.payload["name"] == "Rechnung Mai"
    assert nul.processed_at is not None

    # The unreadable one is quarantined with its reason, raw, and did not stop anything.
    bad = InboundEvent.objects.get(quarantined_at__isnull=False)
    assert bad.status == "quarantined"
    assert "unknown-8bit" in bad.error
    assert bytes(bad.raw) == crlf(unknown_charset_mail())
    page = admin_client.get("/admin/outreach/inboundevent/?status=quarantined")
    assert page.status_code == 200
    assert "unknown encoding: unknown-8bit" in page.content.decode()

    # Replay from the admin reads it again with today's parser: still unreadable, so it is
    # back in quarantine with the reason, and the admin says so.
    response = admin_client.post(
        "/admin/outreach/inboundevent/",
        {"action": "replay", "_selected_action": [bad.pk]},
        follow=True,
    )
    assert "Replayed 1 event: 1 quarantined." in response.content.decode()
    bad.refresh_from_db()
    assert (bad.status, bad.attempts) == ("quarantined", 1)
    assert "unknown-8bit" in bad.error

    # Polling again re-reads nothing: the poison mail does not hold the cursor.
    imap.state.fetched = 0
    assert mailbox_poll(sender=sender) == 0
    assert imap.state.fetched == 0


def test_the_inbound_email_webhook_takes_poison_mail_with_a_2xx_and_the_reply_still_lands(
    client,
    lead,  # noqa: F811
):
    sender, enrollment, ours = lead
    assert deliver(client, "email", nul_mail()) == 200
    assert deliver(client, "email", unknown_charset_mail()) == 200
    reply = reply_by_references(ours.provider_message_id)
    assert deliver(client, "email", reply) == 200

    assert sorted(process_all()) == ["reply", "unmatched"]
    enrollment.refresh_from_db()
    assert enrollment.state == "replied"
    stored = InboundEvent.objects.get(provider_event_id="<nul-1@else.example>")
    assert bytes(stored.raw) == nul_mail()  # the webhook body, byte for byte
    bad = InboundEvent.objects.get(quarantined_at__isnull=False)
    assert "unknown-8bit" in bad.error and bytes(bad.raw) == unknown_charset_mail()
    # The platform delivers the same body again: stored once.
    assert deliver(client, "email", unknown_charset_mail()) == 200
    assert InboundEvent.objects.filter(quarantined_at__isnull=False).count() == 1


def test_an_event_that_keeps_failing_is_retried_with_backoff_then_quarantined_and_blocks_nothing(
    client,
    lead,  # noqa: F811
):
    sender, enrollment, ours = lead
    # Stored by a newer web process during a rolling deploy: a field this worker does not
    # know, so applying it fails every time.
    newer = InboundEvent.objects.create(
        provider="email",
        provider_event_id="<from-a-newer-version@x>",
        payload={"kind": "message", "event_id": "<from-a-newer-version@x>", "new_field": 1},
    )
    InboundEvent.objects.filter(id=newer.id).update(received_at=timezone.now() - timedelta(hours=1))
    assert deliver(client, "email", reply_by_references(ours.provider_message_id)) == 200
    InboundEvent.objects.update(received_at=timezone.now() - timedelta(hours=1))

    assert inbound_events_sweep() == 1  # the reply went through, the newer event did not
    enrollment.refresh_from_db()
    assert enrollment.state == "replied"
    newer.refresh_from_db()
    assert (newer.status, newer.attempts) == ("retrying", 1)
    assert newer.retry_at > timezone.now() + timedelta(seconds=50)  # backoff, not at once
    assert inbound_events_sweep() == 0
    newer.refresh_from_db()
    assert newer.attempts == 1  # not due yet: not tried

    delays = []
    for _ in range(MAX_ATTEMPTS - 1):
        delays.append(newer.retry_at - timezone.now())
        InboundEvent.objects.filter(id=newer.id).update(retry_at=timezone.now())  # time passes
        inbound_events_sweep()
        newer.refresh_from_db()
    assert delays == sorted(delays)  # each wait longer than the one before
    assert newer.status == "quarantined"
    assert newer.attempts == MAX_ATTEMPTS
    assert "TypeError" in newer.error and "new_field" in newer.error
    assert newer.retry_at is None
    assert inbound_events_sweep() == 0  # quarantined: left aside
    newer.refresh_from_db()
    assert newer.attempts == MAX_ATTEMPTS


@pytest.fixture
def broker_down():
    """The Celery broker is unreachable (a port nothing listens on), for this test only."""
    from config.celery import app

    saved = app.conf.broker_url, app.conf.broker_write_url
    app.conf.broker_url = app.conf.broker_write_url = "redis://127.0.0.1:9/0"
    app.conf.broker_connection_timeout = 1
    _reset_pools(app)
    yield
    app.conf.broker_url, app.conf.broker_write_url = saved
    _reset_pools(app)


def _reset_pools(app) -> None:
    app._pool = None
    app.amqp._producer_pool = None


@pytest.mark.django_db(transaction=True)
def test_the_webhook_answers_2xx_once_stored_even_with_the_broker_down_and_the_sweeper_applies_it(
    client,
    lead,  # noqa: F811
    broker_down,
):
    sender, enrollment, ours = lead
    assert deliver(client, "email", reply_by_references(ours.provider_message_id)) == 200
    event = InboundEvent.objects.get()
    assert event.processed_at is None  # stored, its task not queued
    InboundEvent.objects.update(received_at=timezone.now() - timedelta(minutes=2))
    assert inbound_events_sweep() == 1
    enrollment.refresh_from_db()
    assert enrollment.state == "replied"


@pytest.mark.live_worker
@pytest.mark.django_db(transaction=True)
def test_with_the_broker_stopped_a_signed_reply_gets_200_and_is_applied_once_it_is_back(
    client,
    lead,  # noqa: F811
    throwaway_broker,
    worker_factory,
):
    """The broker is a real redis-server, shut down: the webhook answers 200 at once with
    its event stored; once the broker is back, beat's sweep task on a real worker applies it."""
    sender, enrollment, ours = lead
    throwaway_broker.stop()
    started = time.monotonic()
    assert deliver(client, "email", reply_by_references(ours.provider_message_id)) == 200
    assert time.monotonic() - started < 10  # no long wait on the missing broker either
    event = InboundEvent.objects.get()
    assert event.processed_at is None

    throwaway_broker.start()
    worker_factory("inbound", concurrency=1, CELERY_BROKER_URL=throwaway_broker.url)
    # Older than the sweeper's 30 s: as it would be by beat's next sweep after the outage.
    InboundEvent.objects.update(received_at=timezone.now() - timedelta(minutes=2))
    sweep_inbound_events.delay()  # what beat sends each minute
    wait_for(
        lambda: InboundEvent.objects.filter(processed_at__isnull=False).exists(),
        60,
        message="the swept event processed",
    )
    enrollment.refresh_from_db()
    assert enrollment.state == "replied"
    assert Message.objects.filter(direction="in").count() == 1


def test_a_telegram_message_with_a_nul_and_a_lone_surrogate_is_stored_between_two_good_ones(
    client, platform_channels
):
    platform_sender("telegram", "acme_bot")
    bodies = []
    for n, text in enumerate(["first", "bad\\u0000 \\ud800 text", "third"]):
        body = fixture_bytes("telegram", "text_private_real.json")
        body = body.replace(b'"text": "4"', f'"text": "{text}"'.encode())
        body = body.replace(b'"message_id": 154', f'"message_id": {154 + n}'.encode())
        bodies.append(body.replace(b"306197398", str(306197398 + n).encode()))
    assert [deliver(client, "telegram", body) for body in bodies] == [200, 200, 200]
    assert process_all() == ["reply", "reply", "reply"]
    texts = list(
        Message.objects.filter(direction="in").order_by("id").values_list("body", flat=True)
    )
    assert texts == ["first", "bad \ufffd\ufffd\ufffd text", "third"]
    stored = InboundEvent.objects.get(provider_event_id="306197399")
    assert bytes(stored.raw) == bodies[1]  # as received, escapes and all
