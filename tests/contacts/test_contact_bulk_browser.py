"""A rep filters the contacts list, ticks the page and opts the contacts out after the
confirmation, on a desktop and on a 390 px phone, in Chromium."""

import pytest
from playwright.sync_api import expect

from contacts.models import Contact
from tests import factories
from tests.browser import ARTEFACTS, fits, logged_in_at
from tests.inbox.helpers import rep

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_rep_opts_out_the_filtered_page_after_confirming_the_count(chromium, live_server):
    ann = rep("ann")
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    bystander = factories.contact(99, owner=ann, last_name="Elsewhere")
    for n, width in ((1, 1440), (3, 390)):
        mine = [factories.contact(n + i, owner=ann, last_name=f"Wave{width}") for i in (0, 1)]
        with logged_in_at(chromium, live_server, "/contacts/", width=width) as page:
            page.fill("#f-q", f"Wave{width}")
            page.get_by_role("button", name="Search").click()
            expect(page.locator("[data-contact]")).to_have_count(2)
            page.check("#bulk-page")
            expect(page.locator("input[name=ids]:checked")).to_have_count(2)
            page.select_option("#bulk-action", "opt_out")
            assert fits(page)
            page.screenshot(path=str(ARTEFACTS / f"contact_list_bulk_{width}.png"), full_page=True)
            page.click("#bulk-apply")
            expect(page.locator("#bulk-confirm-title")).to_have_text(
                "Opt out 2 contacts of every channel?"
            )
            waiting = Contact.objects.filter(last_name=f"Wave{width}", opted_out_at__isnull=False)
            assert not waiting.exists()
            assert fits(page)
            page.screenshot(path=str(ARTEFACTS / f"contact_bulk_{width}.png"), full_page=True)
            page.locator("#bulk-confirm button").click()
            expect(page.locator(".alert-success")).to_have_text(
                "2 contacts opted out of every channel."
            )
            expect(page.locator("#f-q")).to_have_value(f"Wave{width}")
            expect(page.locator("[data-contact] .badge.bg-danger")).to_have_count(2)
            opted = Contact.objects.filter(opted_out_at__isnull=False, last_name=f"Wave{width}")
            assert {c.pk for c in opted} == {c.pk for c in mine}
            assert fits(page)
    bystander.refresh_from_db()
    assert bystander.opted_out_at is None
