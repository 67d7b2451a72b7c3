"""Amazon SES: sending through anymail's amazon_ses backend (boto3, its endpoint pointed at
the fake ESP's SES API v2 over HTTP), and SES's tracking and inbound notifications as SNS
posts them (the x-amz-sns-* headers, a 401 first and then our basic auth, anymail's own
SubscriptionConfirmation handling), feeding the bounce, complaint and reply paths."""

import base64
import email

import pytest

from contacts.services import suppressions_matching
from deliverability.models import SenderGuard
from deliverability.rates import sender_rates
from fakeplatform import ses
from fakeplatform.esp import EspServer
from outreach.models import InboundEvent, Message, SenderAccount
from outreach.sending.create import messages_create
from outreach.sending.deliver import message_send
from tests.channels.conftest import ESP_AUTH
from tests.channels.helpers import email_sent, esp_lead, process_all

pytestmark = pytest.mark.django_db

LEAD = "lead1@example.com"


def _lead(server: EspServer):
    return esp_lead("amazon_ses", credentials=f"{server.ses_key_id}:sender-secret-key")


def _sns(client, url: str, headers: dict[str, str], body: bytes, auth: bool = True):
    meta = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
    meta.pop("HTTP_CONTENT_TYPE")
    return client.post(
        url, data=body, content_type=headers["Content-Type"], **meta, **(ESP_AUTH if auth else {})
    )


def _notify(client, kind: str, ours: Message, **detail) -> int:
    message = ses.event(
        kind,
        message_id=ours.provider_message_id,
        recipient=LEAD,
        source="anna@acme.example",
        **detail,
    )
    headers, body = ses.sns_post("Notification", message)
    return _sns(client, "/anymail/amazon_ses/tracking/", headers, body).status_code


def test_a_campaign_email_goes_out_through_amazon_ses_over_http(esp):
    conv, _ = _lead(esp)
    ours = email_sent(conv)
    [sent] = esp.outbox
    assert sent["esp"] == "amazon_ses"
    assert ours.provider_message_id == sent["answer"]["MessageId"]
    mail = email.message_from_bytes(ses.raw_of(sent["request"]))
    assert mail["To"] == LEAD
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail["Message-ID"].endswith("@acme.example>")


def test_a_wrong_ses_access_key_marks_the_sender_unauthorised_and_sends_nothing(esp):
    conv, _ = _lead(esp)
    conv.sender.credentials = "AKIAREVOKEDKEY000000:whatever"
    conv.sender.save(update_fields=["credentials"])
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
    assert esp.outbox == []
    assert message.status != "sent"
    assert SenderAccount.objects.get(id=conv.sender_id).health == "auth_expired"


def test_the_sns_subscription_is_confirmed_through_the_api_once_our_basic_auth_comes(client, esp):
    headers, body = ses.subscription_confirmation()
    # SNS posts without credentials first: anymail answers 401 asking for them.
    first = _sns(client, "/anymail/amazon_ses/tracking/", headers, body, auth=False)
    assert first.status_code == 401
    assert first["WWW-Authenticate"].startswith("Basic")
    assert esp.sns_confirmed == []
    again = _sns(client, "/anymail/amazon_ses/tracking/", headers, body)
    assert again.status_code == 200
    [confirmed] = esp.sns_confirmed
    token = __import__("json").loads(body)["Token"]
    assert (confirmed["Action"], confirmed["TopicArn"], confirmed["Token"]) == (
        "ConfirmSubscription",
        ses.TOPIC_ARN,
        token,
    )


def test_an_ses_bounce_raises_the_senders_bounce_rate_and_suppresses_the_address(client, esp):
    conv, _ = _lead(esp)
    ours = email_sent(conv)
    assert _notify(client, "Bounce", ours) == 200
    assert process_all() == ["bounce"]
    ours.refresh_from_db()
    assert (ours.status, ours.error_code) == ("failed", "bounce_5.1.1")
    rates = sender_rates(conv.sender, now=ours.sent_at, days=7)
    assert (rates.hard_bounces, rates.bounce_rate) == (1, 100.0)
    assert suppressions_matching(LEAD, "email").exists()


def test_an_ses_transient_bounce_is_not_a_hard_bounce(client, esp):
    conv, _ = _lead(esp)
    ours = email_sent(conv)
    status = _notify(
        client,
        "Bounce",
        ours,
        bounce_type="Transient",
        sub_type="MailboxFull",
        diagnostic="smtp; 452 4.2.2 mailbox full",
    )
    assert status == 200
    process_all()
    assert sender_rates(conv.sender, now=ours.sent_at, days=7).hard_bounces == 0
    assert not suppressions_matching(LEAD, "email").exists()


def test_an_ses_complaint_counts_toward_the_complaint_guard(client, esp):
    conv, enrollment = _lead(esp)
    SenderGuard.objects.create(sender=conv.sender, min_sends=1)
    ours = email_sent(conv)
    assert _notify(client, "Complaint", ours) == 200
    assert process_all() == ["complaint"]
    sender = SenderAccount.objects.get(id=conv.sender_id)
    assert sender.paused
    assert "complaint rate 100% over the last 7 days (limit 0.3%)" in sender.paused_reason
    enrollment.refresh_from_db()
    assert enrollment.state not in ("active", "replied")


def test_an_ses_notification_without_our_basic_auth_changes_nothing(client, esp):
    conv, _ = _lead(esp)
    ours = email_sent(conv)
    message = ses.event("Bounce", message_id=ours.provider_message_id, recipient=LEAD, source="a")
    headers, body = ses.sns_post("Notification", message)
    wrong = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(b"anymail-user:guess").decode()}
    meta = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
    meta.pop("HTTP_CONTENT_TYPE")
    response = client.post(
        "/anymail/amazon_ses/tracking/",
        data=body,
        content_type="text/plain; charset=UTF-8",
        **meta,
        **wrong,
    )
    assert response.status_code == 403
    assert not InboundEvent.objects.exists()


def test_a_reply_received_by_ses_stops_the_contacts_follow_ups(client, esp):
    conv, enrollment = _lead(esp)
    email_sent(conv)
    [sent] = esp.outbox
    ours = email.message_from_bytes(ses.raw_of(sent["request"]))["Message-ID"]
    raw = (
        "From: Lead One <lead1@example.com>\r\nTo: anna@acme.example\r\n"
        f"Subject: Re: Quick question\r\nMessage-ID: <reply-ses-1@example.com>\r\n"
        f"In-Reply-To: {ours}\r\nReferences: {ours}\r\n"
        "Content-Type: text/plain\r\n\r\nYes, Thursday works.\r\n"
    ).encode()
    message = ses.received(raw, recipient="anna@acme.example", source=LEAD)
    headers, body = ses.sns_post("Notification", message)
    assert _sns(client, "/anymail/amazon_ses/inbound/", headers, body).status_code == 200
    assert process_all() == ["reply"]
    enrollment.refresh_from_db()
    assert enrollment.state == "replied"
    assert Message.objects.get(direction="in").conversation_id == conv.id
