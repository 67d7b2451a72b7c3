"""Why a held message has not gone, as the campaign dashboard shows it: the real reason
(kill switch, paused sender, the contact's sending window) even for messages the send path
has not tried yet, and every held message in the CSV."""

import csv
import importlib
import io
from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest
from django.db import connection

from analytics import campaign as dashboard_module
from analytics.campaign import campaign_dashboard
from analytics.held import HeldMessage
from analytics.templatetags.dashboard_cells import as_shown
from outreach.models import Message, SenderAccount
from outreach.sending.control import sender_pause, sending_switch_set
from tests.dashboards.conftest import build_campaign

pytestmark = pytest.mark.django_db

SATURDAY = datetime(2026, 12, 5, 12, 0, tzinfo=ZoneInfo("Europe/Berlin"))


def test_held_messages_say_all_sending_is_paused_while_the_kill_switch_is_on():
    campaign = build_campaign()
    sending_switch_set(paused=True, reason="incident")
    d = campaign_dashboard(campaign=campaign)
    assert {h.reason for h in d.held} == {"all sending paused (kill switch)"}
    assert d.held_reasons == [("all sending paused (kill switch)", 4)]


def test_held_messages_say_their_sender_is_paused_and_why():
    campaign = build_campaign()
    sender_pause(sender=campaign.senders.get(), reason="too many bounces")
    d = campaign_dashboard(campaign=campaign)
    assert {h.reason for h in d.held} == {"sender paused: too many bounces"}
    assert d.senders[0].next_slot_note == "paused: too many bounces"


def test_held_messages_on_a_weekend_say_when_the_contacts_window_opens():
    campaign = build_campaign()
    SenderAccount.objects.filter(campaigns=campaign).update(
        window_days="01234", window_start=time(9), window_end=time(17), time_zone="UTC"
    )
    d = campaign_dashboard(campaign=campaign, now=SATURDAY)
    # The contacts are in Berlin: their window, not the sender's UTC one, as the send path.
    assert {h.reason for h in d.held} == {"sending window opens Mon 09:00 Europe/Berlin"}
    assert {h.not_before for h in d.held} == {datetime(2026, 12, 7, 8, 0, tzinfo=ZoneInfo("UTC"))}
    assert d.held_reasons == [("sending window opens Mon 09:00 Europe/Berlin", 4)]


def test_held_messages_say_the_sender_reached_its_daily_cap():
    campaign = build_campaign()
    sender = campaign.senders.get()
    SenderAccount.objects.filter(id=sender.id).update(
        daily_cap=6, sent_today=6, counter_day=SATURDAY.astimezone(ZoneInfo("UTC")).date()
    )
    d = campaign_dashboard(campaign=campaign, now=SATURDAY)
    assert {h.reason for h in d.held} == {"sender daily cap reached (6/6)"}


def test_a_message_with_its_own_reason_keeps_it():
    campaign = build_campaign()
    held = campaign_dashboard(campaign=campaign).held
    from outreach.models import Message

    Message.objects.filter(id=held[0].id).update(hold_reason="contact already got 1 message(s)")
    reasons = {h.id: h.reason for h in campaign_dashboard(campaign=campaign).held}
    assert reasons[held[0].id] == "contact already got 1 message(s)"
    assert reasons[held[1].id] == "waiting for a free sender slot"


def test_held_messages_csv_has_every_held_message_not_only_the_first_page(
    staff_client, monkeypatch
):
    campaign = build_campaign()
    monkeypatch.setattr(dashboard_module, "HELD_LIMIT", 2)
    assert len(campaign_dashboard(campaign=campaign).held) == 2
    response = staff_client.get(f"/campaigns/{campaign.pk}/?export=held")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][6] == "why not sent"
    assert len(rows) == 1 + 4


