"""The send forecast uses the engine's own rules; on small campaigns it says what the engine
then does."""

from datetime import UTC, datetime, time, timedelta

import pytest
from django.utils import timezone

from analytics.forecast import campaign_forecast
from campaigns.dispatch import dispatch_tick
from campaigns.models import Enrollment, StepSend
from campaigns.services import campaign_launch, enrollments_create
from outreach.models import Message
from outreach.sending.deliver import message_send
from tests import factories

pytestmark = pytest.mark.django_db


def _run_engine_once(now):
    """One dispatcher tick, then every queued message sent in this process, oldest first as
    the engine offers them."""
    dispatch_tick(now=now)
    queued = Message.objects.filter(status=Message.Status.QUEUED).order_by("id")
    for mid in queued.values_list("id", flat=True):
        message_send(message_id=mid)


def test_forecast_of_a_daily_cap_matches_where_the_engine_holds_messages(monkeypatch):
    # A settable clock at midday: on the real one, a run across midnight UTC would move
    # "today" between the forecast and the engine.
    clock = [datetime(2026, 3, 2, 12, 0, tzinfo=UTC)]
    monkeypatch.setattr(timezone, "now", lambda: clock[0])
    sender = factories.sender(cap=3)
    people = [factories.contact(n, tz="UTC") for n in range(5)]
    campaign = factories.campaign(senders=[sender])
    enrollments_create(campaign=campaign, contacts=people)
    campaign_launch(campaign=campaign, confirm_warnings=True)
    now = timezone.now()
    forecast = campaign_forecast(campaign=campaign, now=now)
    assert len(forecast.sends) == 5
    today = [s for s in forecast.sends if s.at.date() == now.date()]
    later = [s for s in forecast.sends if s.at.date() > now.date()]
    assert len(today) == 3 and len(later) == 2
    midnight = datetime.combine(now.date() + timedelta(days=1), time(0), tzinfo=UTC)
    assert {s.at for s in later} == {midnight}

    for _ in range(6):
        clock[0] += timedelta(minutes=1)
        _run_engine_once(timezone.now())
    sent = Message.objects.filter(status=Message.Status.SENT)
    held = Message.objects.filter(status=Message.Status.QUEUED)
    assert sent.count() == 3 and held.count() == 2
    assert {m.not_before for m in held} == {midnight}
    assert all("daily cap" in m.hold_reason for m in held)
    # The same contacts: the forecast and the engine agree on who waits until tomorrow.
    waiting = set(StepSend.objects.filter(message__in=held).values_list("enrollment_id", flat=True))
    assert waiting == {s.enrollment_id for s in later}


def test_forecast_times_follow_ups_by_the_delay_and_the_window_in_the_contacts_zone():
    sender = factories.sender(window_days="0123456", window_start=time(9), window_end=time(17))
    tokyo = factories.contact(1, tz="Asia/Tokyo")
    campaign = factories.campaign(senders=[sender], steps=[("email", 0), ("email", 86400 * 2)])
    enrollments_create(campaign=campaign, contacts=[tokyo])
    campaign_launch(campaign=campaign)
    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # 21:00 in Tokyo: window closed
    Enrollment.objects.update(next_action_at=now)
    forecast = campaign_forecast(campaign=campaign, now=now)
    first, second = forecast.sends
    assert first.at == datetime(2026, 3, 3, 0, 0, tzinfo=UTC)  # 09:00 Tokyo next day
    assert second.at == first.at + timedelta(days=2)
    assert forecast.steps[0].last_at == first.at
    assert forecast.summary()[0].startswith("All first messages out by")
    assert "Last follow-up (step 2)" in forecast.summary()[1]


def test_forecast_says_what_will_not_go_out():
    paused = factories.sender("Paused", paused=True, paused_reason="bounces")
    campaign = factories.campaign(senders=[paused])
    enrollments_create(campaign=campaign, contacts=[factories.contact(1)])
    forecast = campaign_forecast(campaign=campaign)
    assert forecast.sends == []
    assert "1 message will not go out: Paused is paused." in forecast.summary()
    Enrollment.objects.all().delete()
    assert campaign_forecast(campaign=campaign).summary() == [
        "Nothing to send: no contact is waiting for a step."
    ]


def test_forecast_of_a_paused_campaign_plans_nothing_until_it_is_resumed():
    from campaigns.services import campaign_pause

    campaign = factories.campaign(senders=[factories.sender()])
    enrollments_create(campaign=campaign, contacts=[factories.contact(n) for n in range(3)])
    campaign_launch(campaign=campaign, confirm_warnings=True)
    campaign_pause(campaign=campaign)
    forecast = campaign_forecast(campaign=campaign)
    assert forecast.sends == []
    assert forecast.summary() == [
        "3 messages will not go out: campaign paused: nothing is sent until it is resumed."
    ]


def test_forecast_leaves_a_shared_senders_cap_to_what_other_campaigns_queued_today(monkeypatch):
    clock = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    monkeypatch.setattr(timezone, "now", lambda: clock)
    sender = factories.sender(cap=3)
    other = factories.campaign(senders=[sender], name="Other")
    enrollments_create(campaign=other, contacts=[factories.contact(n, tz="UTC") for n in (1, 2)])
    campaign_launch(campaign=other, confirm_warnings=True)
    dispatch_tick(now=clock)  # the other campaign's two messages are queued on the sender
    assert Message.objects.filter(sender=sender, status=Message.Status.QUEUED).count() == 2
    mine = factories.campaign(senders=[sender], name="Mine")
    enrollments_create(campaign=mine, contacts=[factories.contact(n, tz="UTC") for n in (3, 4)])
    campaign_launch(campaign=mine, confirm_warnings=True)
    forecast = campaign_forecast(campaign=mine, now=clock)
    # A cap of 3, two of them taken by the other campaign: one goes today, one tomorrow.
    assert sorted(s.at.date() for s in forecast.sends) == [
        clock.date(),
        clock.date() + timedelta(days=1),
    ]


def test_step_after_a_skipped_one_is_due_its_delay_after_the_last_real_send(monkeypatch):
    # Email, Instagram 1 h later, email 2 h after that; the contact has no Instagram, so the
    # second email is due 2 h after the first one went out, by the forecast and the engine.
    clock = [datetime(2026, 3, 2, 12, 0, tzinfo=UTC)]
    monkeypatch.setattr(timezone, "now", lambda: clock[0])
    senders = [factories.sender(), factories.sender("Insta", channel="instagram")]
    campaign = factories.campaign(
        senders=senders, steps=(("email", 0), ("instagram", 3600), ("email", 7200))
    )
    enrollments_create(campaign=campaign, contacts=[factories.contact(1, tz="UTC")])
    campaign_launch(campaign=campaign, confirm_warnings=True)
    start = clock[0]
    forecast = campaign_forecast(campaign=campaign, now=start)
    assert [(s.step, s.at) for s in forecast.sends] == [
        (1, start),
        (3, start + timedelta(hours=2)),
    ]

    _run_engine_once(start)  # step 1 goes out
    clock[0] = start + timedelta(hours=1, minutes=1)  # the tick after step 2 fell due
    _run_engine_once(clock[0])

    enrollment = Enrollment.objects.get()
    assert (enrollment.current_step, enrollment.next_action_at) == (
        3,
        start + timedelta(hours=2),
    )
    clock[0] = start + timedelta(hours=2)
    _run_engine_once(clock[0])
    assert Message.objects.filter(status=Message.Status.SENT).count() == 2
