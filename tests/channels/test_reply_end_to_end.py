"""End to end with real Celery workers: the fake platform posts signed replies to the live
web server, the raw events are stored, a worker processes them, and each contact's email
follow-up is stopped."""

import pytest

from campaigns.models import Enrollment
from contacts.models import Identity
from outreach.models import InboundEvent
from tests import factories
from tests.channels.conftest import SECRETS
from tests.channels.helpers import platform_sender
from tests.processes import wait_for

pytestmark = [pytest.mark.live_worker]
ACCOUNTS = {"telegram": "acme_bot", "whatsapp": "1234567890", "instagram": "IG1", "x": "42"}


def test_a_reply_on_any_channel_stops_the_contacts_email_follow_up(
    live_server, live_worker, platform_channels, control
):
    email_sender = factories.sender("Anna", channel="email")
    camp = factories.campaign(senders=[email_sender], steps=(("email", 0), ("email", 3600)))
    enrollments = {}
    for n, (channel, account) in enumerate(ACCOUNTS.items(), start=1):
        platform_sender(channel, account)
        contact = factories.contact(n, channels=("email", channel))
        Identity.objects.filter(contact=contact, channel=channel).update(
            platform_user_id=f"{4240 + n}"
        )
        enrollments[channel] = Enrollment.objects.create(
            campaign=camp, contact=contact, state="waiting", current_step=2
        )
        secret = {"telegram": SECRETS["telegram"], "x": SECRETS["x"]}.get(channel, SECRETS["meta"])
        control.post(
            "webhooks",
            platform=channel,
            url=f"{live_server.url}/webhooks/{channel}/",
            secret=secret,
        )
        said = control.post(
            "say", platform=channel, user=f"{4240 + n}", account=account, text="Sounds good"
        )
        assert said["statuses"] == [200]

    def all_stopped() -> bool:
        states = Enrollment.objects.filter(id__in=[e.id for e in enrollments.values()])
        return set(states.values_list("state", flat=True)) == {"replied"}

    wait_for(all_stopped, 30, message="every reply to stop its contact's email sequence")
    assert InboundEvent.objects.filter(processed_at__isnull=False).count() == len(ACCOUNTS)
