"""A contact's reply on each channel, posted signed in its platform's own shape (the shared
builders of tests/channels/helpers.py), stops that contact's sequence and is kept as what
they wrote. The other tests record replies through the same builders."""

import pytest

from campaigns.models import Enrollment
from outreach.models import InboundEvent, Message
from tests import factories
from tests.channels.helpers import contact_replies

pytestmark = pytest.mark.django_db

CHANNELS = ["email", "instagram", "messenger", "whatsapp", "telegram", "x"]


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_reply_on_each_channel_stops_the_contacts_sequence(client, channel):
    sender = factories.sender(f"Acme {channel}", channel=channel)
    contact = factories.contact(1, channels=(channel,))
    campaign = factories.campaign(senders=[sender], steps=((channel, 0), (channel, 3600)))
    enrollment = Enrollment.objects.create(
        campaign=campaign, contact=contact, sender=sender, state="waiting", current_step=2
    )

    reply = contact_replies(client, contact, sender, "Sounds good, call me on Tuesday")

    assert (reply.channel, reply.body) == (channel, "Sounds good, call me on Tuesday")
    assert reply.conversation.identity.contact == contact
    enrollment.refresh_from_db()
    assert enrollment.state == "replied"
    assert InboundEvent.objects.get().raw  # stored as the platform posted it


def test_an_out_of_office_mail_does_not_stop_the_sequence(client):
    sender = factories.sender("Anna")
    contact = factories.contact(1)
    campaign = factories.campaign(senders=[sender], steps=(("email", 0), ("email", 3600)))
    enrollment = Enrollment.objects.create(
        campaign=campaign, contact=contact, sender=sender, state="waiting", current_step=2
    )
    contact_replies(
        client, contact, sender, "I am out of the office until Monday.", auto_reply=True
    )
    enrollment.refresh_from_db()
    assert enrollment.state == "waiting"
    assert Message.objects.get(direction="in").events.get().detail == "auto_reply"


def test_a_whatsapp_reply_from_an_imported_number_stops_that_contacts_sequence(client):
    """Imported with a phone number and never heard from: WhatsApp names them by it."""
    sender = factories.sender("Acme WA", channel="whatsapp")
    contact = factories.contact(1, channels=())
    contact.identities.create(channel="whatsapp", value="+4917612345678")
    campaign = factories.campaign(senders=[sender], steps=(("whatsapp", 0), ("whatsapp", 3600)))
    enrollment = Enrollment.objects.create(
        campaign=campaign, contact=contact, sender=sender, state="waiting", current_step=2
    )
    reply = contact_replies(client, contact, sender, "Ja, gerne")
    assert reply.conversation.identity.contact == contact
    enrollment.refresh_from_db()
    assert enrollment.state == "replied"
