"""Team-wide daily caps per channel, through the dispatcher's real batches: a team's senders
together send at most the team's cap a day (a day in the installation's TIME_ZONE); the rest
hold with the reason and go the next day. The two-worker test runs real Celery workers and
dispatchers as processes."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from campaigns.services import campaign_launch, enrollments_create
from core.teams import Team
from outreach.models import Message
from outreach.sending.offer import messages_offer
from outreach.sending.team_limits import day_start
from outreach.team_caps import TeamChannelCap
from tests import factories
from tests.engine.harness import Engine, dispatch_in_process, poll_until

HELD = "team daily cap for email reached: 3 of 3"


def team_campaign(django_user_model, per_day: int = 3):
    """Team North (two reps, one sender each) capped at `per_day` emails a day; a sender of
    another team, uncapped, in the same campaign's pool; 8 contacts."""
    north = Team.objects.create(name="North")
    alice = django_user_model.objects.create_user("alice")
    bob = django_user_model.objects.create_user("bob")
    north.members.add(alice, bob)
    TeamChannelCap.objects.create(team=north, channel="email", per_day=per_day)
    senders = [factories.sender("Anna", owner=alice), factories.sender("Ben", owner=bob)]
    campaign = factories.campaign(senders=senders)
    contacts = [factories.contact(n) for n in range(1, 9)]
    enrollments_create(campaign=campaign, contacts=contacts)
    campaign_launch(campaign=campaign)
    return senders


def outcome() -> tuple[list[Message], list[Message]]:
    sent = list(Message.objects.filter(direction="out", status="sent"))
    held = list(Message.objects.filter(direction="out", status="queued"))
    return sent, held


@pytest.mark.django_db
def test_a_teams_senders_together_send_the_team_cap_and_the_rest_wait_for_the_next_day(
    fake_email_platform, django_user_model
):
    senders = team_campaign(django_user_model)
    dispatch_in_process(ticks=30)
    sent, held = outcome()
    assert len(sent) == 3
    assert len(held) == 5
    assert {m.sender_id for m in sent} == {s.id for s in senders}  # both senders counted
    assert all(m.hold_reason == HELD for m in held), [m.hold_reason for m in held]
    tomorrow = day_start(timezone.now()) + timedelta(days=1)
    assert all(m.not_before == tomorrow for m in held)
    # Nothing is offered again today; the next day the offer picks them up.
    assert messages_offer(now=timezone.now()) == []
    assert len(messages_offer(now=tomorrow + timedelta(seconds=1))) >= 1
    assert len(fake_email_platform.state.deliveries) == 3


@pytest.mark.django_db
def test_a_team_in_zurich_gets_its_new_day_at_midnight_zurich_time(
    fake_email_platform, django_user_model, settings
):
    settings.TIME_ZONE = "Europe/Zurich"
    team_campaign(django_user_model)
    dispatch_in_process(ticks=30)
    sent, held = outcome()
    assert (len(sent), len(held)) == (3, 5)
    zurich = timezone.now().astimezone(ZoneInfo("Europe/Zurich"))
    midnight = datetime.combine(zurich.date() + timedelta(days=1), time(0), zurich.tzinfo)
    assert {m.not_before for m in held} == {midnight}  # 23:00 or 22:00 UTC, not 00:00 UTC
    assert messages_offer(now=midnight - timedelta(seconds=1)) == []
    assert len(messages_offer(now=midnight + timedelta(seconds=1))) >= 1


@pytest.mark.django_db
def test_another_teams_sender_is_not_held_by_this_teams_cap(fake_email_platform, django_user_model):
    team_campaign(django_user_model, per_day=1)
    south = Team.objects.create(name="South")
    carol = django_user_model.objects.create_user("carol")
    south.members.add(carol)
    other = factories.sender("Cleo", owner=carol)
    campaign = factories.campaign(senders=[other], name="South campaign")
    enrollments_create(campaign=campaign, contacts=[factories.contact(n) for n in (20, 21)])
    campaign_launch(campaign=campaign)
    dispatch_in_process(ticks=30)
    sent, held = outcome()
    assert sum(1 for m in sent if m.sender_id == other.id) == 2
    assert sum(1 for m in sent if m.sender_id != other.id) == 1
    assert all(m.hold_reason == "team daily cap for email reached: 1 of 1" for m in held)


@pytest.mark.live_worker
@pytest.mark.django_db(transaction=True)
def test_two_workers_together_do_not_exceed_the_team_cap(log_dir, clean_broker, django_user_model):
    team_campaign(django_user_model)
    engine = Engine.start(log_dir, workers=2, dispatchers=2)
    try:

        def settled() -> bool:
            sent, held = outcome()
            return len(sent) == 3 and len(held) == 5 and all(m.hold_reason for m in held)

        assert poll_until(settled, timeout=90), outcome()
        sent, held = outcome()
        assert all(m.hold_reason == HELD for m in held), [m.hold_reason for m in held]
        assert len(engine.platform.state.deliveries) == 3
    finally:
        engine.stop()
