"""The campaign dashboard speaks to the sales team in words: a channel that cannot tell us a
message arrived says so, instead of showing a delivery rate of 0.0%; held messages name the
contact and the template; dates read as dates in the site's time zone; an empty chart says
why it is empty."""

import re
from datetime import UTC, datetime

import pytest
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import escape

from campaigns.counters import counters_rebuild
from campaigns.dispatch import enrollments_materialize
from campaigns.services import campaign_launch, enrollments_create
from core import audit as core_audit
from outreach.models import Message
from tests import factories
from tests.dashboards.conftest import build_campaign

pytestmark = pytest.mark.django_db


def test_a_telegram_step_says_delivery_is_not_reported_instead_of_zero(staff_client):
    campaign = factories.campaign(
        senders=[factories.sender("Bot", channel="telegram")],
        steps=[("email", 0), ("telegram", 0)],
    )
    counters_rebuild()

    page = staff_client.get(f"/campaigns/{campaign.pk}/").content.decode()

    steps = page[page.index('id="table-steps"') :]
    steps = steps[: steps.index("</table>")]
    telegram_row = steps[steps.index("2. ") :]
    assert escape("n/a (not reported by Telegram)") in telegram_row
    assert "0.0%" not in telegram_row[: telegram_row.index("</tr>")]
    # Email does report delivery: its row keeps the counts.
    email_row = steps[steps.index("1. ") : steps.index("2. ")]
    assert "not reported" not in email_row


def test_history_reads_in_sentences_and_why_not_sent_is_headed_once(staff_client):
    campaign = factories.campaign(senders=[factories.sender()])
    core_audit.audit_record(
        actor=staff_client.user, action="campaign.enrol", target=campaign, detail="1 contact(s)"
    )

    page = staff_client.get(f"/campaigns/{campaign.pk}/").content.decode()

    history = page[page.index('id="history"') :]
    history = history[: history.index("</ul>")]
    assert "campaign.enrol" not in history
    assert "boss enrolled contacts (1 contact(s))" in history
    headings = re.findall(r"<h2[^>]*>(.*?)</h2>", page, re.S)
    assert len([h for h in headings if "why not sent" in h.lower()]) == 1, headings


def _table(page: str, name: str) -> str:
    table = page[page.index(f'id="table-{name}"') :]
    return table[: table.index("</table>")]


def test_held_messages_name_the_contact_and_the_template_with_links_to_their_pages(
    staff_client, settings
):
    settings.TIME_ZONE = "Europe/Berlin"
    campaign = build_campaign()
    held = Message.objects.filter(status="queued").order_by("id").first()
    Message.objects.filter(pk=held.pk).update(
        hold_reason="sending window opens Mon 09:00 Europe/Berlin",
        not_before=datetime(2026, 12, 7, 8, 0, 30, tzinfo=UTC),
    )
    contact = held.conversation.identity.contact
    template = held.step_send.step.template

    page = staff_client.get(f"/campaigns/{campaign.pk}/").content.decode()

    rows = _table(page, "held")
    assert f'<a href="/contacts/{contact.pk}/">{contact.first_name} Tester</a>' in rows
    assert f'<a href="/templates/{template.pk}/">{escape(template.name)} v1</a>' in rows
    assert f'<a href="/inbox/{held.conversation_id}/">#{held.pk}</a>' in rows
    assert "Mon 7 Dec 2026, 09:00" in rows
    assert "2026-12-07" not in rows
    # The CSV keeps machine-readable times and plain names.
    csv_text = b"".join(
        staff_client.get(f"/campaigns/{campaign.pk}/?export=held").streaming_content
    ).decode()
    assert "2026-12-07T08:00:30+00:00" in csv_text
    assert f"{contact.first_name} Tester" in csv_text and "<a " not in csv_text


def test_days_in_the_per_day_and_forecast_tables_read_as_dates_in_the_sites_time_zone(
    staff_client, settings
):
    settings.TIME_ZONE = "Pacific/Kiritimati"  # UTC+14: a UTC date would often be a day off
    campaign = build_campaign()
    today = timezone.localdate()

    page = staff_client.get(f"/campaigns/{campaign.pk}/").content.decode()
    forecast = staff_client.get(f"/campaigns/{campaign.pk}/forecast/").content.decode()

    shown = date_format(today, "D j M Y")
    assert f'<th scope="row">{shown}</th>' in _table(page, "series")
    assert f'<th scope="row">{shown}</th>' in _table(forecast, "forecast")
    assert today.isoformat() not in _table(page, "series") + _table(forecast, "forecast")
    export = staff_client.get(f"/campaigns/{campaign.pk}/?export=series")
    assert today.isoformat() in b"".join(export.streaming_content).decode()


def test_a_campaign_not_launched_says_why_each_chart_is_empty(staff_client):
    campaign = factories.campaign(senders=[factories.sender()], name="Autumn draft")
    counters_rebuild()

    page = staff_client.get(f"/campaigns/{campaign.pk}/").content.decode()

    assert "<canvas" not in page
    assert "No contacts enrolled yet" in page
    assert "No messages sent yet: the campaign starts sending at launch." in page
    assert "No replies yet." in page
    overview = staff_client.get("/").content.decode()
    row = overview[overview.index(f'data-campaign="{campaign.pk}"') :]
    assert "Not launched yet" in row[: row.index("</tr>")]


def test_a_launched_campaign_without_sends_says_what_waits_and_telegram_says_why_no_delivery(
    staff_client,
):
    bot = factories.sender("Bot", channel="telegram")
    campaign = factories.campaign(senders=[bot], steps=[("telegram", 0)], name="Bot launch")
    contact = factories.contact(5, channels=("telegram",))
    enrollments_create(campaign=campaign, contacts=[contact])
    campaign_launch(campaign=campaign, confirm_warnings=True)
    enrollments_materialize(now=timezone.now(), batch=50)
    counters_rebuild()

    page = staff_client.get(f"/campaigns/{campaign.pk}/").content.decode()

    assert "No messages sent yet: 1 message is waiting (see “Why not sent” below)." in page
    assert "Telegram does not report delivery." in page
    assert 'id="funnel-chart"' in page  # one contact enrolled: the funnel has a bar to draw
    assert "No replies yet." in page


def test_the_inbox_and_template_pages_show_dates_in_words_not_iso(staff_client, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    campaign = build_campaign("Words")
    message = Message.objects.filter(status="delivered").order_by("id").first()
    at = datetime(2026, 12, 4, 12, 18, tzinfo=UTC)
    Message.objects.filter(pk=message.pk).update(sent_at=at)
    template = campaign.sequence.steps.first().template
    type(template).objects.filter(pk=template.pk).update(updated_at=at)

    thread = staff_client.get(f"/inbox/{message.conversation_id}/thread/").content.decode()
    templates = staff_client.get("/templates/").content.decode()

    for page in (thread, templates):
        assert "Fri 4 Dec 2026, 13:18" in page
        assert "2026-12-04" not in page
