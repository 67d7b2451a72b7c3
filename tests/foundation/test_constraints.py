"""The invariants later features rely on hold in the database itself, not just in Python."""

import pytest
from django.db import IntegrityError, transaction

from campaigns.models import Enrollment, StepSend
from contacts.models import Identity, Suppression
from contacts.services import suppression_digest
from outreach.models import Conversation, InboundEvent, Message
from tests import factories

pytestmark = pytest.mark.django_db


def _message(sender, identity) -> Message:
    conv, _ = Conversation.objects.get_or_create(identity=identity, sender=sender)
    return Message.objects.create(
        conversation=conv,
        sender=sender,
        channel=sender.channel,
        direction="out",
        status="queued",
        body="hi",
    )


def test_same_email_cannot_belong_to_two_contacts():
    factories.contact(1)
    other = factories.contact(2)
    with pytest.raises(IntegrityError), transaction.atomic():
        Identity.objects.create(contact=other, channel="email", value="lead1@example.com")


def test_same_handle_on_another_channel_is_allowed():
    c = factories.contact(1, channels=("instagram",))
    Identity.objects.create(contact=c, channel="x", value="lead1_instagram")
    assert c.identities.count() == 2


def test_platform_user_id_is_unique_per_channel_but_may_be_empty():
    a, b = factories.contact(1, channels=()), factories.contact(2, channels=())
    Identity.objects.create(contact=a, channel="telegram", value="a", platform_user_id="")
    Identity.objects.create(contact=b, channel="telegram", value="b", platform_user_id="")
    Identity.objects.create(contact=a, channel="telegram", value="a2", platform_user_id="42")
    with pytest.raises(IntegrityError), transaction.atomic():
        Identity.objects.create(contact=b, channel="telegram", value="b2", platform_user_id="42")


def test_contact_cannot_be_enrolled_twice_in_one_campaign():
    s = factories.sender()
    camp = factories.campaign(senders=[s])
    c = factories.contact(1)
    Enrollment.objects.create(campaign=camp, contact=c)
    with pytest.raises(IntegrityError), transaction.atomic():
        Enrollment.objects.create(campaign=camp, contact=c)


def test_one_outbound_message_per_enrollment_and_step():
    s = factories.sender()
    camp = factories.campaign(senders=[s])
    c = factories.contact(1)
    enrollment = Enrollment.objects.create(campaign=camp, contact=c)
    step = camp.sequence.steps.get()
    identity = c.identities.get()
    StepSend.objects.create(enrollment=enrollment, step=step, message=_message(s, identity))
    with pytest.raises(IntegrityError), transaction.atomic():
        StepSend.objects.create(enrollment=enrollment, step=step, message=_message(s, identity))


def test_inbound_event_is_stored_once_per_provider_event_id():
    InboundEvent.objects.create(provider="telegram", provider_event_id="1001", payload={})
    InboundEvent.objects.create(provider="whatsapp", provider_event_id="1001", payload={})
    with pytest.raises(IntegrityError), transaction.atomic():
        InboundEvent.objects.create(provider="telegram", provider_event_id="1001", payload={})


def test_provider_message_id_is_unique_per_channel():
    s = factories.sender()
    identity = factories.contact(1).identities.get()
    m1, m2 = _message(s, identity), _message(s, identity)
    Message.objects.filter(id=m1.id).update(provider_message_id="wamid.1")
    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.filter(id=m2.id).update(provider_message_id="wamid.1")


def test_sender_gap_range_is_checked_by_the_database():
    with pytest.raises(IntegrityError), transaction.atomic():
        factories.sender(gap=(10.0, 5.0))


def test_suppression_entry_is_unique_per_channel():
    digest = suppression_digest("email", "x@example.com")
    Suppression.objects.create(channel="email", digest=digest)
    with pytest.raises(IntegrityError), transaction.atomic():
        Suppression.objects.create(channel="email", digest=digest)


def test_credentials_are_encrypted_at_rest_and_readable_in_python():
    s = factories.sender(credentials="super-secret-token-123")
    with transaction.atomic():
        from django.db import connection

        with connection.cursor() as cur:
            cur.execute("SELECT credentials FROM outreach_senderaccount WHERE id = %s", [s.id])
            stored = cur.fetchone()[0]
    assert "super-secret" not in stored
    assert stored.startswith("fernet:")
    s.refresh_from_db()
    assert s.credentials == "super-secret-token-123"
