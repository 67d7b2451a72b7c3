"""A channel the product has never heard of, added as docs/channels.md#adding-a-channel
says: its package (tests/channels/echo/) and one entry in settings.CHANNELS. A campaign goes
out through it from a real Celery worker, and the contact's reply, posted signed to its
webhook, stops the follow-up."""

import pytest

from campaigns.dispatch import dispatch_tick
from campaigns.models import Enrollment
from campaigns.services import campaign_launch, enrollments_create
from outreach.models import Message
from tests import factories
from tests.channels.echo.platform import TOKEN, EchoPlatform
from tests.channels.helpers import platform_sender
from tests.processes import wait_for

pytestmark = [pytest.mark.live_worker]


def test_a_channel_added_by_one_package_and_one_setting_sends_and_hears_replies(
    settings, live_server, worker_factory
):
    channels = [*settings.CHANNELS, "tests.channels.echo.CHANNEL"]
    settings.CHANNELS = channels  # the one setting
    with EchoPlatform() as echo:
        # Real backends, pointed at the Echo platform (as `make run` points them at the fake).
        settings.PLATFORM_BACKENDS, settings.PLATFORM_BASE_URL = True, echo.url
        bot = platform_sender("echo", "echo_bot", TOKEN)
        camp = factories.campaign(
            senders=[bot], steps=(("echo", 0), ("echo", 3600)), body="Hello {{ first_name }}"
        )
        contact = factories.contact(1, channels=("echo",))
        enrollments_create(campaign=camp, contacts=[contact])
        campaign_launch(campaign=camp)
        worker_factory(
            concurrency=1,
            CHANNELS=",".join(channels),
            PLATFORM_BACKENDS="true",
            PLATFORM_BASE_URL=echo.url,
            DATABASE_CONN_MAX_AGE="0",
        )

        def sent() -> bool:
            dispatch_tick()  # the beat's tick, run here; the worker sends what it offers
            return Message.objects.filter(channel="echo", status="sent").exists()

        wait_for(sent, 30, interval=0.3, message="the first step to go out on Echo")
        assert [(s["to"], s["text"]) for s in echo.sent] == [("lead1_echo", "Hello Lead1 (step 1)")]
        enrollment = Enrollment.objects.get()
        assert enrollment.state == "active"  # the follow-up is scheduled, an hour away
        assert enrollment.next_action_at is not None

        status = echo.user_answers(
            f"{live_server.url}/webhooks/echo/", user="lead1_echo", bot="echo_bot", text="Yes!"
        )
        assert status == 200
        wait_for(
            lambda: Enrollment.objects.get().state == "replied",
            30,
            message="the reply to stop the sequence",
        )
        reply = Message.objects.get(direction="in")
        assert (reply.channel, reply.body) == ("echo", "Yes!")
        assert Enrollment.objects.get().next_action_at is None
        dispatch_tick()
        assert Message.objects.filter(direction="out").count() == 1
        assert len(echo.sent) == 1
