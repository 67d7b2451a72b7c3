"""DKIM in the app: an email sent through the product's send path (SMTP to a loopback
server) carries a signature that dkimpy's own verifier accepts against the test's DNS
server, covering both one-click unsubscribe headers; changed in transit, it fails."""

import dkim
import pytest
from django.utils import timezone

from campaigns.dispatch import enrollments_materialize
from campaigns.services import campaign_launch, enrollments_create
from deliverability.services import domain_key_generate, domains_discover
from outreach.models import Message
from outreach.sending.deliver import message_send
from tests import factories
from tests.channels.smtp import SmtpServer
from tests.deliverability.conftest import email_sender

pytestmark = pytest.mark.django_db


@pytest.fixture
def smtp(settings):
    server = SmtpServer().start()
    settings.OUTREACH_CHANNELS = {
        **settings.OUTREACH_CHANNELS,
        "email": {"BACKEND": "outreach.channels.email.backend.EmailChannel", "OPTIONS": {}},
    }
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    yield server
    server.stop()


def campaign_email_sent(sender, n: int = 1) -> Message:
    contact = factories.contact(n)
    campaign = factories.campaign(senders=[sender], body="Hi {{ first_name }},\nshort question.")
    enrollments_create(campaign=campaign, contacts=[contact])
    campaign_launch(campaign=campaign, confirm_warnings=True)
    enrollments_materialize(now=timezone.now())
    message = Message.objects.get(direction="out", conversation__identity__contact=contact)
    assert message_send(message_id=message.id) == "sent"
    return message


def signed_headers(raw: bytes) -> list[str]:
    sig = raw.split(b"DKIM-Signature:", 1)[1].split(b"\r\n\r\n", 1)[0]
    h = dkim.util.parse_tag_value(b"v" + sig.split(b"v", 1)[1])[b"h"]
    return [name.strip().decode().lower() for name in h.split(b":")]


def test_a_campaign_email_verifies_with_dkim_and_signs_one_click_unsubscribe(dns_server, smtp):
    sender = email_sender("Anna", "anna@acme.example")
    [domain] = domains_discover()
    domain = domain_key_generate(domain=domain)
    dns_server.records["outreach._domainkey.acme.example"] = [
        f"v=DKIM1; k=rsa; p={domain.dkim_public_key}"
    ]
    campaign_email_sent(sender)

    [received] = smtp.received
    raw = received.data
    assert raw.startswith(b"DKIM-Signature: v=1; a=rsa-sha256;")
    assert b"d=acme.example" in raw and b"s=outreach" in raw
    assert dkim.verify(raw, dnsfunc=dns_server.txt)
    covered = signed_headers(raw)
    for header in ("from", "to", "subject", "date", "message-id"):
        assert header in covered
    assert "list-unsubscribe" in covered and "list-unsubscribe-post" in covered
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click" in raw

    body_changed = raw.replace(b"short question", b"short questions")
    assert not dkim.verify(body_changed, dnsfunc=dns_server.txt)
    one_click = b"List-Unsubscribe-Post: List-Unsubscribe=One-Click"
    header_changed = raw.replace(one_click, b"List-Unsubscribe-Post: x")
    assert not dkim.verify(header_changed, dnsfunc=dns_server.txt)


def test_a_domain_without_a_key_and_an_empty_signer_send_unsigned(dns_server, smtp, settings):
    sender = email_sender("Anna", "anna@acme.example")
    domains_discover()  # found, but no key generated: the mail server may sign
    campaign_email_sent(sender)
    assert b"DKIM-Signature" not in smtp.received[0].data

    domain_key_generate(domain=domains_discover()[0])
    settings.EMAIL_MESSAGE_SIGNER = ""
    campaign_email_sent(email_sender("Ben", "ben@acme.example"), n=2)
    assert b"DKIM-Signature" not in smtp.received[1].data
