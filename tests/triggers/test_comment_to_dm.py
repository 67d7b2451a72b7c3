"""Comment-to-DM end to end: the fake platform posts signed comment webhooks to the live
server, a real Celery worker processes them, a dispatcher paces the private reply out."""

import time

import pytest

from campaigns.dispatch import dispatch_tick
from campaigns.models import Enrollment
from campaigns.triggers.models import TriggerFire
from contacts.models import ConsentRecord, Identity, Tag
from outreach.models import InboundEvent
from pipelines.models import Deal
from tests.channels.helpers import platform_sender
from tests.processes import wait_for
from tests.triggers import helpers

pytestmark = [pytest.mark.live_worker]


def test_a_keyword_comment_under_the_post_gets_one_private_reply_and_becomes_an_enrolled_lead(
    live_server, platform_channels, control, fake, worker_factory
):
    ig = platform_sender("instagram", "IG1")
    control.post("accounts", id="IG1")
    helpers.hook(control, live_server, "instagram")
    magnet = Tag.objects.create(name="price-list")
    camp = helpers.campaign([ig], (("instagram", 86400),))
    new_lead = helpers.stage("New lead")
    helpers.trigger(
        channel="instagram",
        sender=ig,
        event_type="comment",
        post_id="POST1",
        keywords="price, preis",
        reply_body="Hi {{ first_name }}, here is our price list: https://example.com/p",
        tags=[magnet],
        campaign=camp,
        deal_stage=new_lead,
    )
    env = helpers.worker_env(fake)
    worker_factory(**env)

    def replies_sent(n: int) -> bool:
        dispatch_tick()  # the beat's tick, run here; the worker sends what it offers
        return len(control.outbox("instagram")) == n

    first = control.post(
        "comment",
        platform="instagram",
        user="9001",
        account="IG1",
        text="PRICE?",
        media="POST1",
        handle="ana",
    )
    assert first["statuses"] == [200]
    wait_for(lambda: replies_sent(1), 40, interval=0.3, message="the private reply")
    [sent] = control.outbox("instagram")
    assert sent["body"]["recipient"] == {"comment_id": first["comment_id"]}
    assert "price list" in sent["body"]["message"]["text"]

    identity = Identity.objects.get(channel="instagram", platform_user_id="9001")
    contact = identity.contact
    assert identity.value == "ana"
    assert list(contact.tags.values_list("name", flat=True)) == ["price-list"]
    assert Enrollment.objects.filter(campaign=camp, contact=contact).exists()
    assert Deal.objects.get(contact=contact).stage == new_lead
    assert ConsentRecord.objects.filter(identity=identity, kind="granted").exists()

    # The same person comments again under the same post: no second reply or enrolment.
    control.post(
        "comment",
        platform="instagram",
        user="9001",
        account="IG1",
        text="price please",
        media="POST1",
        handle="ana",
    )
    # Meta redelivers the first webhook: stored once, nothing fires again.
    first_body = control.client.get(f"{fake.url}/_fake/webhook_log").json()[0]["body"]
    url = f"{live_server.url}/webhooks/instagram/"
    assert helpers.redeliver_meta(url, first_body) == 200
    wait_for(
        lambda: InboundEvent.objects.filter(processed_at__isnull=False).count() == 2,
        20,
        message="the second comment to be processed",
    )
    for _ in range(5):  # a few dispatcher ticks
        replies_sent(1)
        time.sleep(0.3)
    assert len(control.outbox("instagram")) == 1
    assert Enrollment.objects.filter(contact=contact).count() == 1
    outcomes = TriggerFire.objects.order_by("id").values_list("outcome", flat=True)
    assert list(outcomes) == ["fired", "repeat"]
