"""A running campaign whose every contact has finished its sequence shows "Finished", through
the dispatcher's real ticks and the campaign dashboard."""

import re

import pytest
from django.utils import timezone

from campaigns.dispatch import dispatch_tick
from campaigns.models import Enrollment
from campaigns.services import campaign_launch, enrollments_create
from campaigns.triggers.models import Trigger
from outreach.models import Message
from outreach.sending.deliver import message_send
from tests import factories

pytestmark = pytest.mark.django_db


def _run_engine_once() -> None:
    """One dispatcher tick, then every queued message sent in this process."""
    dispatch_tick(now=timezone.now())
    queued = Message.objects.filter(status=Message.Status.QUEUED).order_by("id")
    for mid in queued.values_list("id", flat=True):
        message_send(message_id=mid)


def test_a_finished_campaign_shows_finished_and_runs_again_for_new_contacts(staff_client):
    campaign = factories.campaign(senders=[factories.sender()], steps=(("email", 0),))
    fed = factories.campaign(senders=[factories.sender("Fed")], name="Fed by DMs")
    for c in (campaign, fed):
        enrollments_create(campaign=c, contacts=[factories.contact(c.id)])
        campaign_launch(campaign=c, confirm_warnings=True)
    # A campaign an entry trigger still enrols into stays open for the next person.
    Trigger.objects.create(
        name="Price DMs", channel="instagram", event_type="dm", match="any", campaign=fed
    )

    _run_engine_once()  # the one step goes out: each enrollment completes
    assert set(Enrollment.objects.values_list("state", flat=True)) == {"completed"}
    _run_engine_once()

    page = staff_client.get(f"/campaigns/{campaign.pk}/").content.decode()
    assert re.search(r'id="campaign-status">\s*Finished\s*<', page)
    fed.refresh_from_db()
    assert fed.status == "running"

    # Enrolling more people reopens it: it runs again and reaches them.
    newcomer = factories.contact(999)
    assert enrollments_create(campaign=campaign, contacts=[newcomer]) == 1
    campaign.refresh_from_db()
    assert campaign.status == "running"
    _run_engine_once()
    assert Message.objects.filter(
        status=Message.Status.SENT, conversation__identity__contact=newcomer
    ).exists()
