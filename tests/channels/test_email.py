"""Email: our Message-ID stored, follow-ups threaded, replies matched by References (not by
subject), auto-replies and bounces classified and not counted as replies, RFC 8058
one-click unsubscribe."""

from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import pytest
from django.core import mail
from django.utils import timezone

from campaigns.dispatch import enrollments_materialize
from campaigns.models import Enrollment
from campaigns.services import campaign_launch, enrollments_create
from contacts.models import Identity, Suppression
from contacts.services import suppressions_matching
from outreach.channels.email.backend import unsubscribe_url
from outreach.models import InboundEvent, Message
from outreach.sending.create import messages_create
from outreach.sending.deliver import message_send
from tests import factories
from tests.channels.conftest import fixture_bytes
from tests.channels.helpers import (
    deliver,
    email_lead,
    email_sent,
    hard_bounce,
    out_of_office,
    platform_sender,
    process_all,
)
from tests.channels.smtp import SmtpServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead(platform_channels):
    return email_lead(platform_sender("email", "anna@acme.example"))


def test_email_carries_our_message_id_and_one_click_unsubscribe_headers(lead):
    conv, _ = lead
    message = email_sent(conv)
    [email] = mail.outbox
    assert email.extra_headers["Message-ID"] == message.provider_message_id
    assert message.provider_message_id == f"<{message.idempotency_key}@acme.example>"
    assert email.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert email.extra_headers["List-Unsubscribe"].startswith("<http")
    assert "Message-ID: <" in email.message().as_string()


def test_follow_up_threads_under_the_earlier_emails(lead):
    conv, _ = lead
    first = email_sent(conv)
    second = email_sent(conv, subject="")
    third = email_sent(conv, subject="")
    headers = mail.outbox[2].extra_headers
    assert headers["In-Reply-To"] == second.provider_message_id
    assert headers["References"] == f"{first.provider_message_id} {second.provider_message_id}"
    assert mail.outbox[2].subject == "Re: Quick question"
    assert third.provider_message_id not in headers["References"]


def _reply(our_id: str, *, subject: str, extra: str = "") -> bytes:
    return (
        f"From: Lead One <lead1@example.com>\r\nTo: anna@acme.example\r\n"
        f"Subject: {subject}\r\nMessage-ID: <reply-{abs(hash(subject))}@example.com>\r\n"
        f"References: <unrelated@else.example> {our_id}\r\n{extra}"
        f"Content-Type: text/plain\r\n\r\nYes, let's talk Tuesday.\r\n\r\n> Hi Lead1\r\n"
    ).encode()


def test_a_reply_threaded_only_by_references_stops_the_sequence(client, lead):
    conv, enrollment = lead
    ours = email_sent(conv)
    deliver(client, "email", _reply(ours.provider_message_id, subject="Different topic"))
    assert process_all() == ["reply"]
    enrollment.refresh_from_db()
    assert enrollment.state == "replied"
    reply = Message.objects.get(direction="in")
    assert reply.body == "Yes, let's talk Tuesday."


