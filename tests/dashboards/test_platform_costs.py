"""Before launch the forecast says what the campaign will cost on the platforms that bill per
message: WhatsApp by category and the recipient's country (the repository's dated rate card),
X per DM and per event read by reply polling; a marketing template to a +1 number is counted
as held by the policy, not costed."""

import csv
import math
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from analytics.costs import campaign_costs
from analytics.forecast import campaign_forecast
from campaigns.lint import campaign_lint
from campaigns.models import Template
from campaigns.services import enrollments_create
from deliverability.models import WhatsAppAccount
from outreach.models import Conversation
from outreach.sending.create import conversations_for
from tests import factories

pytestmark = pytest.mark.django_db
RATE_CARD = Path(__file__).resolve().parents[2] / "deliverability" / "data" / "whatsapp_prices.csv"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
NUMBERS = ["+4915112345671", "+4915112345672", "+41446681800", "+14155550100"]
US_HELD = "does not deliver marketing templates to US (+1) numbers"


def _rate(country: str, category: str) -> Decimal:
    with RATE_CARD.open() as f:
        rows = list(csv.DictReader(line for line in f if not line.startswith("#")))
    row = next((r for r in rows if country in r["countries"].split()), rows[-1])
    return Decimal(row[category])


def _whatsapp_campaign(category: str = "MARKETING"):
    sender = factories.sender("Wa", channel="whatsapp")
    campaign = factories.campaign(senders=[sender], steps=[("whatsapp", 0)])
    template = {"type": "template", "name": "spring_offer", "language": "en", "category": category}
    Template.objects.filter(steps__sequence=campaign.sequence).update(attachments=[template])
    people = []
    for n, number in enumerate(NUMBERS):
        person = factories.contact(n, channels=("whatsapp",), tz="UTC")
        person.identities.update(value=number)
        people.append(person)
    enrollments_create(campaign=campaign, contacts=people)
    return campaign


def test_forecast_costs_whatsapp_templates_by_country_and_holds_the_us_marketing_one():
    campaign = _whatsapp_campaign()
    forecast = campaign_forecast(campaign=campaign, now=NOW)
    costs = campaign_costs(campaign=campaign, forecast=forecast)

    by_country = {(line.category, line.country): line for line in costs.whatsapp}
    assert set(by_country) == {("MARKETING", "DE"), ("MARKETING", "CH")}
    assert by_country["MARKETING", "DE"].count == 2
    assert by_country["MARKETING", "CH"].market == "Rest of Western Europe"
    expected = 2 * _rate("DE", "marketing") + _rate("CH", "marketing")
    assert costs.whatsapp_total == expected == Decimal("0.3322")
    [(reason, held)] = forecast.blocked.items()
    assert US_HELD in reason and held == 1
    assert len(forecast.sends) == 3


def test_utility_templates_to_us_numbers_go_and_cost_the_north_american_rate():
    campaign = _whatsapp_campaign("UTILITY")
    forecast = campaign_forecast(campaign=campaign, now=NOW)
    costs = campaign_costs(campaign=campaign, forecast=forecast)
    assert forecast.blocked == {}
    us = next(line for line in costs.whatsapp if line.country == "US")
    assert us.market == "North America" and us.unit == _rate("US", "utility")


def test_forecast_costs_x_dms_and_the_reply_polling_over_the_campaign(settings):
    settings.X_PRICE_PER_DM = 0.015
    settings.X_PRICE_PER_EVENT_READ = 0.005
    settings.MAILBOX_POLL_INTERVAL = 60.0
    settings.OUTREACH_CHANNELS = {
        **settings.OUTREACH_CHANNELS,
        "x": {
            "BACKEND": "outreach.channels.x.backend.XChannel",
            "OPTIONS": {"consumer_secret": "s", "poll": True},
        },
    }
    sender = factories.sender("Xs", channel="x", cap=2)
    campaign = factories.campaign(senders=[sender], steps=[("x", 0), ("x", 86400)])
    people = [factories.contact(n, channels=("x",), tz="UTC") for n in range(3)]
    # X lets a business DM only someone who wrote first (the gate holds the others).
    pairs = {(p.identities.get().id, sender.id) for p in people}
    Conversation.objects.filter(id__in=[c.id for c in conversations_for(pairs).values()]).update(
        last_inbound_at=NOW - timedelta(hours=1)
    )
    enrollments_create(campaign=campaign, contacts=people)
    forecast = campaign_forecast(campaign=campaign, now=NOW)
    costs = campaign_costs(campaign=campaign, forecast=forecast)

    assert costs.x_dms == 6  # three people, two steps
    last = max(s.at for s in forecast.sends)
    polls = math.ceil((last - NOW).total_seconds() / 60)
    assert polls > 24 * 60  # the cap of 2 a day spreads it over days: polled all along
    assert costs.x_polls == polls
    expected = 6 * Decimal("0.015") + polls * 100 * Decimal("0.005")
    assert costs.total == expected


