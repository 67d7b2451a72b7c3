"""Replies as real mail clients write them, replayed through the signed inbound-email
webhook: what is stored (and what the classifier reads) is what the person wrote, without
the quoted history, the signature or its phone number. Files and sources:
tests/fixtures/inbound/email/clients/README.md."""

import time
from pathlib import Path

import pytest

from outreach.inbox.models import MessageIntent
from outreach.models import Message
from tests.channels.helpers import deliver, email_lead, email_sent, platform_sender, process_all

pytestmark = pytest.mark.django_db

CLIENTS = Path(__file__).resolve().parent.parent / "fixtures" / "inbound" / "email" / "clients"

# file, the stored reply text, the intent the classifier gives it
TABLE = [
    ("gmail_en_wrapped_attribution.eml", "Sounds good, call me on Tuesday.", "interested"),
    ("gmail_de_am_schrieb.eml", "Klingt gut, rufen Sie mich gerne am Dienstag an.", "interested"),
    ("outlook_de_von_gesendet.eml", "Danke, kein Interesse.", "not_interested"),
    ("outlook_en_original_message.eml", "Please send me the pricing.", "interested"),
    (
        "outlook_de_urspruengliche_nachricht.eml",
        "Schicken Sie mir bitte ein Angebot.",
        "interested",
    ),
    (
        "outlook_web_html_only_divRplyFwdMsg.eml",
        "Gerne, lassen Sie uns telefonieren.",
        "interested",
    ),
    (
        "apple_mail_html_only_blockquote_cite.eml",
        "Ja, das klingt spannend. Schicken Sie mir mehr Infos.",
        "interested",
    ),
    ("thunderbird_signature.eml", "Yes please, let's schedule a call on Thursday.", "interested"),
    (
        "gmx_html_only_gesendet_von.eml",
        "Bitte nehmen Sie mich aus dem Verteiler, wir haben bereits einen Anbieter.",
        "unsubscribe",
    ),
]


@pytest.fixture
def ours(platform_channels):
    """Our sent email to lead1@example.com, in a running two-step sequence."""
    conv, enrollment = email_lead(platform_sender("email", "anna@acme.example"))
    body = "Hallo Lead1, ich bin ab Freitag im Urlaub, vorher aber: Interesse?"
    return email_sent(conv, subject="Kurze Frage", body=body), enrollment


@pytest.mark.parametrize(("name", "text", "label"), TABLE, ids=[row[0] for row in TABLE])
def test_a_reply_is_stored_without_quoted_history_or_signature(client, ours, name, text, label):
    message, enrollment = ours
    raw = (
        (CLIENTS / name)
        .read_bytes()
        .replace(b"<OUR-MESSAGE-ID>", message.provider_message_id.encode())
    )
    assert deliver(client, "email", raw) == 200
    assert process_all() in (["reply"], ["opt_out"])
    reply = Message.objects.get(direction="in")
    assert reply.body == text
    assert "1234567" not in reply.body  # the signature's phone number
    assert "Urlaub" not in reply.body and "office" not in reply.body
    # Our own quoted "im Urlaub" is not the contact's out-of-office: the sequence stops.
    assert MessageIntent.objects.get(message=reply).label == label
    enrollment.refresh_from_db()
    assert enrollment.state != "paused"


def test_a_hostile_reply_shaped_like_an_attribution_is_stored_quickly(client, ours):
    """A 24 kB line starting "On " made the quote patterns backtrack for about a minute,
    holding the worker and every reply behind it."""
    message, _ = ours
    body = "On " + "a " * 12_000
    raw = (
        f"From: <lead1@example.com>\r\nTo: anna@acme.example\r\nSubject: Re: x\r\n"
        f"Message-ID: <long@example.com>\r\nIn-Reply-To: {message.provider_message_id}\r\n"
        f"Content-Type: text/plain\r\n\r\n{body}\r\n"
    ).encode()
    assert deliver(client, "email", raw) == 200
    started = time.monotonic()
    assert process_all() == ["reply"]
    assert time.monotonic() - started < 10
    assert Message.objects.get(direction="in").body == body.strip()


def test_an_html_only_reply_with_an_xml_declaration_keeps_its_text(client, ours):
    message, _ = ours
    raw = (
        f"From: <lead1@example.com>\r\nTo: anna@acme.example\r\nSubject: Re: x\r\n"
        f"Message-ID: <xhtml@example.com>\r\nIn-Reply-To: {message.provider_message_id}\r\n"
        "Content-Type: text/html; charset=utf-8\r\n\r\n"
        '<?xml version="1.0" encoding="utf-8"?>\r\n<html xmlns="http://www.w3.org/1999/xhtml">'
        "<body><p>Gerne, rufen Sie mich an.</p></body></html>\r\n"
    ).encode()
    assert deliver(client, "email", raw) == 200
    assert process_all() == ["reply"]
    assert Message.objects.get(direction="in").body == "Gerne, rufen Sie mich an."
