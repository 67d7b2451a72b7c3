"""Email through SendGrid and Brevo (django-anymail's backends over real HTTP to the fake ESP,
fakeplatform/sendgrid.py and brevo.py), and their tracking and inbound webhooks signed as each
ESP signs them (SendGrid: ECDSA over timestamp + body; Brevo: basic auth in the URL), feeding
the same bounce, complaint, opt-out and reply services as mailbox parsing."""

import json

import pytest

from contacts.services import suppressions_matching
from deliverability.models import SenderGuard
from deliverability.rates import sender_rates
from fakeplatform import brevo, sendgrid
from fakeplatform.esp import EspServer
from outreach.models import InboundEvent, Message, SenderAccount
from tests.channels.conftest import ESP_AUTH
from tests.channels.helpers import email_sent, esp_lead, process_all

pytestmark = pytest.mark.django_db

ESPS = ["sendgrid", "brevo"]


def _track(client, server: EspServer, esp: str, events: list[dict], signer=None):
    """Post tracking events as the ESP does: SendGrid a signed list, Brevo one per post."""
    if esp == "sendgrid":
        data = json.dumps(events).encode()
        signed = (signer or server.sendgrid_signer).headers(data)
        headers = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in signed.items()}
        return client.post(
            "/anymail/sendgrid/tracking/",
            data=data,
            content_type="application/json",
            **headers,
            **ESP_AUTH,
        )
    [event] = events
    return client.post(
        "/anymail/brevo/tracking/",
        data=json.dumps(event),
        content_type="application/json",
        **ESP_AUTH,
    )


def _event(server: EspServer, esp: str, kind: str, ours: Message, **fields) -> dict:
    if esp == "sendgrid":
        return sendgrid.event(
            kind, anymail_id=ours.provider_message_id, email="lead1@example.com", **fields
        )
    return brevo.event(
        kind, message_id=ours.provider_message_id, email="lead1@example.com", **fields
    )


