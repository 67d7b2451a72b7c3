"""From a reply to a deal, with real processes: a dispatcher and a Celery worker send an
email + Instagram sequence through the fake platform, the contact answers on Instagram (a
signed webhook the fake platform posts to the live server), and what reps see follows."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.models import Enrollment
from contacts.models import Identity
from outreach.models import Conversation, InboundEvent, Message
from pipelines.models import Deal
from tests import factories
from tests.channels.conftest import SECRETS
from tests.channels.helpers import platform_sender
from tests.inbox.helpers import default_pipelines, rep
from tests.processes import child_env, dispatcher, wait_for

pytestmark = [pytest.mark.live_worker]
FOLLOW_UP = 15  # seconds: long enough for the reply to land first on a loaded machine


def platform_env(fake) -> dict[str, str]:
    """Worker and dispatcher on the real platform backends, pointed at the fake platform."""
    return {
        "PLATFORM_BACKENDS": "true",
        "PLATFORM_BASE_URL": fake.url,
        "META_APP_SECRET": SECRETS["meta"],
        "META_VERIFY_TOKEN": "verify-me",
        "DATABASE_CONN_MAX_AGE": "0",
    }


def test_an_instagram_reply_stops_both_channels_and_moves_the_deal_to_interested(
    live_server, platform_channels, control, fake, worker_factory, log_dir, client
):
    default_pipelines()
    owner = rep("olga")
    instagram = platform_sender("instagram", "IG1")
    email = factories.sender("Anna", channel="email")
    camp = factories.campaign(
        senders=[instagram, email],
        steps=(("instagram", 0), ("email", FOLLOW_UP), ("instagram", FOLLOW_UP)),
    )
    camp.owner, camp.status = owner, "running"
    camp.save(update_fields=["owner", "status"])
    contact = factories.contact(1, channels=("email", "instagram"))
    Identity.objects.filter(contact=contact, channel="instagram").update(platform_user_id="4241")
    # The lead wrote to our Instagram account an hour ago (Meta's 24 h window is open), both on
    # the platform and in our records, before being enrolled.
    control.post("accounts", id="IG1")
    control.post("users", platform="instagram", id="4241", last_inbound=time.time() - 3600)
    control.post(
        "webhooks",
        platform="instagram",
        url=f"{live_server.url}/webhooks/instagram/",
        secret=SECRETS["meta"],
    )
    Conversation.objects.create(
        identity=Identity.objects.get(contact=contact, channel="instagram"),
        sender=instagram,
        last_inbound_at=timezone.now() - timedelta(hours=1),
    )
    enrollment = Enrollment.objects.create(
        campaign=camp, contact=contact, next_action_at=timezone.now()
    )

    env = platform_env(fake)
    worker_factory(**env)
    disp = dispatcher("dispatcher", child_env(**env), log_dir, interval=0.3)
    try:
        wait_for(
            lambda: Message.objects.filter(direction="out", status="sent").count() == 1,
            40,
            message="the first Instagram step to go out",
        )
        assert [m["platform"] for m in control.outbox()] == ["instagram"]

        said = control.post(
            "say",
            platform="instagram",
            user="4241",
            account="IG1",
            text="Sounds good, can we book a call on Thursday?",
        )
        assert said["statuses"] == [200]  # signature checked by the live server
        wait_for(
            lambda: Deal.objects.filter(contact=contact, stage__name="Interested").exists(),
            30,
            message="the deal to reach Interested",
        )
        # Past the moment both follow-ups were due: neither channel sent anything more.
        sent_at = Message.objects.get(direction="out", status="sent").sent_at
        wait_for(
            lambda: timezone.now() > sent_at + timedelta(seconds=FOLLOW_UP + 2),
            2 * FOLLOW_UP,
        )
    finally:
        disp.stop()

    enrollment.refresh_from_db()
    assert enrollment.state == "replied"
    assert "replied on Instagram" in enrollment.hold_reason
    outbound = Message.objects.filter(direction="out")
    assert list(outbound.values_list("channel", "status")) == [("instagram", "sent")]
    assert [m["platform"] for m in control.outbox()] == ["instagram"]
    assert InboundEvent.objects.filter(processed_at__isnull=False).count() == 1

    deal = Deal.objects.get(contact=contact)
    stages = list(deal.history.order_by("at", "id").values_list("to_stage__name", flat=True))
    assert stages[-2:] == ["Replied", "Interested"]
    assert deal.stage.name == "Interested" and deal.owner == owner

    reply = Message.objects.get(direction="in")
    assert reply.channel == "instagram" and reply.intent.label == "interested"
    client.force_login(owner)
    page = client.get("/inbox/?mine=on").content.decode()
    row = page[page.index(f'data-conversation="{reply.conversation_id}"') :]
    row = row[: row.index("</tr>")]
    assert "unread" in row and "olga" in row and "interested" in row
