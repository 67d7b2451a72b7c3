"""A rep sees that two contacts are the same person, previews the merge and confirms it, on
a desktop and on a 390 px phone, in Chromium."""

import pytest
from playwright.sync_api import expect

from contacts.models import Identity
from outreach.models import Conversation, Message
from tests import factories
from tests.browser import ARTEFACTS, fits, logged_in_at
from tests.contacts.contact_world import reached_on_two_channels
from tests.inbox.helpers import rep

pytestmark = pytest.mark.django_db(transaction=True)


def _same_person_on_x(owner, n: int):
    """Dana again, imported separately: her email in capitals and her handle on X."""
    twin = factories.contact(100 + n, channels=(), owner=owner, first_name="D.", last_name="Rivers")
    Identity.objects.create(contact=twin, channel="email", value=f"LEAD{n}@Example.com")
    x = Identity.objects.create(contact=twin, channel="x", value=f"@Dana_Rivers_{n}")
    box = factories.sender(f"X{n}", channel="x", owner=owner)
    conv = Conversation.objects.create(identity=x, sender=box)
    Message.objects.create(
        conversation=conv,
        sender=box,
        channel="x",
        direction="in",
        status="received",
        body="Saw your booth, call me",
    )
    return twin


def test_a_rep_merges_a_suggested_duplicate_and_reads_both_histories(chromium, live_server):
    ann = rep("ann")
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    for n, width in ((11, 1440), (12, 390)):
        contact = reached_on_two_channels(ann, n=n)
        twin = _same_person_on_x(ann, n)
        with logged_in_at(chromium, live_server, f"/contacts/{contact.pk}/", width=width) as page:
            page.goto("/contacts/duplicates/")
            expect(page.locator(f"[data-pair='{contact.pk}-{twin.pk}']")).to_have_count(2)
            assert fits(page)
            page.screenshot(path=str(ARTEFACTS / f"contact_duplicates_{width}.png"), full_page=True)
            page.goto(f"/contacts/{contact.pk}/")
            suggestion = page.locator(f"#duplicates [data-contact='{twin.pk}']")
            expect(suggestion).to_contain_text("same email")
            expect(suggestion).to_contain_text(f"same handle dana_rivers_{n}")
            assert fits(page)
            suggestion.get_by_role("link", name="Preview merge").click()
            page.wait_for_url(f"**/contacts/{contact.pk}/merge/{twin.pk}/")
            expect(page.locator("#merge-moves")).to_contain_text(
                "2 identities, with 1 conversation and 1 message"
            )
            assert fits(page)
            page.screenshot(
                path=str(ARTEFACTS / f"contact_merge_preview_{width}.png"), full_page=True
            )
            page.locator("#merge-confirm button").click()
            page.wait_for_url(f"**/contacts/{contact.pk}/")
            expect(page.locator(".alert-success")).to_contain_text(f"Merged D. Rivers (#{twin.pk})")
            timeline = page.locator("#timeline")
            expect(timeline).to_contain_text("Saw your booth, call me")
            expect(timeline).to_contain_text("Hello Dana, about the spring fair")
            expect(page.locator("#identities")).to_contain_text(f"@Dana_Rivers_{n}")
            expect(page.locator("#duplicates")).to_have_count(0)
            assert fits(page)
            page.screenshot(path=str(ARTEFACTS / f"contact_merge_{width}.png"), full_page=True)
