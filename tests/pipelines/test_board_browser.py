"""A rep moves a deal card with the keyboard on a desktop and a phone, in Chromium."""

import pytest
from playwright.sync_api import expect

from pipelines.models import Deal
from tests.browser import ARTEFACTS, fits, logged_in_at
from tests.inbox.helpers import default_pipelines, rep
from tests.pipelines.test_board import deal_of

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("width", [1440, 390])
def test_a_rep_moves_a_deal_by_keyboard_and_the_page_fits_the_screen(chromium, live_server, width):
    default_pipelines()
    ann = rep("ann")
    deal = deal_of(ann, 1, "Replied", "1200")
    with logged_in_at(
        chromium, live_server, "/pipelines/", lands_on="**/pipelines/*/", width=width
    ) as page:
        card = page.locator(f".deal-card[data-deal='{deal.pk}']")
        expect(card).to_contain_text("1200")
        card.focus()
        card.press("ArrowRight")
        interested = page.locator(".stage-column[data-stage-name='Interested']")
        expect(interested.locator(f".deal-card[data-deal='{deal.pk}']")).to_be_visible()
        assert Deal.objects.get(pk=deal.pk).stage.name == "Interested"
        expect(interested.locator(".column-total")).to_contain_text("1200")
        lost = page.locator(".stage-column[data-stage-name='Lost']")
        lost.scroll_into_view_if_needed()
        expect(lost).to_be_in_viewport()
        assert fits(page)
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTEFACTS / f"kanban_{width}.png"), full_page=True)
