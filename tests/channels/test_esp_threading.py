"""Threading through Postmark: Postmark answers its own MessageID (what its webhooks name), but
the mail it delivers carries the Message-ID we gave in its API's Headers; follow-ups thread
under it, and a reply naming it (In-Reply-To / References) lands in the same conversation
even when it arrives at an address that names no sender (Postmark's inbound address)."""

import json

import pytest

from fakeplatform import postmark
from outreach.models import Message
from outreach.sending.create import conversations_for
from tests.channels.conftest import ESP_AUTH
from tests.channels.helpers import email_lead, email_sent, esp_sender, process_all

pytestmark = pytest.mark.django_db


def _headers(sent: dict) -> dict[str, str]:
    return {h["Name"]: h["Value"] for h in sent["request"]["Headers"]}


def test_a_follow_up_through_postmark_threads_under_the_first_email(esp):
    conv, _ = email_lead(esp_sender("postmark", "anna@acme.example"))
    first = email_sent(conv)
    email_sent(conv, subject="", body="Any thoughts?")
    step1, step2 = esp.outbox
    delivered_id = postmark.header_message_id(step1["request"], step1["answer"])
    # Postmark's own id is what we keep for its webhooks; the mail carries ours.
    assert first.provider_message_id == step1["answer"]["MessageID"]
    assert delivered_id != f"<{first.provider_message_id}@mtasv.net>"
    assert _headers(step2)["In-Reply-To"] == delivered_id
    assert _headers(step2)["References"] == delivered_id
    assert step2["request"]["Subject"] == "Re: Quick question"


def test_a_reply_through_postmark_inbound_lands_in_the_conversation_it_answers(client, esp):
    conv, enrollment = email_lead(esp_sender("postmark", "anna@acme.example"))
    # The same lead also has a conversation with another sender of the team.
    other = esp_sender("postmark", "bob@acme.example")
    other_conv = conversations_for({(conv.identity_id, other.id)})[(conv.identity_id, other.id)]
    email_sent(conv)
    email_sent(conv, subject="", body="Any thoughts?")
    email_sent(other_conv, subject="Something else")
    step1, step2, _ = esp.outbox
    ids = [postmark.header_message_id(s["request"], s["answer"]) for s in (step1, step2)]
    inbound_address = "3f1c2b7e9a@inbound.postmarkapp.com"  # names neither sender
    body = {
        "FromName": "Lead One",
        "From": "lead1@example.com",
        "FromFull": {"Email": "lead1@example.com", "Name": "Lead One", "MailboxHash": ""},
        "To": inbound_address,
        "ToFull": [{"Email": inbound_address, "Name": "", "MailboxHash": ""}],
        "Cc": "",
        "CcFull": [],
        "OriginalRecipient": inbound_address,
        "Subject": "Re: Quick question",
        "MessageID": "73e6d360-66eb-11e1-8e72-a8904824019b",
        "ReplyTo": "",
        "MailboxHash": "",
        "Date": "Sun, 6 Dec 2026 14:20:00 +0000",
        "TextBody": "Step one was interesting, tell me more.",
        "HtmlBody": "",
        "StrippedTextReply": "Step one was interesting, tell me more.",
        "Tag": "",
        "Headers": [
            {"Name": "Message-ID", "Value": "<reply-thread-1@example.com>"},
            {"Name": "In-Reply-To", "Value": ids[1]},
            {"Name": "References", "Value": " ".join(ids)},
        ],
        "Attachments": [],
    }
    response = client.post(
        "/anymail/postmark/inbound/",
        data=json.dumps(body),
        content_type="application/json",
        **ESP_AUTH,
    )
    assert response.status_code == 200
    assert process_all() == ["reply"]
    reply = Message.objects.get(direction="in")
    assert reply.conversation_id == conv.id
    assert reply.sender_id == conv.sender_id
    enrollment.refresh_from_db()
    assert enrollment.state == "replied"
