"""Email through an ESP (django-anymail): a campaign email sent over real HTTP to a fake
Postmark / Mailgun (fakeplatform/esp.py), and the ESPs' tracking and inbound webhooks,
posted to our /anymail/ endpoints as each ESP authenticates them, feeding the same bounce,
complaint, opt-out and reply paths as mailbox parsing. Payload shapes: tests/fixtures/esp/."""

import json
import time

import pytest

from contacts.models import Identity
from contacts.services import suppressions_matching
from fakeplatform import mailgun, postmark
from fakeplatform.esp import EspServer
from outreach.models import InboundEvent, Message
from tests.channels.conftest import ESP_AUTH, ESP_WEBHOOK_AUTH, MAILGUN_SIGNING_KEY
from tests.channels.helpers import email_sent, esp_lead, process_all

pytestmark = pytest.mark.django_db


def _post_json(client, url: str, body: dict, **headers):
    return client.post(url, data=json.dumps(body), content_type="application/json", **headers)


def test_a_campaign_email_goes_out_through_postmark_over_http(esp):
    conv, _ = esp_lead("postmark")
    ours = email_sent(conv)
    [sent] = esp.outbox
    assert sent["esp"] == "postmark"
    assert sent["request"]["To"] == "lead1@example.com"
    assert sent["request"]["From"] == "anna@acme.example"
    headers = {h["Name"]: h["Value"] for h in sent["request"]["Headers"]}
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # Postmark's tracking webhooks name its own MessageID: that is what we keep.
    assert ours.provider_message_id == sent["answer"]["MessageID"]
    assert ours.status == "sent"


def test_a_wrong_postmark_token_marks_the_sender_unauthorised_and_sends_nothing(esp):
    conv, _ = esp_lead("postmark")
    conv.sender.credentials = "revoked-token"
    conv.sender.save(update_fields=["credentials"])
    from outreach.sending.create import messages_create
    from outreach.sending.deliver import message_send

    [message] = messages_create(
        [
            Message(
                conversation=conv,
                sender=conv.sender,
                channel="email",
                direction="out",
                status="queued",
                subject="Hi",
                body="Hi",
            )
        ]
    )
    message_send(message_id=message.id)
    message.refresh_from_db()
    conv.sender.refresh_from_db()
    assert esp.outbox == []
    assert message.status != "sent"
    assert conv.sender.health == "auth_expired"


def test_a_mailgun_permanent_failure_bounces_the_message_and_suppresses_the_address(client, esp):
    conv, enrollment = esp_lead("mailgun")
    ours = email_sent(conv)
    assert esp.outbox[0]["esp"] == "mailgun"
    event = mailgun.failed_permanent(
        message_id=ours.provider_message_id, recipient="lead1@example.com"
    )
    response = _post_json(
        client, "/anymail/mailgun/tracking/", mailgun.sign(MAILGUN_SIGNING_KEY, event), **ESP_AUTH
    )
    assert response.status_code == 200
    assert process_all() == ["bounce"]
    ours.refresh_from_db()
    assert (ours.status, ours.error_code) == ("failed", "bounce_5.1.1")
    assert suppressions_matching("lead1@example.com", "email").exists()
    enrollment.refresh_from_db()
    assert enrollment.state != "replied"


def test_a_mailgun_webhook_with_a_bad_signature_is_refused_and_changes_nothing(client, esp):
    conv, _ = esp_lead("mailgun")
    ours = email_sent(conv)
    event = mailgun.failed_permanent(
        message_id=ours.provider_message_id, recipient="lead1@example.com"
    )
    forged = mailgun.sign("not-the-signing-key", event)
    response = _post_json(client, "/anymail/mailgun/tracking/", forged, **ESP_AUTH)
    assert response.status_code == 403
    unauthenticated = _post_json(
        client, "/anymail/mailgun/tracking/", mailgun.sign(MAILGUN_SIGNING_KEY, event)
    )
    assert unauthenticated.status_code == 403
    assert not InboundEvent.objects.exists()
    ours.refresh_from_db()
    assert ours.status == "sent"
    assert not suppressions_matching("lead1@example.com", "email").exists()


def test_a_postmark_spam_complaint_opts_the_contact_out_once_even_when_replayed(client, esp):
    conv, enrollment = esp_lead("postmark")
    ours = email_sent(conv)
    body = postmark.bounce_webhook(
        message_id=ours.provider_message_id,
        email="lead1@example.com",
        record="SpamComplaint",
        kind="SpamComplaint",
    )
    for _ in range(2):  # Postmark retries a webhook it thinks failed: the same body again
        assert (
            _post_json(client, "/anymail/postmark/tracking/", body, **ESP_AUTH).status_code == 200
        )
    assert process_all() == ["complaint"]
    assert InboundEvent.objects.count() == 1
    identity = Identity.objects.get(value="lead1@example.com")
    assert identity.opted_out_at is not None
    assert suppressions_matching("lead1@example.com", "email").exists()
    complaints = Message.objects.filter(direction="in", conversation=conv)
    assert complaints.count() == 1
    enrollment.refresh_from_db()
    assert enrollment.state not in ("active", "replied")


def test_a_postmark_webhook_without_our_basic_auth_is_refused(client, esp):
    conv, _ = esp_lead("postmark")
    ours = email_sent(conv)
    body = postmark.bounce_webhook(message_id=ours.provider_message_id, email="lead1@example.com")
    assert _post_json(client, "/anymail/postmark/tracking/", body).status_code == 403
    assert not InboundEvent.objects.exists()


