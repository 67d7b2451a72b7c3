import pytest

from tests.channels.conftest import SECRETS
from tests.channels.smtp import SmtpServer
from tests.deliverability.dnsserver import LocalDns


@pytest.fixture
def dns_server(settings):
    """The loopback DNS server, with the product's resolver pointed at it."""
    server = LocalDns().start()
    settings.DNS_NAMESERVERS = [server.nameserver]
    yield server
    server.stop()


def email_sender(name: str, handle: str):
    from tests import factories

    sender = factories.sender(name)
    sender.handle = handle
    sender.save(update_fields=["handle"])
    return sender


@pytest.fixture
def email_channel(settings):
    settings.OUTREACH_CHANNELS = {
        **settings.OUTREACH_CHANNELS,
        "email": {
            "BACKEND": "outreach.channels.email.backend.EmailChannel",
            "OPTIONS": {"webhook_secret": SECRETS["email"]},
        },
    }


@pytest.fixture
def smtp_server(settings, email_channel):
    server = SmtpServer().start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    yield server
    server.stop()