def test_sender_health_does_not_promise_one_time_zone_for_the_window():
    campaign = build_campaign()
    SenderAccount.objects.filter(campaigns=campaign).update(
        window_days="01234", window_start=time(9), window_end=time(17), time_zone="Europe/Berlin"
    )
    note = campaign_dashboard(campaign=campaign, now=SATURDAY).senders[0].next_slot_note
    assert (
        note
        == "now, within the window (Mon Tue Wed Thu Fri 09:00-17:00 in each contact's time zone)"
    )


def test_a_held_message_says_when_it_may_go_in_words_not_an_iso_timestamp(settings):
    settings.TIME_ZONE = "Europe/Berlin"
    at = datetime(2026, 12, 7, 8, 0, 30, 118537, tzinfo=ZoneInfo("UTC"))
    held = HeldMessage(1, "Ana", 1, "Email", "queued", "sending window", not_before=at)
    assert as_shown(held.cells()[-1]) == "Mon 7 Dec 2026, 09:00"


def test_lint_and_forecast_show_telegram_contacts_who_have_not_started_the_bot_as_held(
    platform_channels, staff_client
):
    """The policy gate holds a Telegram message to a contact who never started the bot; the
    pre-launch check and the send forecast say so per step, in words, instead of promising
    the message today."""
    from analytics.forecast import campaign_forecast
    from campaigns.lint import campaign_lint
    from campaigns.services import campaign_launch, enrollments_create
    from contacts.models import Identity
    from tests import factories
    from tests.channels.helpers import platform_sender

    bot = platform_sender("telegram", "acme_bot", "123:ABC")
    cold = [factories.contact(n, channels=("telegram",), tz="UTC") for n in (1, 2)]
    started = factories.contact(3, channels=("telegram",), tz="UTC")
    Identity.objects.filter(contact=started).update(platform_user_id="408258968")
    campaign = factories.campaign(senders=[bot], steps=[("telegram", 0)], name="Bot leads")
    enrollments_create(campaign=campaign, contacts=[*cold, started])
    campaign_launch(campaign=campaign, confirm_warnings=True)
    reason = (
        "platform policy: the contact has not started the bot yet (send them the t.me deep link)"
    )

    report = campaign_lint(campaign=campaign)
    held = [i for i in report.issues if i.code == "held"]
    assert held == report.notices  # shown, but the launch needs no confirmation for it
    assert [(i.where, i.count) for i in held] == [("step 1", 2)]
    assert held[0].message == f"2 contacts are held, not sent: {reason}"
    page = staff_client.get(f"/templates/lint/campaign/{campaign.pk}/").content.decode()
    assert f"step 1: 2 contacts are held, not sent: {reason}" in page

    forecast = campaign_forecast(campaign=campaign)
    assert [s.enrollment_id for s in forecast.sends] == [
        campaign.enrollments.get(contact=started).id
    ]
    assert forecast.held == {(1, reason): 2}
    assert f"Step 1: 2 contacts are held, not sent: {reason}." in forecast.summary()
    page = staff_client.get(f"/campaigns/{campaign.pk}/forecast/").content.decode()
    assert "has not started the bot yet" in page and "held: platform policy" in page


def test_messages_sent_before_the_upgrade_show_as_held_once_migrated():
    """Campaign messages written before `Message.campaign_id` existed get their campaign from
    their step link (campaigns migration 0028), so their dashboard still lists them."""
    campaign, other = build_campaign(), build_campaign("Other")
    Message.objects.update(campaign_id=None)  # as an install from before the column
    assert campaign_dashboard(campaign=campaign).held_total == 0
    fill = importlib.import_module("campaigns.migrations.0028_fill_message_campaign").FILL
    with connection.cursor() as cursor:
        cursor.execute(fill)
    assert campaign_dashboard(campaign=campaign).held_total == 4
    assert campaign_dashboard(campaign=other).held_total == 4
    ours = Message.objects.filter(step_send__enrollment__campaign=campaign)
    assert set(ours.values_list("campaign_id", flat=True)) == {campaign.id}
    assert not Message.objects.filter(direction="in", campaign_id__isnull=False).exists()
