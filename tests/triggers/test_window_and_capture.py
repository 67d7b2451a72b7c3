"""Follow-ups timed by the messaging window, and answers captured in the conversation. The
engine's clock is moved by dispatching at a later `now`; the fake platform's clock with it."""

import copy
from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.dispatch import dispatch_tick
from campaigns.models import Enrollment
from campaigns.triggers.models import CaptureRequest, StepOptions
from contacts.models import ConsentRecord, Identity
from outreach.models import Conversation, Message
from outreach.sending.deliver import message_send
from tests.channels.conftest import fixture_json
from tests.channels.helpers import deliver, platform_sender, process_all
from tests.triggers import helpers

pytestmark = pytest.mark.django_db


def dm(client, text: str, n: int, user: str = "PSID7") -> None:
    body = copy.deepcopy(fixture_json("messenger", "inbound_text"))
    body["entry"][0]["id"] = "PAGE1"
    event = body["entry"][0]["messaging"][0]
    event["sender"]["id"] = user
    event["message"] = {"mid": f"m_w{n}", "text": text}
    event["timestamp"] = int(timezone.now().timestamp() * 1000)
    deliver(client, "messenger", body)
    process_all()


def send_due(now) -> list[Message]:
    dispatch_tick(now=now)
    sent = []
    for m in Message.objects.filter(direction="out", status="queued"):
        message_send(message_id=m.id)
        m.refresh_from_db()
        sent.append(m)
    return sent


def test_a_follow_up_goes_23_hours_after_the_message_and_then_switches_to_email(
    client, platform_channels, control, mailoutbox
):
    page = platform_sender("messenger", "PAGE1")
    email = helpers.factories.sender("Anna", channel="email")
    camp = helpers.campaign(
        [page, email], (("messenger", 23 * 3600), ("messenger", 86400), ("email", 0))
    )
    StepOptions.objects.create(step=helpers.step(camp, 1), anchor="last_inbound")
    StepOptions.objects.create(step=helpers.step(camp, 2), when_window_closed="email")
    helpers.trigger(
        channel="messenger", sender=page, event_type="dm", keywords="price", campaign=camp
    )
    control.post("users", platform="messenger", id="PSID7")
    control.post("say", platform="messenger", user="PSID7", account="PAGE1", text="price")
    dm(client, "price?", 1)
    enrollment = Enrollment.objects.get()
    inbound = Conversation.objects.get(sender=page).last_inbound_at
    assert enrollment.next_action_at == inbound + timedelta(hours=23)
    # The person gave an address earlier (see the capture test for how).
    Identity.objects.create(contact=enrollment.contact, channel="email", value="p@example.com")

    control.post("clock", advance=23 * 3600)
    [follow_up] = send_due(inbound + timedelta(hours=23))
    assert follow_up.status == "sent", follow_up.hold_reason
    enrollment.refresh_from_db()
    assert enrollment.current_step == 3
    assert "switched to email" in enrollment.hold_reason

    [by_email] = send_due(timezone.now() + timedelta(days=2))
    assert (by_email.channel, by_email.status) == ("email", "sent")
    assert mailoutbox[-1].to == ["p@example.com"]


def test_without_an_address_the_sequence_ends_with_a_reason_when_the_window_closes(
    client, platform_channels, control
):
    page = platform_sender("messenger", "PAGE1")
    camp = helpers.campaign([page], (("messenger", 0), ("messenger", 86400)))
    StepOptions.objects.create(step=helpers.step(camp, 2), when_window_closed="email")
    helpers.trigger(
        channel="messenger", sender=page, event_type="dm", keywords="price", campaign=camp
    )
    control.post("say", platform="messenger", user="PSID7", account="PAGE1", text="price")
    dm(client, "price", 1)
    [first] = send_due(timezone.now())
    assert first.status == "sent", first.hold_reason
    enrollment = Enrollment.objects.get()
    assert enrollment.state == "completed"
    assert enrollment.hold_reason.endswith("no email address")


def test_a_question_step_stores_a_valid_email_and_asks_again_after_an_invalid_one(
    client, platform_channels, control
):
    page = platform_sender("messenger", "PAGE1")
    camp = helpers.campaign([page], (("messenger", 0), ("messenger", 3600)))
    StepOptions.objects.create(step=helpers.step(camp, 1), capture_field="email")
    helpers.trigger(
        channel="messenger", sender=page, event_type="dm", keywords="guide", campaign=camp
    )
    control.post("say", platform="messenger", user="PSID7", account="PAGE1", text="guide")
    dm(client, "send me the guide", 1)
    [question] = send_due(timezone.now())
    assert question.status == "sent", question.hold_reason
    assert CaptureRequest.objects.filter(field="email", answered_at=None).exists()

    dm(client, "it's ana at example dot com", 2)
    reask = Message.objects.filter(direction="out", status="queued").get()
    assert "doesn't look right" in reask.body
    assert not Identity.objects.filter(channel="email").exists()

    dm(client, "Sure: Ana.Lopez@Example.com.", 3)
    identity = Identity.objects.get(channel="email")
    assert identity.value == "ana.lopez@example.com"
    assert ConsentRecord.objects.filter(identity=identity, kind="granted").exists()
    enrollment = Enrollment.objects.get()
    assert (enrollment.state, enrollment.current_step) == ("active", 2)
