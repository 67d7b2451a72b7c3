"""What a reply does: intent label, deal stage moves with history, owner assignment,
out-of-office pause and resume on the return date (fake clock), unsubscribe -> lost."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from campaigns.dispatch import dispatch_tick
from campaigns.models import Enrollment
from outreach.inbox.models import MessageIntent
from outreach.inbox.services import intent_correct
from outreach.models import Message
from pipelines.models import Deal, DealStageChange, Pipeline
from pipelines.signals import deal_stage_changed
from tests import factories
from tests.inbox.helpers import campaign_with, rep, reply_from

pytestmark = pytest.mark.django_db


def test_an_interested_reply_opens_a_deal_moves_it_to_replied_then_interested():
    owner = rep("olga")
    camp, (email,) = campaign_with(owner)
    contact = factories.contact(1)
    Enrollment.objects.create(campaign=camp, contact=contact, state="active")
    moves = []

    def record(sender, *, deal, change, **kwargs):
        moves.append(change.to_stage.name)

    deal_stage_changed.connect(record, weak=False, dispatch_uid="t")
    try:
        message = reply_from(contact, email, "Sounds good, can we book a call on Thursday?")
    finally:
        deal_stage_changed.disconnect(dispatch_uid="t")
    assert message.intent.label == "interested"
    deal = Deal.objects.get(contact=contact)
    assert deal.pipeline == Pipeline.objects.get(name="Sales")
    assert deal.stage.name == "Interested" and deal.owner == owner and deal.campaign == camp
    history = list(deal.history.order_by("at", "id").values_list("to_stage__name", "reason"))
    assert [h[0] for h in history] == ["Contacted", "Replied", "Interested"]
    assert f"message #{message.id}" in history[-1][1]
    assert moves == ["Contacted", "Replied", "Interested"]  # each fanned out
    message.conversation.refresh_from_db()
    assert message.conversation.assigned_to == owner
    assert Enrollment.objects.get(contact=contact).state == "replied"


def test_an_unsubscribe_reply_loses_the_deal_with_a_reason_and_opts_the_contact_out():
    camp, (email,) = campaign_with(rep("olga"))
    contact = factories.contact(1)
    Enrollment.objects.create(campaign=camp, contact=contact, state="active")
    reply_from(contact, email, "Please take me off your list, I never asked for this.")
    deal = Deal.objects.get(contact=contact)
    assert deal.stage.name == "Lost"
    assert "unsubscribed" in deal.history.first().reason
    contact.refresh_from_db()
    assert contact.opted_out_at is not None


def test_a_deal_further_along_is_not_pulled_back_by_another_reply():
    camp, (email,) = campaign_with(rep("olga"))
    contact = factories.contact(1)
    reply_from(contact, email, "Interested, send me details")
    deal = Deal.objects.get(contact=contact)
    meeting = deal.pipeline.stages.get(name="Meeting")
    DealStageChange.objects.create(deal=deal, from_stage=deal.stage, to_stage=meeting)
    Deal.objects.filter(id=deal.id).update(stage=meeting)
    reply_from(contact, email, "Sounds good, see you then")
    assert Deal.objects.get(id=deal.id).stage == meeting


def test_a_reps_correction_is_kept_beside_the_classifier_label_and_moves_the_deal():
    user = rep("rita")
    camp, (email,) = campaign_with(user)
    contact = factories.contact(1)
    message = reply_from(contact, email, "Who is this?")
    assert message.intent.label == "other"
    intent_correct(intent=message.intent, label="interested", by=user)
    intent = MessageIntent.objects.get(message=message)
    assert (intent.label, intent.corrected_label, intent.corrected_by) == (
        "other",
        "interested",
        user,
    )
    assert Deal.objects.get(contact=contact).stage.name == "Interested"


def test_out_of_office_pauses_the_sequence_until_the_return_date_then_it_resumes():
    camp, (email,) = campaign_with(rep("olga"))
    contact = factories.contact(1, tz="Europe/Berlin")
    enrollment = Enrollment.objects.create(
        campaign=camp, contact=contact, state="active", current_step=2,
        next_action_at=timezone.now() + timedelta(hours=1),
    )  # fmt: skip
    back = (timezone.now() + timedelta(days=10)).date()
    text = f"I am out of the office until {back:%d.%m.%Y} with no access to email."
    message = reply_from(contact, email, text)
    assert message.intent.label == "out_of_office" and message.intent.return_date == back
    enrollment.refresh_from_db()
    assert enrollment.state == "active"  # paused, not stopped
    returns = datetime.combine(back, datetime.min.time(), tzinfo=ZoneInfo("Europe/Berlin"))
    assert enrollment.next_action_at == returns
    assert "out of office until" in enrollment.hold_reason
    # Fake clock: the day before the return nothing goes out, on the day the step is created.
    dispatch_tick(now=returns - timedelta(hours=1))
    assert not Message.objects.filter(direction="out").exists()
    dispatch_tick(now=returns + timedelta(minutes=1))
    enrollment.refresh_from_db()
    assert enrollment.state == "waiting"
    assert Message.objects.filter(direction="out", step_send__enrollment=enrollment).count() == 1
    assert not Deal.objects.filter(contact=contact).exists()  # an absence is not a lead reply


def test_out_of_office_holds_a_message_already_queued_until_the_return_date():
    camp, (email,) = campaign_with(rep("olga"))
    contact = factories.contact(1, tz="UTC")
    enrollment = Enrollment.objects.create(
        campaign=camp, contact=contact, next_action_at=timezone.now()
    )
    dispatch_tick()  # the first step's message is queued; its task never runs in this test
    queued = Message.objects.get(direction="out")
    assert queued.status == "queued"
    assert Enrollment.objects.get(id=enrollment.id).state == "waiting"
    back = (timezone.now() + timedelta(days=20)).date()
    reply_from(contact, email, f"On vacation, back on {back:%Y-%m-%d}.", auto_reply=True)
    queued.refresh_from_db()
    assert queued.status == "queued"
    assert queued.not_before == datetime.combine(back, datetime.min.time(), tzinfo=ZoneInfo("UTC"))
    assert queued.hold_reason == f"out of office until {back:%Y-%m-%d}"
