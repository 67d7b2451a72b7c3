"""A step's condition decides whether it goes out, in the dispatcher's real batches and in the
forecast alike: a reply skips the "only if no reply yet" steps while "Always" steps still go
out; delivered / read follow the platform's receipts; an identity condition checks the
contact's channels; business days skip the weekend. A skipped step says why, and the next one
is timed from the last message really sent."""

import copy
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from analytics.forecast import campaign_forecast
from campaigns.counters import counters_rebuild
from campaigns.dispatch import dispatch_tick
from campaigns.lint import campaign_lint
from campaigns.models import Enrollment, Step
from campaigns.services import campaign_launch, enrollments_create
from contacts.models import Identity
from outreach.models import Message
from outreach.sending.deliver import message_send
from tests import factories
from tests.channels.conftest import fixture_json
from tests.channels.helpers import contact_replies, deliver, platform_sender, process_all
from tests.dashboards.test_counters import counters_snapshot

pytestmark = pytest.mark.django_db
E = Enrollment.State
C = Step.Condition
START = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)  # a Wednesday


@pytest.fixture
def clock(monkeypatch):
    now = [START]
    monkeypatch.setattr(timezone, "now", lambda: now[0])
    return now


def run_engine(now):
    """One dispatcher tick, then every queued message sent, oldest first."""
    dispatch_tick(now=now)
    for mid in (
        Message.objects.filter(status=Message.Status.QUEUED)
        .order_by("id")
        .values_list("id", flat=True)
    ):
        message_send(message_id=mid)


def launched(senders, steps, contacts, **conditions):
    """A running campaign; `conditions` sets step_<n>=(condition, channel) on its steps."""
    campaign = factories.campaign(senders=senders, steps=steps)
    for name, (condition, channel) in conditions.items():
        Step.objects.filter(
            sequence=campaign.sequence, position=int(name.removeprefix("step_"))
        ).update(condition=condition, condition_channel=channel)
    enrollments_create(campaign=campaign, contacts=contacts)
    campaign_launch(campaign=campaign, confirm_warnings=True)
    return campaign


def sent_steps(contact) -> list[int]:
    return sorted(
        Message.objects.filter(
            conversation__identity__contact=contact, sent_at__isnull=False, direction="out"
        ).values_list("step_send__step__position", flat=True)
    )


def test_a_reply_skips_the_no_reply_step_but_the_always_step_still_goes_out(clock, client):
    sender = factories.sender()
    ana = factories.contact(1, tz="UTC")
    campaign = launched(
        [sender],
        (("email", 0), ("email", 3600), ("email", 7200)),
        [ana],
        step_2=(C.NO_REPLY, ""),
        step_3=(C.ALWAYS, ""),
    )
    run_engine(START)
    assert sent_steps(ana) == [1]
    clock[0] = START + timedelta(minutes=10)
    contact_replies(client, ana, sender, "Yes, let's talk on Tuesday")

    enrollment = Enrollment.objects.get()
    assert enrollment.state == E.ACTIVE and enrollment.replied_at is not None
    forecast = campaign_forecast(campaign=campaign, now=clock[0])
    assert [(s.step, s.at) for s in forecast.sends] == [(3, START + timedelta(hours=2))]
    assert forecast.skipped == {(2, "the contact replied"): 1}
    assert "Step 2: skipped for 1 contact: the contact replied." in forecast.summary()

    clock[0] = START + timedelta(hours=1, minutes=1)
    run_engine(clock[0])
    enrollment.refresh_from_db()
    assert enrollment.hold_reason == "skipped step 2: the contact replied"
    assert (enrollment.current_step, enrollment.next_action_at) == (3, START + timedelta(hours=2))
    clock[0] = START + timedelta(hours=2)
    run_engine(clock[0])
    assert sent_steps(ana) == [1, 3]
    enrollment.refresh_from_db()
    assert enrollment.state == E.REPLIED
    # One reply, on step 1 it answered, in the live counters and in a rebuild alike.
    live = counters_snapshot()
    assert live[2][campaign.id]["replied"] == 1
    counters_rebuild()
    assert counters_snapshot() == live


def test_a_reply_ends_a_sequence_without_always_steps_as_before(clock, client):
    sender = factories.sender()
    ana = factories.contact(1, tz="UTC")
    launched([sender], (("email", 0), ("email", 3600)), [ana])
    run_engine(START)
    contact_replies(client, ana, sender, "Not interested, thanks")
    clock[0] = START + timedelta(hours=2)
    run_engine(clock[0])
    assert sent_steps(ana) == [1]
    assert Enrollment.objects.get().state == E.REPLIED


def _whatsapp_status(message: Message, status: str) -> dict:
    body = copy.deepcopy(fixture_json("whatsapp", "status_delivered"))
    entry = body["entry"][0]["changes"][0]["value"]["statuses"][0]
    entry["id"], entry["status"] = message.provider_message_id, status
    return body


