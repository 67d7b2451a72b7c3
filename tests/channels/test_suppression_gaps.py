"""The gaps issue #17 left in opt-outs and bounces, each on the production path: a one-click
unsubscribe stops the contact's sequences at once; suppression entries keep no plaintext
address yet every check still finds them; a reported soft bounce is re-sent with backoff
until SOFT_BOUNCE_LIMIT makes it hard."""

import pytest
from django.utils import timezone

from campaigns.dispatch import enrollments_materialize
from campaigns.models import Enrollment
from campaigns.services import campaign_launch, enrollments_create
from contacts.models import Contact, Identity
from outreach.channels.email import unsubscribe_url
from outreach.models import Message
from outreach.services import message_send
from tests import factories
from tests.channels.helpers import platform_sender

pytestmark = pytest.mark.django_db

ADDRESS = "lead1@example.com"


def _campaign_for(address: str, steps=(("email", 0), ("email", 60))):
    """A launched campaign whose first message to ``address`` is queued; (enrollment, it)."""
    sender = platform_sender("email", "anna@acme.example")
    contact = Contact.objects.create(first_name="Lead")
    Identity.objects.create(contact=contact, channel="email", value=address)
    campaign = factories.campaign(senders=[sender], steps=steps)
    enrollments_create(campaign=campaign, contacts=[contact])
    campaign_launch(campaign=campaign, confirm_warnings=True)
    enrollments_materialize(now=timezone.now())
    enrollment = Enrollment.objects.get(contact=contact)
    return enrollment, Message.objects.get(direction="out", conversation__identity__contact=contact)


def _one_click(client, address: str) -> int:
    path = unsubscribe_url(address).split("://", 1)[1].split("/", 1)[1]
    response = client.post(
        f"/{path}",
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    return response.status_code


def test_a_one_click_unsubscribe_stops_the_running_sequence_at_once(client, platform_channels):
    enrollment, queued = _campaign_for(ADDRESS)
    assert queued.status == Message.Status.QUEUED

    assert _one_click(client, ADDRESS) == 200

    enrollment.refresh_from_db()
    queued.refresh_from_db()
    assert enrollment.state == Enrollment.State.STOPPED
    assert enrollment.hold_reason == "contact opted out of Email"
    assert queued.status == Message.Status.CANCELLED
    message_send(message_id=queued.id)  # the dispatcher's batch still holding its id
    queued.refresh_from_db()
    assert queued.status == Message.Status.CANCELLED and queued.sent_at is None