@pytest.mark.parametrize("provider", ESPS)
def test_a_campaign_email_goes_out_through_the_esp_over_http(esp, provider):
    conv, _ = esp_lead(provider)
    ours = email_sent(conv)
    [sent] = esp.outbox
    assert sent["esp"] == provider
    if provider == "sendgrid":
        [person] = sent["request"]["personalizations"]
        assert person["to"][0]["email"] == "lead1@example.com"
        # SendGrid answers nothing: anymail's own id rides in custom_args and comes back
        # in every event.
        assert ours.provider_message_id == person["custom_args"]["anymail_id"]
        assert sent["request"]["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    else:
        assert sent["request"]["to"][0]["email"] == "lead1@example.com"
        assert ours.provider_message_id == sent["answer"]["messageId"]
        assert sent["request"]["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert ours.status == "sent"


@pytest.mark.parametrize("provider", ESPS)
def test_a_bounce_through_the_esp_raises_the_senders_bounce_rate_and_suppresses_the_address(
    client, esp, provider
):
    conv, enrollment = esp_lead(provider)
    ours = email_sent(conv)
    before = sender_rates(conv.sender, now=ours.sent_at, days=7)
    assert (before.sends, before.hard_bounces) == (1, 0)
    if provider == "sendgrid":
        event = sendgrid.bounce(anymail_id=ours.provider_message_id, email="lead1@example.com")
    else:
        event = brevo.hard_bounce(message_id=ours.provider_message_id, email="lead1@example.com")
    assert _track(client, esp, provider, [event]).status_code == 200
    assert process_all() == ["bounce"]
    ours.refresh_from_db()
    assert (ours.status, ours.error_code) == ("failed", "bounce_5.1.1")
    after = sender_rates(conv.sender, now=ours.sent_at, days=7)
    assert (after.hard_bounces, after.bounce_rate) == (1, 100.0)
    assert suppressions_matching("lead1@example.com", "email").exists()


def test_a_brevo_soft_bounce_does_not_count_as_a_hard_bounce(client, esp):
    conv, _ = esp_lead("brevo")
    ours = email_sent(conv)
    event = brevo.event(
        "soft_bounce",
        message_id=ours.provider_message_id,
        email="lead1@example.com",
        reason="undefined Unable to find MX of domain example.com",
    )
    assert _track(client, esp, "brevo", [event]).status_code == 200
    process_all()
    assert sender_rates(conv.sender, now=ours.sent_at, days=7).hard_bounces == 0
    assert not suppressions_matching("lead1@example.com", "email").exists()


@pytest.mark.parametrize(("provider", "kind"), [("sendgrid", "spamreport"), ("brevo", "spam")])
def test_a_spam_complaint_through_the_esp_counts_toward_the_complaint_guard(
    client, esp, provider, kind
):
    conv, enrollment = esp_lead(provider)
    SenderGuard.objects.create(sender=conv.sender, min_sends=1)
    ours = email_sent(conv)
    assert _track(client, esp, provider, [_event(esp, provider, kind, ours)]).status_code == 200
    assert process_all() == ["complaint"]
    assert sender_rates(conv.sender, now=ours.sent_at, days=7).complaints == 1
    sender = SenderAccount.objects.get(id=conv.sender_id)
    assert sender.paused
    assert "complaint rate 100% over the last 7 days (limit 0.3%)" in sender.paused_reason
    assert suppressions_matching("lead1@example.com", "email").exists()
    enrollment.refresh_from_db()
    assert enrollment.state not in ("active", "replied")


@pytest.mark.parametrize("provider", ESPS)
def test_an_unsubscribe_through_the_esp_opts_the_address_out(client, esp, provider):
    conv, _ = esp_lead(provider)
    ours = email_sent(conv)
    event = _event(esp, provider, "unsubscribe", ours)
    assert _track(client, esp, provider, [event]).status_code == 200
    assert process_all() == ["opt_out"]
    assert suppressions_matching("lead1@example.com", "email").exists()


def test_a_sendgrid_event_signed_with_another_key_is_refused_and_changes_nothing(client, esp):
    conv, _ = esp_lead("sendgrid")
    ours = email_sent(conv)
    event = sendgrid.bounce(anymail_id=ours.provider_message_id, email="lead1@example.com")
    response = _track(client, esp, "sendgrid", [event], signer=sendgrid.Signer())
    assert response.status_code == 403
    assert not InboundEvent.objects.exists()
    assert not suppressions_matching("lead1@example.com", "email").exists()


def test_a_brevo_event_without_our_basic_auth_is_refused(client, esp):
    conv, _ = esp_lead("brevo")
    ours = email_sent(conv)
    event = brevo.hard_bounce(message_id=ours.provider_message_id, email="lead1@example.com")
    response = client.post(
        "/anymail/brevo/tracking/", data=json.dumps(event), content_type="application/json"
    )
    assert response.status_code == 403
    assert not InboundEvent.objects.exists()


def _reply_headers(ours_header_id: str) -> dict[str, str]:
    return {
        "From": "Lead One <lead1@example.com>",
        "To": "anna@acme.example",
        "Subject": "Re: Quick question",
        "Message-ID": "<reply-esp-2@example.com>",
        "In-Reply-To": ours_header_id,
        "References": ours_header_id,
        "Date": "Sun, 6 Dec 2026 14:20:00 +0000",
    }


@pytest.mark.parametrize("provider", ESPS)
def test_a_reply_through_the_esps_inbound_parse_stops_the_contacts_follow_ups(
    client, esp, provider
):
    conv, enrollment = esp_lead(provider)
    email_sent(conv)
    [sent] = esp.outbox
    headers = _reply_headers(sent["request"]["headers"]["Message-ID"])
    text = "Yes, let's talk Tuesday."
    if provider == "sendgrid":
        # SendGrid's Inbound Parse with "post the raw, full MIME message" on: multipart form.
        raw = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        raw += f"Content-Type: text/plain\r\n\r\n{text}\r\n"
        envelope = json.dumps({"to": ["anna@acme.example"], "from": "lead1@example.com"})
        response = client.post(
            "/anymail/sendgrid/inbound/",
            data={"email": raw, "envelope": envelope, "spam_score": "0.1", "charsets": "{}"},
            **ESP_AUTH,
        )
    else:
        body = brevo.inbound(raw_headers=headers, text=text, uuid="9f6f1bd6-inbound-1")
        response = client.post(
            "/anymail/brevo/inbound/",
            data=json.dumps(body),
            content_type="application/json",
            **ESP_AUTH,
        )
    assert response.status_code == 200
    assert process_all() == ["reply"]
    enrollment.refresh_from_db()
    assert enrollment.state == "replied"
    reply = Message.objects.get(direction="in")
    assert reply.conversation_id == conv.id
    assert reply.body.startswith("Yes, let's talk Tuesday.")
