"""In a real Chromium, at desk and phone widths: the send forecast and the pre-launch check
say in words which contacts a step cannot reach now and why, instead of counting them as
sent today."""

from pathlib import Path

import pytest
from django.utils import timezone

from campaigns.services import campaign_launch, enrollments_create
from contacts.models import Identity
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)
SHOTS = Path(__file__).resolve().parents[2] / "var" / "artefacts"


@pytest.mark.parametrize("width", [1440, 390])
def test_forecast_and_lint_pages_show_held_contacts_with_the_reason(logged_in_page, width):
    page = logged_in_page
    page.set_viewport_size({"width": width, "height": 900})
    people = [factories.contact(n, tz="UTC") for n in (1, 2, 3)]
    campaign = factories.campaign(senders=[factories.sender()], name="Held in words")
    enrollments_create(campaign=campaign, contacts=people)
    campaign_launch(campaign=campaign, confirm_warnings=True)
    Identity.objects.filter(contact=people[0]).update(opted_out_at=timezone.now())

    page.goto(f"/campaigns/{campaign.pk}/forecast/")
    summary = page.locator("#forecast-summary").inner_text()
    assert "Step 1: 1 contact is held, not sent: contact opted out of Email." in summary
    held = page.locator("table#table-forecast-held tbody tr").first.inner_text().split("\t")
    assert held == ["step 1", "1", "held: contact opted out of Email"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"forecast_held_{width}.png"), full_page=True)

    page.goto(f"/templates/lint/campaign/{campaign.pk}/")
    assert "1 contact is held, not sent: contact opted out of Email" in page.inner_text("main")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=str(SHOTS / f"lint_held_{width}.png"), full_page=True)