def _reply_with_attachment(our_id: str, size: int) -> bytes:
    reply = EmailMessage()
    reply["From"], reply["To"] = "Lead One <lead1@example.com>", "anna@acme.example"
    reply["Subject"], reply["Message-ID"] = "Re: Quick question", f"<big-{size}@example.com>"
    reply["In-Reply-To"] = our_id
    reply.set_content("Signed copy attached.")
    reply.add_attachment(b"%PDF" * (size // 4), maintype="application", subtype="pdf")
    return reply.as_bytes()


def test_a_reply_with_a_3_mb_attachment_stops_the_sequence(client, lead):
    conv, enrollment = lead
    ours = email_sent(conv)
    assert (
        deliver(client, "email", _reply_with_attachment(ours.provider_message_id, 3_000_000)) == 200
    )
    assert process_all() == ["reply"]
    assert Message.objects.get(direction="in").body == "Signed copy attached."
    enrollment.refresh_from_db()
    assert enrollment.state == "replied"


def test_an_inbound_email_over_the_limit_is_413_and_stores_nothing(client, settings, lead):
    conv, _ = lead
    settings.INBOUND_EMAIL_MAX_BYTES = 1_000_000
    big = _reply_with_attachment(email_sent(conv).provider_message_id, 1_500_000)
    assert deliver(client, "email", big) == 413
    assert not InboundEvent.objects.exists()


def test_an_out_of_office_reply_does_not_stop_the_sequence(client, lead):
    conv, enrollment = lead
    ours = email_sent(conv)
    ooo = _reply(
        ours.provider_message_id, subject="Out of office", extra="Auto-Submitted: auto-replied\r\n"
    )
    deliver(client, "email", ooo)
    deliver(client, "email", out_of_office(ours.provider_message_id))
    assert process_all() == ["auto_reply", "auto_reply"]
    enrollment.refresh_from_db()
    assert enrollment.state == "active"


def test_a_hard_bounce_suppresses_the_address_without_counting_as_a_reply(client, lead):
    conv, enrollment = lead
    ours = email_sent(conv)
    deliver(client, "email", hard_bounce(returned_id=ours.provider_message_id))
    assert process_all() == ["bounce"]
    assert suppressions_matching("lead1@example.com", "email").exists()
    ours.refresh_from_db()
    assert (ours.status, ours.error_code) == ("failed", "bounce_5.1.1")
    enrollment.refresh_from_db()
    assert enrollment.state != "replied"


def test_a_forged_bounce_that_returns_none_of_our_messages_suppresses_nobody(client, lead):
    conv, enrollment = lead
    ours = email_sent(conv)
    deliver(client, "email", hard_bounce("lead1@example.com"))  # anyone can send this
    deliver(client, "email", hard_bounce("victim@example.com", "<not-ours@else.example>"))
    assert process_all() == ["unmatched", "unmatched"]
    assert not Suppression.objects.exists()
    ours.refresh_from_db()
    assert ours.status == "sent"


def test_a_bounce_of_our_message_naming_another_address_suppresses_nobody(client, lead):
    conv, _ = lead
    ours = email_sent(conv)
    deliver(client, "email", hard_bounce("victim@example.com", ours.provider_message_id))
    assert process_all() == ["unmatched"]
    assert not Suppression.objects.exists()
    ours.refresh_from_db()
    assert ours.status == "sent"


def test_a_soft_bounce_does_not_suppress(client, lead):
    deliver(client, "email", fixture_bytes("email", "bounce_soft_delayed_4.4.7_hotmail.eml"))
    process_all()
    assert not Suppression.objects.exists()


def test_one_click_unsubscribe_post_suppresses_the_contact(client, lead):
    url = unsubscribe_url("lead1@example.com")
    path = url.split("://", 1)[1].split("/", 1)[1]
    assert client.get(f"/{path}").status_code == 200
    assert not Suppression.objects.exists()  # link scanners GET; only a POST unsubscribes
    r = client.post(
        f"/{path}",
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert r.status_code == 200
    assert suppressions_matching("lead1@example.com", "email").exists()
    assert Identity.objects.get(channel="email").opted_out_at is not None


def test_a_forged_unsubscribe_token_changes_nothing(client, lead):
    assert client.post("/u/not-a-token/").status_code == 404
    assert not Suppression.objects.exists()


def test_attachment_links_go_in_both_parts_and_a_text_only_message_stays_text_only(lead):
    conv, _ = lead
    deck = {"type": "document", "url": "https://cdn.example/deck.pdf", "name": "Deck <v2>"}
    email_sent(conv, body_html="<p>Hi Lead1</p>", attachments=[deck])
    email_sent(conv, subject="", body="A reply a rep typed")
    with_html, text_only = mail.outbox
    assert with_html.body.endswith("Deck <v2>: https://cdn.example/deck.pdf")
    [(html, mimetype)] = with_html.alternatives
    assert mimetype == "text/html"
    assert html.endswith('<p><a href="https://cdn.example/deck.pdf">Deck &lt;v2&gt;</a></p>')
    assert text_only.alternatives == []


@pytest.fixture
def smtp_server():
    server = SmtpServer().start()
    yield server
    server.stop()


def test_a_campaign_email_goes_over_smtp_as_text_and_escaped_html(settings, smtp_server):
    settings.OUTREACH_CHANNELS = {
        **settings.OUTREACH_CHANNELS,
        "email": {"BACKEND": "outreach.channels.email.backend.EmailChannel", "OPTIONS": {}},
    }
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp_server.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    sender = platform_sender("email", "anna@acme.example")
    contact = factories.contact(1, first_name="<script>alert(1)</script>")
    campaign = factories.campaign(
        senders=[sender], body="Hi {{ first_name }},\nsee https://acme.example/x?a=1&b=2\n\nAnna"
    )
    enrollments_create(campaign=campaign, contacts=[contact])
    campaign_launch(campaign=campaign, confirm_warnings=True)
    enrollments_materialize(now=timezone.now())
    message = Message.objects.get(direction="out")
    assert message_send(message_id=message.id) == "sent"

    [received] = smtp_server.received
    assert received.recipients == ["lead1@example.com"]
    email = BytesParser(policy=policy.default).parsebytes(received.data)
    assert email.get_content_type() == "multipart/alternative"
    text = email.get_body(preferencelist=("plain",)).get_content()
    html = email.get_body(preferencelist=("html",)).get_content()
    assert "Hi <script>alert(1)</script>," in text  # the text part carries the name as is
    assert "<script>" not in html
    assert "Hi &lt;script&gt;alert(1)&lt;/script&gt;,<br>" in html
    assert '<a href="https://acme.example/x?a=1&amp;b=2">' in html
    assert html.count("<p>") == 2  # the blank line starts a paragraph
    assert message.body_html == html.replace("\r\n", "\n").strip()  # what was stored is sent


def test_only_email_messages_get_an_html_part():
    sender_email = factories.sender("Mail")
    sender_tg = factories.sender("Bot", channel="telegram")
    contact = factories.contact(1, channels=("email", "telegram"))
    campaign = factories.campaign(
        senders=[sender_email, sender_tg], steps=(("email", 0), ("telegram", 0))
    )
    enrollments_create(campaign=campaign, contacts=[contact])
    campaign_launch(campaign=campaign, confirm_warnings=True)
    enrollments_materialize(now=timezone.now())
    Enrollment.objects.update(state="active", current_step=2, next_action_at=timezone.now())
    enrollments_materialize(now=timezone.now())
    by_channel = {m.channel: m for m in Message.objects.filter(direction="out")}
    assert by_channel["email"].body_html.startswith("<p>Hi Lead1 (step 1)")
    assert by_channel["telegram"].body_html == ""


@pytest.mark.parametrize(
    ("stage", "answer", "outcome", "error_code"),
    [
        ("DATA", "554 5.7.1 Message rejected as spam", "failed", "smtp_554"),
        ("MAIL", "550 5.7.1 Sender address rejected", "failed", "smtp_550"),
        ("RCPT", "550 5.1.1 User unknown", "failed", "bounce_5.1.1"),
        ("DATA", "451 4.3.0 Try again later", "queued", "smtp_451"),
        ("MAIL", "421 4.7.0 Too many connections, slow down", "queued", "smtp_421"),
        ("DATA", "", "unknown", "ambiguous"),  # hung up after the message: maybe delivered
    ],
)
def test_an_smtp_refusal_fails_or_retries_and_only_a_hang_up_goes_to_review(
    settings, smtp_server, lead, stage, answer, outcome, error_code
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp_server.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    smtp_server.answers[stage] = answer
    conv, _ = lead
    [m] = messages_create(
        [
            Message(
                conversation=conv,
                sender=conv.sender,
                channel="email",
                direction="out",
                status="queued",
                subject="Quick question",
                body="Hi Lead1",
            )
        ]
    )
    assert message_send(message_id=m.id) == outcome
    m.refresh_from_db()
    assert m.error_code == error_code
    assert smtp_server.received == []
