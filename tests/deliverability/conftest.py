import pytest

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