@pytest.mark.parametrize(
    ("condition", "receipts", "reason"),
    [
        (C.DELIVERED, ("delivered", "sent"), "the previous message was not delivered"),
        (C.READ, ("read", "delivered"), "the previous message was not read"),
    ],
)
def test_a_step_for_delivered_or_read_messages_follows_the_platforms_receipts(
    clock, client, condition, receipts, reason
):
    sender = platform_sender("whatsapp", "1122334455667")
    ana, ben = (factories.contact(n, channels=("whatsapp",), tz="UTC") for n in (1, 2))
    campaign = launched(
        [sender], (("whatsapp", 0), ("whatsapp", 3600)), [ana, ben], step_2=(condition, "")
    )
    run_engine(START)
    for contact, status in zip((ana, ben), receipts, strict=True):
        ours = Message.objects.get(conversation__identity__contact=contact)
        if status != "sent":
            with _receiving_whatsapp():
                assert deliver(client, "whatsapp", _whatsapp_status(ours, status)) == 200
                process_all()
        ours.refresh_from_db()
        assert ours.status == status
    forecast = campaign_forecast(campaign=campaign, now=START + timedelta(minutes=5))
    assert [(s.step, s.enrollment_id) for s in forecast.sends] == [
        (2, Enrollment.objects.get(contact=ana).id)
    ]
    assert forecast.skipped == {(2, reason): 1}

    clock[0] = START + timedelta(hours=1, minutes=1)
    run_engine(clock[0])
    assert sent_steps(ana) == [1, 2] and sent_steps(ben) == [1]
    skipped = Enrollment.objects.get(contact=ben)
    assert skipped.hold_reason == f"skipped step 2: {reason}"


def _receiving_whatsapp():
    from tests.channels.helpers import receiving

    return receiving("whatsapp")


def test_a_step_for_contacts_with_a_telegram_identity_skips_the_others(clock):
    sender = factories.sender()
    ana = factories.contact(1, channels=("email", "telegram"), tz="UTC")
    ben = factories.contact(2, tz="UTC")
    campaign = launched(
        [sender],
        (("email", 0), ("email", 3600), ("email", 7200)),
        [ana, ben],
        step_2=(C.HAS_IDENTITY, "telegram"),
    )
    run_engine(START)
    forecast = campaign_forecast(campaign=campaign, now=START)
    by_step = sorted((s.step, s.enrollment_id) for s in forecast.sends)
    ana_e, ben_e = (Enrollment.objects.get(contact=c).id for c in (ana, ben))
    assert by_step == sorted([(2, ana_e), (3, ana_e), (3, ben_e)])
    assert forecast.skipped == {(2, "no Telegram identity"): 1}
    ben_third = next(s.at for s in forecast.sends if s.enrollment_id == ben_e)
    assert ben_third == START + timedelta(hours=2)  # timed from step 1, the last real send

    clock[0] = START + timedelta(hours=1)
    run_engine(clock[0])
    assert sent_steps(ana) == [1, 2] and sent_steps(ben) == [1]
    assert Enrollment.objects.get(contact=ben).hold_reason == (
        "skipped step 2: no Telegram identity"
    )
    clock[0] = START + timedelta(hours=3)
    run_engine(clock[0])
    assert sent_steps(ben) == [1, 3]


def test_a_read_condition_after_a_telegram_step_is_refused_with_the_reason():
    campaign = factories.campaign(
        senders=[factories.sender()], steps=(("telegram", 0), ("email", 3600))
    )
    step = Step.objects.get(sequence=campaign.sequence, position=2)
    step.condition = C.READ
    with pytest.raises(
        ValidationError, match="Telegram does not report whether a message was read"
    ):
        step.full_clean()
    step.save()
    errors = [i.text for i in campaign_lint(campaign=campaign).errors]
    assert any("Telegram does not report" in e for e in errors)
    first = Step.objects.get(sequence=campaign.sequence, position=1)
    first.condition = C.DELIVERED
    with pytest.raises(ValidationError, match="first step has no previous message"):
        first.full_clean()
    step.condition, step.condition_channel = C.HAS_IDENTITY, ""
    with pytest.raises(ValidationError, match="Choose the channel"):
        step.full_clean()


def test_business_days_skip_the_weekend_in_the_dispatcher_and_the_forecast(clock, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    friday = datetime(2026, 3, 6, 11, 0, tzinfo=UTC)  # 12:00 in Berlin
    clock[0] = friday
    sender = factories.sender()
    ana = factories.contact(1, tz="UTC")
    campaign = launched([sender], (("email", 0), ("email", 86400)), [ana])
    Step.objects.filter(sequence=campaign.sequence, position=2).update(business_days=True)
    Enrollment.objects.update(next_action_at=friday)
    forecast = campaign_forecast(campaign=campaign, now=friday)
    monday = datetime(2026, 3, 9, 11, 0, tzinfo=UTC)
    assert [(s.step, s.at) for s in forecast.sends] == [(1, friday), (2, monday)]
    run_engine(friday)
    assert Enrollment.objects.get().next_action_at == monday
    clock[0] = datetime(2026, 3, 7, 11, 0, tzinfo=UTC)  # Saturday: a calendar day later
    run_engine(clock[0])
    assert sent_steps(ana) == [1]
    clock[0] = monday
    run_engine(monday)
    assert sent_steps(ana) == [1, 2]


def test_an_opted_out_identity_is_held_in_the_forecast_not_sent(clock):
    ana = factories.contact(1, tz="UTC")
    campaign = launched([factories.sender()], (("email", 0),), [ana])
    Identity.objects.filter(contact=ana).update(opted_out_at=START)
    forecast = campaign_forecast(campaign=campaign, now=START)
    assert forecast.sends == []
    assert forecast.held == {(1, "contact opted out of Email"): 1}
