"""In a real Chromium: the dashboard draws its charts beside accessible tables that show the
database's numbers, and the builder wizard takes a rep to a launched campaign."""

from pathlib import Path

import pytest

from campaigns.models import Campaign, Enrollment, Sequence
from contacts.models import Tag
from core.audit import AuditEntry
from tests import factories
from tests.dashboards.conftest import build_campaign

pytestmark = pytest.mark.django_db(transaction=True)
SHOTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts" / "screenshots"


def test_dashboard_draws_charts_with_tables_holding_the_database_numbers(logged_in_page):
    page = logged_in_page
    campaign = build_campaign()
    page.goto("/")
    row = page.locator(f"tr[data-campaign='{campaign.pk}']")
    assert row.locator("[data-col=enrolled]").inner_text() == "10"
    assert row.locator("[data-col=sent]").inner_text() == "6"
    assert row.locator("[data-col=replied]").inner_text() == "2"
    page.wait_for_selector("canvas.sparkline[data-rendered='1']")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "overview.png"), full_page=True)

    page.goto(f"/campaigns/{campaign.pk}/")
    for chart in ("funnel-chart", "series-chart"):
        canvas = page.locator(f"canvas#{chart}")
        canvas.wait_for()
        page.wait_for_selector(f"canvas#{chart}[data-rendered='1']")
        assert canvas.get_attribute("role") == "img"
        assert canvas.get_attribute("aria-label")
        table_id = canvas.get_attribute("aria-describedby")
        assert page.locator(f"table#{table_id}").is_visible()
    # The two replies carry no intent label: the chart says so instead of drawing nothing.
    assert page.locator("#intent-chart-empty").inner_text() == "2 replies have no intent label yet."
    assert "No reply has an intent label yet." in page.locator("#table-intents").inner_text()
    funnel = page.locator("table#table-funnel tbody tr")
    assert funnel.nth(0).inner_text().split("\t")[:2] == ["Enrolled", "10"]
    assert funnel.nth(1).inner_text().split("\t")[:2] == ["Contacted", "6"]
    steps = page.locator("table#table-steps tbody tr").first.locator("td")
    assert steps.nth(2).inner_text() == "6"  # sent
    assert page.locator("#held-total").inner_text() == "4"
    page.screenshot(path=str(SHOTS / "dashboard.png"), full_page=True)
    page.emulate_media(media="print")
    assert not page.locator("nav.navbar").is_visible()
    page.pdf(path=str(SHOTS / "dashboard-print.pdf"))


def test_builder_wizard_takes_a_rep_to_a_launched_campaign(logged_in_page):
    page = logged_in_page
    sender = factories.sender("Anna")
    source = factories.campaign(senders=[sender], name="Source")
    tag = Tag.objects.create(name="Berlin fair")
    for n in range(3):
        factories.contact(n).tags.add(tag)
    page.goto("/campaigns/new/")
    page.fill("#id_name", "Fair follow-up")
    page.select_option("#id_sequence", str(source.sequence_id))
    page.check(f"input[name=senders][value='{sender.pk}']")
    page.click("input[type=submit]")
    page.check(f"input[name=tags][value='{tag.pk}']")
    page.click("input[type=submit]")
    page.locator("#enrolled-count").wait_for()
    assert page.locator("#enrolled-count").inner_text().startswith("3 contacts")
    assert "Hi Lead" in page.locator("#preview-text").inner_text()
    assert "All first messages out by" in page.locator("#forecast-summary").inner_text()
    page.wait_for_selector("canvas#forecast-chart[data-rendered='1']")
    page.screenshot(path=str(SHOTS / "builder-review.png"), full_page=True)
    page.click("input[type=submit]")
    page.wait_for_url("**/campaigns/*/")
    campaign = Campaign.objects.get(name="Fair follow-up")
    assert campaign.status == Campaign.Status.RUNNING
    assert Enrollment.objects.filter(campaign=campaign).count() == 3
    assert Sequence.objects.count() == 1
    actions = set(AuditEntry.objects.filter(target_id=campaign.pk).values_list("action", flat=True))
    assert {"campaign.create", "campaign.enrol", "campaign.launch"} <= actions


def test_pausing_from_the_dashboard_asks_first(logged_in_page):
    page = logged_in_page
    campaign = build_campaign()
    page.goto(f"/campaigns/{campaign.pk}/")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click("#campaign-pause")
    page.wait_for_timeout(300)
    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.RUNNING
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#campaign-pause")
    page.wait_for_selector("#campaign-resume")
    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.PAUSED
