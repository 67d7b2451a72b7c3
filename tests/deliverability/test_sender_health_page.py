"""The sender health page: the guard's rates against its thresholds, the 30-day chart, the
pauses with their reasons, the provider breakdown; scoped to the rep's team; drawn in a real
Chromium at 1440 and 390 px without a horizontal scroll."""

import pytest
from django.utils import timezone

from deliverability.guards import guard_evaluate
from outreach.models import SenderAccount
from tests.browser import ARTEFACTS
from tests.channels.helpers import platform_sender
from tests.deliverability.helpers import sent_earlier
from tests.security.teams import two_teams  # noqa: F401  (a pytest fixture)


def _sender_with_history() -> SenderAccount:
    sender = platform_sender("email", "sales@acme.example")
    sent_earlier(sender, 80, bounces=3, address="ann@gmail.com")
    sent_earlier(sender, 40, address="bob@outlook.com")
    return sender


@pytest.mark.django_db
def test_the_health_page_shows_rates_thresholds_providers_and_the_chart(client, admin_user):
    sender = _sender_with_history()
    client.force_login(admin_user)

    page = client.get(f"/senders/{sender.pk}/health/").content.decode()

    assert "hard bounces, this sender" in page
    assert "2.5%" in page  # 3 hard bounces in 120 sends
    assert (
        "SPF, DKIM and DMARC for <strong>acme.example</strong>: see "
        '<a href="/deliverability/domains/">Sending domains</a>'
    ) in page
    assert 'id="rates-chart"' in page and "rates-chart-data" in page
    providers = client.get(f"/senders/{sender.pk}/health/?export=providers")
    lines = b"".join(providers.streaming_content).decode().splitlines()
    assert "Gmail,80,3,0" in lines and "Outlook / Hotmail,40,0,0" in lines


@pytest.mark.django_db
def test_another_teams_sender_health_is_not_found(client, two_teams):  # noqa: F811
    client.force_login(two_teams.ann)
    own, south = two_teams.rows["ann"].sender, two_teams.rows["sid"].sender
    assert client.get(f"/senders/{own.pk}/health/").status_code == 200
    assert client.get(f"/senders/{south.pk}/health/").status_code == 404


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", [1440, 390])
def test_the_health_page_draws_its_chart_and_fits_the_screen(logged_in_page, width):
    page = logged_in_page
    sender = platform_sender("email", "sales@acme.example")
    sent_earlier(sender, 80, bounces=7, address="ann@gmail.com")
    sent_earlier(sender, 40, address="bob@outlook.com")
    # The guard, as after the bounce that crossed the line: 7 hard bounces in 120 sends.
    assert guard_evaluate(sender=sender) == "paused"
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"/senders/{sender.pk}/health/")
    page.wait_for_selector("canvas#rates-chart[data-rendered='1']")
    reason = page.locator("#paused-reason").inner_text()
    assert "hard-bounce rate 5.83% over the last 7 days (limit 5%)" in reason
    assert page.locator("table#table-rates").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTEFACTS / f"sender_health_{width}.png"), full_page=True)


@pytest.mark.django_db
def test_the_campaign_dashboard_links_each_sender_to_its_health_page(client, admin_user):
    from tests import factories

    sender = _sender_with_history()
    campaign = factories.campaign(senders=[sender], steps=[("email", 0)], name="Linked")
    client.force_login(admin_user)
    page = client.get(f"/campaigns/{campaign.pk}/").content.decode()
    assert f'href="/senders/{sender.pk}/health/"' in page


@pytest.mark.django_db
def test_the_health_page_names_the_domains_failing_records_and_links_its_page(client, admin_user):
    from deliverability.models import SendingDomain

    sender = _sender_with_history()
    domain = SendingDomain.objects.create(
        domain="acme.example",
        checked_at=timezone.now(),
        results={"spf": {"status": "pass"}, "dkim": {"status": "missing"}},
    )
    client.force_login(admin_user)
    page = client.get(f"/senders/{sender.pk}/health/").content.decode()
    assert f'href="/deliverability/domains/{domain.pk}/"' in page
    assert "failing DKIM</span> at the last check" in page
