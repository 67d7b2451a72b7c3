"""Sending domains: SPF, DKIM and DMARC looked up in DNS (a loopback server the test
runs), each passing, failing or missing with the exact record to publish."""

import pytest

from deliverability.models import SendingDomain
from deliverability.services import domain_check, domain_key_generate, domains_discover
from deliverability.tasks import check_sending_domains
from tests import factories
from tests.deliverability.conftest import email_sender

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme():
    sender = factories.sender("Anna")
    sender.handle = "anna@Acme.example"
    sender.save(update_fields=["handle"])
    [domain] = domains_discover()
    return domain


def publish_key(dns_server, domain: SendingDomain) -> None:
    name = f"{domain.dkim_selector}._domainkey.{domain.signing_domain}"
    dns_server.records[name] = [f"v=DKIM1; k=rsa; p={domain.dkim_public_key}"]


def test_an_email_senders_domain_is_found_once(acme):
    email_sender("Ben", "Ben Lee <ben@acme.example>")
    factories.sender("Bot", channel="telegram")
    assert acme.domain == "acme.example"
    assert [d.domain for d in domains_discover()] == ["acme.example"]
    assert SendingDomain.objects.count() == 1


def test_spf_and_dkim_without_dmarc_fails_dmarc_until_the_record_is_published(dns_server, acme):
    domain = domain_key_generate(domain=acme)
    dns_server.records["acme.example"] = ["google-site-verification=x", "v=spf1 mx -all"]
    publish_key(dns_server, domain)
    domain = domain_check(domain=domain)
    assert domain.results["spf"]["status"] == "pass"
    assert domain.results["spf"]["found"] == "v=spf1 mx -all"
    assert "-all" in domain.results["spf"]["note"]
    assert domain.results["dkim"]["status"] == "pass"
    assert domain.results["dmarc"]["status"] == "missing"
    assert domain.results["dmarc"]["name"] == "_dmarc.acme.example"
    assert domain.results["dmarc"]["publish"].startswith("v=DMARC1; p=none;")
    assert domain.failing_records == ["dmarc", "alignment"]

    dns_server.records["_dmarc.acme.example"] = ["v=DMARC1; p=quarantine; adkim=s"]
    assert check_sending_domains() == 1  # the daily re-check
    domain.refresh_from_db()
    assert domain.failing_records == []
    assert domain.results["dmarc"]["note"] == "Policy p=quarantine."
    assert domain.results["alignment"]["note"] == "DKIM and SPF aligned with the From domain."


def test_nothing_published_says_missing_with_the_records_to_add(dns_server, settings, acme):
    settings.SPF_INCLUDE = "include:_spf.mail.example.net"
    domain = domain_check(domain=domain_key_generate(domain=acme))
    spf, dkim, dmarc = (domain.results[k] for k in ("spf", "dkim", "dmarc"))
    assert spf["status"] == dkim["status"] == dmarc["status"] == "missing"
    assert spf["publish"] == "v=spf1 include:_spf.mail.example.net ~all"
    assert dkim["name"] == "outreach._domainkey.acme.example"
    assert dkim["publish"] == f"v=DKIM1; k=rsa; p={domain.dkim_public_key}"
    assert domain.results["alignment"]["status"] == "missing"


def test_a_wrong_key_an_open_spf_and_a_missing_include_fail(dns_server, settings, acme):
    domain = domain_key_generate(domain=acme)
    dns_server.records["outreach._domainkey.acme.example"] = ["v=DKIM1; k=rsa; p=MIIBother"]
    dns_server.records["acme.example"] = ["v=spf1 a mx +all"]
    dns_server.records["_dmarc.acme.example"] = ["v=DMARC1; p=reject"]
    domain = domain_check(domain=domain)
    assert domain.results["dkim"]["status"] == "fail"
    assert "not the one the app signs with" in domain.results["dkim"]["note"]
    assert domain.results["spf"] == {
        "status": "fail",
        "name": "acme.example",
        "found": "v=spf1 a mx +all",
        "publish": "v=spf1 a mx ~all",
        "note": "Ends with +all: it allows any server; end it with ~all or -all.",
    }
    assert domain.results["alignment"]["status"] == "fail"

    settings.SPF_INCLUDE = "include:_spf.mail.example.net"
    dns_server.records["acme.example"] = ["v=spf1 mx ~all"]
    spf = domain_check(domain=domain).results["spf"]
    assert spf["status"] == "fail"
    assert spf["publish"] == "v=spf1 mx include:_spf.mail.example.net ~all"


def test_a_signature_for_the_parent_domain_is_misaligned_under_strict_dmarc(dns_server):
    sub = SendingDomain.objects.create(domain="news.acme.example", dkim_domain="acme.example")
    sub = domain_key_generate(domain=sub)
    publish_key(dns_server, sub)
    # Found at the organizational domain (RFC 7489 6.6.3); no SPF on the subdomain.
    dns_server.records["_dmarc.acme.example"] = ["v=DMARC1; p=reject; adkim=s"]
    sub = domain_check(domain=sub)
    assert sub.results["dkim"]["status"] == "pass"
    assert sub.results["dmarc"]["name"] == "_dmarc.acme.example"
    alignment = sub.results["alignment"]
    assert alignment["status"] == "fail"
    assert alignment["note"] == (
        "DKIM signs as d=acme.example, which strict alignment does not accept for the From domain."
    )
    assert alignment["publish"] == "DKIM d=news.acme.example (or adkim=r)"

    dns_server.records["_dmarc.acme.example"] = ["v=DMARC1; p=reject; adkim=r"]
    assert domain_check(domain=sub).results["alignment"]["status"] == "pass"


def test_an_unreachable_name_server_fails_every_record_with_the_reason(settings, acme):
    settings.DNS_NAMESERVERS = ["127.0.0.1:9"]  # the discard port: nobody answers
    settings.DNS_TIMEOUT = 0.3
    domain = domain_check(domain=acme)
    assert domain.results["spf"]["status"] == "fail"
    assert domain.results["spf"]["note"].startswith("DNS lookup failed")