def test_x_replies_by_webhook_cost_no_polling(settings):
    sender = factories.sender("Xs", channel="x")
    campaign = factories.campaign(senders=[sender], steps=[("x", 0)])
    contact = factories.contact(1, channels=("x",))
    # X lets a business DM only someone who wrote first (the gate holds the others).
    [conversation] = conversations_for({(contact.identities.get().id, sender.id)}).values()
    Conversation.objects.filter(id=conversation.id).update(
        last_inbound_at=timezone.now() - timedelta(hours=1)
    )
    enrollments_create(campaign=campaign, contacts=[contact])
    costs = campaign_costs(campaign=campaign, forecast=campaign_forecast(campaign=campaign))
    assert costs.x_dms == 1 and costs.x_polls == 0


def test_the_forecast_page_shows_the_costs_in_words(staff_client):
    campaign = _whatsapp_campaign()
    page = staff_client.get(f"/campaigns/{campaign.pk}/forecast/").content.decode()
    assert "Expected platform costs (USD)" in page
    assert "WhatsApp: about $0.3322 for 3 template messages" in page
    assert "2 marketing to DE at $0.1365" in page
    assert "1 message will not go out: WhatsApp does not deliver marketing templates" in page


def test_lint_warns_per_step_how_many_contacts_have_a_us_number_for_a_marketing_template():
    campaign = _whatsapp_campaign()
    [issue] = [i for i in campaign_lint(campaign=campaign).issues if "US (+1)" in i.message]
    assert issue.level == "warning" and issue.where == "step 1" and issue.count == 1
    assert issue.text == (
        "step 1: 1 contact has a US (+1) WhatsApp number: WhatsApp does not deliver marketing "
        "templates to US (+1) numbers since April 2025: use a utility template or another channel"
    )
    utility = {"type": "template", "name": "receipt", "language": "en", "category": "UTILITY"}
    Template.objects.filter(steps__sequence=campaign.sequence).update(attachments=[utility])
    assert not [i for i in campaign_lint(campaign=campaign).issues if "US (+1)" in i.message]


def test_the_whatsapp_messaging_tier_spreads_the_forecast_over_days():
    sender = factories.sender("Tiered", channel="whatsapp", cap=1000)
    WhatsAppAccount.objects.create(
        sender=sender, waba_id="1", tier="TIER_250", unique_users_per_day=250
    )
    campaign = factories.campaign(senders=[sender], steps=[("whatsapp", 0)])
    people = []
    for n in range(260):
        person = factories.contact(n, channels=("whatsapp",), tz="UTC")
        people.append(person)
    enrollments_create(campaign=campaign, contacts=people)
    forecast = campaign_forecast(campaign=campaign, now=NOW)
    days = Counter(s.at.date() for s in forecast.sends)
    assert sorted(days.values(), reverse=True) == [250, 10]


def test_the_forecast_page_calls_a_price_not_checked_against_metas_rate_card_an_unverified_estimate(
    staff_client,
):
    with RATE_CARD.open() as f:
        header = "".join(line for line in f if line.startswith("#"))
    # The file itself says where its figures come from and when.
    assert "https://developers.facebook.com/docs/whatsapp/pricing" in header
    assert "as_of" in header and "verified" in header
    with RATE_CARD.open() as f:
        rows = list(csv.DictReader(line for line in f if not line.startswith("#")))
    assert all(r["as_of"] and r["source"] and r["verified"] in ("yes", "no") for r in rows)
    germany = next(r for r in rows if "DE" in r["countries"].split())
    campaign = _whatsapp_campaign()
    page = staff_client.get(f"/campaigns/{campaign.pk}/forecast/").content.decode()
    line = f"2 marketing to DE at ${Decimal(germany['marketing'])}"
    if germany["verified"] == "no":
        assert f"{line} (estimate, unverified)" in page
    else:
        assert line in page and f"{line} (estimate" not in page