def test_a_postmark_delivery_marks_the_message_delivered(client, esp):
    conv, _ = esp_lead("postmark")
    ours = email_sent(conv)
    body = {
        "RecordType": "Delivery",
        "ServerID": 23,
        "MessageStream": "outbound",
        "MessageID": ours.provider_message_id,
        "Recipient": "lead1@example.com",
        "Tag": "",
        "DeliveredAt": "2026-12-06T14:00:00Z",
        "Details": "Test delivery webhook details",
    }
    assert _post_json(client, "/anymail/postmark/tracking/", body, **ESP_AUTH).status_code == 200
    assert process_all() == ["delivered: 1"]
    ours.refresh_from_db()
    assert ours.status == "delivered"


def test_a_reply_through_mailgun_inbound_stops_the_sequence(client, esp):
    conv, enrollment = esp_lead("mailgun")
    ours = email_sent(conv)
    raw = (
        "From: Lead One <lead1@example.com>\r\nTo: anna@acme.example\r\n"
        "Subject: Re: Quick question\r\nMessage-ID: <reply-esp-1@example.com>\r\n"
        f"In-Reply-To: {ours.provider_message_id}\r\nReferences: {ours.provider_message_id}\r\n"
        "Content-Type: text/plain\r\n\r\nYes, let's talk Tuesday.\r\n"
    )
    signature = mailgun.sign(MAILGUN_SIGNING_KEY, {})["signature"]
    response = client.post(
        "/anymail/mailgun/inbound_mime/",
        data={"body-mime": raw, "recipient": "anna@acme.example", **signature},
        **ESP_AUTH,
    )
    assert response.status_code == 200
    assert process_all() == ["reply"]
    enrollment.refresh_from_db()
    assert enrollment.state == "replied"
    reply = Message.objects.get(direction="in")
    assert reply.body == "Yes, let's talk Tuesday."


def test_a_mailgun_unsubscribe_opts_the_address_out_like_one_click(client, esp):
    conv, _ = esp_lead("mailgun")
    ours = email_sent(conv)
    event = {
        "event": "unsubscribed",
        "id": "W3X4JOhFT-OZidZGKKr9iA",
        "timestamp": 1377213791.421473,
        "log-level": "info",
        "recipient": "lead1@example.com",
        "message": {"headers": {"message-id": ours.provider_message_id.strip("<>")}},
    }
    body = mailgun.sign(MAILGUN_SIGNING_KEY, event)
    assert _post_json(client, "/anymail/mailgun/tracking/", body, **ESP_AUTH).status_code == 200
    assert process_all() == ["opt_out"]
    assert Identity.objects.get(value="lead1@example.com").opted_out_at is not None
    assert suppressions_matching("lead1@example.com", "email").exists()


def test_a_reply_through_postmark_inbound_stops_the_sequence(client, esp):
    conv, enrollment = esp_lead("postmark")
    email_sent(conv)
    [sent] = esp.outbox
    sent_headers = {h["Name"]: h["Value"] for h in sent["request"]["Headers"]}
    body = {
        "FromName": "Lead One",
        "From": "lead1@example.com",
        "FromFull": {"Email": "lead1@example.com", "Name": "Lead One", "MailboxHash": ""},
        "To": "anna@acme.example",
        "ToFull": [{"Email": "anna@acme.example", "Name": "", "MailboxHash": ""}],
        "Cc": "",
        "CcFull": [],
        "Subject": "Re: Quick question",
        "MessageID": "22c74902-a0c1-4511-804f-341342852c90",
        "Date": "Sun, 6 Dec 2026 14:20:00 +0000",
        "MailboxHash": "",
        "TextBody": "Sounds good, call me Monday.",
        "HtmlBody": "",
        "StrippedTextReply": "Sounds good, call me Monday.",
        "Tag": "",
        "Headers": [
            {"Name": "Message-ID", "Value": "<reply-pm-1@example.com>"},
            # The Message-ID header the lead's mail client saw on our mail.
            {"Name": "In-Reply-To", "Value": sent_headers["Message-ID"]},
        ],
        "Attachments": [],
    }
    assert _post_json(client, "/anymail/postmark/inbound/", body, **ESP_AUTH).status_code == 200
    assert process_all() == ["reply"]
    enrollment.refresh_from_db()
    assert enrollment.state == "replied"


def _webhook_answered(esp: EspServer, count: int) -> list[dict]:
    """The fake's webhook posts once `count` have had the engine's answer (a deadline, not
    a sleep: it returns as soon as they have)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with esp.lock:
            if len(esp.webhook_log) >= count:
                return list(esp.webhook_log)
        time.sleep(0.05)
    raise AssertionError(f"the fake ESP posted {len(esp.webhook_log)} webhooks, not {count}")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("provider", ["postmark", "mailgun"])
def test_the_esp_posts_back_a_signed_delivered_webhook_and_the_message_shows_delivered(
    esp, live_server, provider
):
    with esp.lock:
        esp.webhook_log.clear()
    esp.webhooks = {
        provider: {
            "url": f"{live_server.url}/anymail/{provider}/tracking/",
            "auth": ESP_WEBHOOK_AUTH,
            "signing_key": MAILGUN_SIGNING_KEY,
        }
    }
    try:
        conv, _ = esp_lead(provider)
        ours = email_sent(conv)
        [answered] = _webhook_answered(esp, 1)
    finally:
        esp.webhooks = {}
    assert answered["status"] == 200
    assert process_all() == ["delivered: 1"]
    ours.refresh_from_db()
    assert ours.status == "delivered"
