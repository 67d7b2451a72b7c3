"""The sending domains pages in a real browser, at desktop and phone widths: each record
in words, the record to publish with its Copy button, and Check now turning DMARC green
once the DNS server serves it."""

import pytest

from deliverability.services import domain_check, domain_key_generate, domains_discover
from tests.browser import ARTEFACTS
from tests.deliverability.conftest import email_sender

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("width", [1440, 390])
def test_the_domains_pages_show_each_record_and_what_to_publish(logged_in_page, dns_server, width):
    page = logged_in_page
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    email_sender("Anna", "anna@acme.example")
    [domain] = domains_discover()
    domain = domain_key_generate(domain=domain)
    dns_server.records["acme.example"] = ["v=spf1 mx ~all"]
    dns_server.records["outreach._domainkey.acme.example"] = [
        f"v=DKIM1; k=rsa; p={domain.dkim_public_key}"
    ]
    domain_check(domain=domain)
    page.set_viewport_size({"width": width, "height": 900})

    page.goto("/deliverability/domains/")
    row = page.locator("tr[data-domain='acme.example']")
    assert row.locator("[data-record=spf]").inner_text() == "Passing"
    assert row.locator("[data-record=dmarc]").inner_text() == "Missing"
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=str(ARTEFACTS / f"domains_list_{width}.png"), full_page=True)

    row.get_by_role("link", name="acme.example").click()
    dmarc = page.locator("[data-record=dmarc]")
    assert "Missing" in dmarc.inner_text()
    assert "Publish as TXT at _dmarc.acme.example" in dmarc.inner_text()
    publish = page.locator("#publish-dmarc").inner_text()
    assert publish == "v=DMARC1; p=none; rua=mailto:dmarc-reports@acme.example"
    dkim = page.locator("[data-record=dkim]")
    assert "Passing" in dkim.inner_text() and "Matches the app's key." in dkim.inner_text()
    assert dmarc.get_by_role("button", name="Copy").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=str(ARTEFACTS / f"domains_{width}.png"), full_page=True)

    dns_server.records["_dmarc.acme.example"] = ["v=DMARC1; p=quarantine"]
    page.click("#check-now")
    page.wait_for_selector("text=acme.example checked just now.")
    assert "Passing" in page.locator("[data-record=dmarc]").inner_text()
    assert "Policy p=quarantine." in page.locator("[data-record=dmarc]").inner_text()
    page.check("#strict")
    page.click("#save-strict")
    page.wait_for_selector("text=launches are blocked while it fails.")
    assert page.is_checked("#strict")
