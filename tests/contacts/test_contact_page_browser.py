"""A rep finds a contact by its Instagram handle and reads its cross-channel timeline, on a
desktop and on a 390 px phone, in Chromium."""

import pytest
from playwright.sync_api import expect

from tests.browser import ARTEFACTS, fits, logged_in_at
from tests.contacts.contact_world import reached_on_two_channels
from tests.inbox.helpers import rep

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_rep_finds_a_contact_by_handle_and_reads_its_timeline(chromium, live_server):
    ann = rep("ann")
    contact = reached_on_two_channels(ann)
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    for width in (1440, 390):
        with logged_in_at(chromium, live_server, "/contacts/", width=width) as page:
            page.fill("#f-q", "@dana_rivers_11")
            page.get_by_role("button", name="Search").click()
            card = page.locator(f"[data-contact='{contact.pk}']")
            expect(card).to_contain_text("dana_rivers_11")
            expect(page.locator("[data-contact]")).to_have_count(1)
            assert fits(page)
            card.get_by_role("link", name="Dana Rivers").click()
            page.wait_for_url(f"**/contacts/{contact.pk}/")
            events = page.locator("#timeline .event")
            expect(events).to_have_count(6)
            expect(events.nth(0)).to_contain_text("Instagram")
            expect(events.nth(0)).to_contain_text("held: outside the sending window")
            expect(events.nth(1)).to_contain_text("Yes please, send the price list")
            expect(events.nth(3)).to_contain_text("Email")
            expect(events.nth(3)).to_contain_text("Hello Dana")
            assert fits(page)
            page.screenshot(path=str(ARTEFACTS / f"contact_page_{width}.png"), full_page=True)
