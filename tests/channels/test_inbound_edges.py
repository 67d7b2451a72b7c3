"""Edges of the inbound webhooks that an attacker reaches without any secret: X's CRC
handshake cannot be turned into a signing oracle, and the inbound-email webhook refuses a
wrong secret before it reads a byte of the body."""

import base64
import copy
import hashlib
import hmac
import json
import socket

import pytest

from contacts.models import Identity
from outreach.models import InboundEvent
from tests.channels.conftest import SECRETS, fixture_json
from tests.channels.helpers import platform_sender, post_webhook, process_all

pytestmark = pytest.mark.django_db


def test_x_crc_refuses_a_body_as_token_so_a_forged_opt_out_is_rejected(client, platform_channels):
    platform_sender("x", "42")
    event = copy.deepcopy(fixture_json("x", "dm_received"))
    event["direct_message_events"][0]["message_create"]["message_data"]["text"] = "STOP"
    forged = json.dumps(event, separators=(",", ":"))
    # The attack: ask the CRC endpoint to "answer" the body, then post the body with it.
    crc = client.get("/webhooks/x/", {"crc_token": forged})
    stolen = crc.json()["response_token"] if crc.status_code == 200 else ""
    posted = post_webhook(client, "x", forged.encode(), {"x-twitter-webhooks-signature": stolen})
    process_all()
    assert not Identity.objects.filter(opted_out_at__isnull=False).exists()
    assert InboundEvent.objects.count() == 0
    assert (crc.status_code, posted.status_code) == (400, 403)


@pytest.mark.parametrize(
    "token",
    ['{"for_user_id":"42"}', '["x"]', '"quoted"', "has space", "line\nbreak", "a" * 129, ""],
)
def test_x_crc_refuses_tokens_that_x_never_sends(client, platform_channels, token):
    r = client.get("/webhooks/x/", {"crc_token": token})
    assert r.status_code == 400
    assert b"response_token" not in r.content


def test_x_crc_answers_a_real_shaped_token(client, platform_channels):
    token = "9b4507b3-9040-4669-9ca3-6b94edb50553"  # the shape of X's own example
    r = client.get("/webhooks/x/", {"crc_token": token})
    digest = hmac.new(SECRETS["x"].encode(), token.encode(), hashlib.sha256).digest()
    assert r.status_code == 200
    assert r.json() == {"response_token": "sha256=" + base64.b64encode(digest).decode()}


def test_inbound_email_with_a_wrong_secret_is_refused_before_the_size_limit(
    client, platform_channels, settings
):
    settings.INBOUND_EMAIL_MAX_BYTES = 1024
    big = b"From: a@example.com\r\n\r\n" + b"x" * 4096
    wrong = post_webhook(client, "email", big, {"X-Webhook-Secret": "guess"})
    right = post_webhook(client, "email", big, {"X-Webhook-Secret": SECRETS["email"]})
    assert (wrong.status_code, right.status_code) == (403, 413)


@pytest.mark.django_db(transaction=True)
def test_inbound_email_with_a_wrong_secret_is_answered_without_reading_the_body(
    live_server, platform_channels
):
    # The request declares a 10 MB body and sends 10 bytes: a server that read the body
    # would wait for the rest; one that checks the secret first answers at once.
    host, port = live_server.url.removeprefix("http://").split(":")
    head = (
        "POST /webhooks/email/ HTTP/1.1\r\n"
        f"Host: {host}\r\n"
        "Content-Type: message/rfc822\r\n"
        "X-Webhook-Secret: guess\r\n"
        f"Content-Length: {10 * 1024 * 1024}\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=20) as conn:
        conn.sendall(head.encode() + b"From: a@ex")
        status_line = conn.makefile("rb").readline()
    assert status_line.split()[1] == b"403"
