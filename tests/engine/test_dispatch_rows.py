"""What a dispatcher batch writes for each contact: a complete queued message in the
contact's conversation with its sender, its first history entry and its step link. The
batch writes them by columns (core/bulk.py), so these check every field a message made one
by one would have."""

import pytest
from django.utils import timezone

from campaigns.dispatch import enrollments_materialize
from campaigns.models import StepSend
from campaigns.services import campaign_launch, enrollments_create
from contacts.models import Identity
from outreach.models import Conversation, ManualTask, Message, MessageEvent
from tests import factories

pytestmark = pytest.mark.django_db

# Set by the engine whatever the defaults: the rest must be what Message() gives.
WRITTEN = {
    "id",
    "conversation_id",
    "sender_id",
    "channel",
    "direction",
    "status",
    "subject",
    "body",
    "body_html",
    "campaign_id",
    "idempotency_key",
    "created_at",
}


def launched(*people, channel="email", sender=None):
    sender = sender or factories.sender("Anna", channel=channel)
    campaign = factories.campaign(senders=[sender], steps=((channel, 0),))
    enrollments_create(campaign=campaign, contacts=list(people))
    campaign_launch(campaign=campaign)
    return campaign


def test_each_queued_message_has_every_default_a_message_made_by_hand_has():
    campaign = launched(*(factories.contact(n) for n in range(1, 4)))
    before = timezone.now()
    made, _ = enrollments_materialize(now=timezone.now())
    assert made == 3
    by_hand = Message()
    for message in Message.objects.all():
        for field in Message._meta.concrete_fields:
            if field.attname not in WRITTEN:
                expected = getattr(by_hand, field.attname)
                assert getattr(message, field.attname) == expected, field.attname
        assert (message.direction, message.status) == ("out", "queued")
        assert message.campaign_id == campaign.id
        assert message.subject and message.body  # rendered for this contact
        assert before <= message.created_at <= timezone.now()
    keys = set(Message.objects.values_list("idempotency_key", flat=True))
    assert len(keys) == 3  # one key per message, never one shared by the batch


def test_each_queued_message_has_one_queued_history_entry_and_one_step_link():
    campaign = launched(*(factories.contact(n) for n in range(1, 4)))
    enrollments_materialize(now=timezone.now())
    events = list(MessageEvent.objects.values_list("message_id", "status", "detail"))
    assert sorted(events) == sorted(
        (m, "queued", "") for m in Message.objects.values_list("id", flat=True)
    )
    links = StepSend.objects.select_related("enrollment", "message__conversation__identity")
    assert len(links) == 3
    for link in links:
        assert link.enrollment.campaign_id == campaign.id
        assert link.template_version_id is not None and link.route == 0
        # The message goes to this enrolment's contact.
        assert link.message.conversation.identity.contact_id == link.enrollment.contact_id


def test_a_contact_already_talking_to_the_sender_gets_the_message_in_that_conversation():
    anna = factories.sender("Anna")
    known, new = factories.contact(1), factories.contact(2)
    earlier = Conversation.objects.create(
        identity=Identity.objects.get(contact=known, channel="email"), sender=anna
    )
    launched(known, new, sender=anna)
    enrollments_materialize(now=timezone.now())
    by_contact = {
        m.conversation.identity.contact_id: m.conversation_id
        for m in Message.objects.select_related("conversation__identity")
    }
    assert by_contact[known.id] == earlier.id
    assert by_contact[new.id] != earlier.id
    assert Conversation.objects.count() == 2  # one new, none twice


def test_a_step_on_a_channel_without_automation_queues_a_task_for_a_rep():
    launched(factories.contact(1, channels=("linkedin",)), channel="linkedin")
    enrollments_materialize(now=timezone.now())
    message = Message.objects.get()
    assert message.hold_reason == "waiting for a rep to send it by hand"
    assert ManualTask.objects.filter(message=message, done_at=None).exists()
    assert MessageEvent.objects.get(message=message).detail == message.hold_reason
