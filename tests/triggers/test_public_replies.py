"""Public comment replies: a trigger answers a matching comment publicly under it with one of
its variants, once per comment, through the same limiter and claim as every send. Our own
reply comes back from Meta as a comment webhook and is never answered."""

import copy
import time

import pytest
from django.db import IntegrityError

from campaigns.dispatch import dispatch_tick
from campaigns.rendering import stable_choice
from campaigns.triggers.models import TriggerFire
from contacts.models import Identity
from outreach.models import InboundEvent, Message
from outreach.sending.deliver import message_send
from tests.channels.conftest import fixture_json
from tests.channels.helpers import deliver, platform_sender, process_all
from tests.processes import wait_for
from tests.triggers import helpers

VARIANTS = [
    "Thanks {{ first_name }}! Check your DMs 📩",
    "Sent you the details, {{ first_name }}!",
    "Just messaged you, {{ first_name }} 🙌",
]


def comment(comment_id: str, text: str, *, user: str = "777", account: str = "IG1") -> dict:
    body = copy.deepcopy(fixture_json("instagram", "comment"))
    entry = body["entry"][0]
    entry["id"], entry["time"] = account, int(time.time())
    value = entry["changes"][0]["value"]
    value.update({"id": comment_id, "text": text})
    value["from"] = {"id": user, "username": f"user{user}"}
    value["media"]["id"] = "POST1"
    return body


@pytest.mark.live_worker
def test_comment_with_keyword_gets_one_public_reply_from_the_variants(
    live_server, platform_channels, control, fake, worker_factory
):
    ig = platform_sender("instagram", "IG1")
    control.post("accounts", id="IG1")
    helpers.hook(control, live_server, "instagram")
    trigger = helpers.trigger(
        channel="instagram",
        sender=ig,
        event_type="comment",
        post_id="POST1",
        keywords="price",
        reply_body="Hi {{ first_name }}, here is our price list: https://example.com/p",
        public_replies="\n".join(VARIANTS),
    )
    worker_factory(**helpers.worker_env(fake))

    def sent(n: int) -> bool:
        dispatch_tick()  # the beat's tick, run here; the worker sends what it offers
        return len(control.outbox("instagram")) >= n

    said = control.post(
        "comment", platform="instagram", user="9001", account="IG1", text="Price?", media="POST1"
    )
    assert said["statuses"] == [200]
    wait_for(lambda: sent(2), 40, interval=0.3, message="the private and the public reply")
    # Meta announces our own reply as a new comment under the post: it must be ignored.
    wait_for(
        lambda: InboundEvent.objects.filter(processed_at__isnull=False).count() == 2,
        20,
        message="our own reply's comment webhook to be processed",
    )
    for _ in range(5):  # a few more ticks: nothing else may go out
        sent(3)
        time.sleep(0.3)

    outbox = control.outbox("instagram")
    [public] = [r for r in outbox if r.get("reply_to")]
    [private] = [r for r in outbox if not r.get("reply_to")]
    assert public["reply_to"] == said["comment_id"]
    assert public["path"].startswith(f"/v25.0/{said['comment_id']}/replies?message=")
    contact = Identity.objects.get(channel="instagram", platform_user_id="9001").contact
    chosen = stable_choice(VARIANTS, f"public:{trigger.id}:{contact.id}")
    assert public["text"] == chosen.replace("{{ first_name }}", contact.first_name)
    assert private["body"]["recipient"] == {"comment_id": said["comment_id"]}

    fire = TriggerFire.objects.get()
    assert fire.public_reply.status == "sent"
    assert fire.public_reply.provider_message_id == public["id"]
    assert fire.public_reply.public_reply_to == said["comment_id"]
    # Our own comment made no contact and fired nothing.
    assert list(InboundEvent.objects.order_by("id").values_list("error", flat=True)) == ["", ""]
    assert Identity.objects.filter(channel="instagram").count() == 1
    assert not Identity.objects.filter(platform_user_id="IG1").exists()


@pytest.mark.django_db
def test_public_reply_not_sent_twice_for_same_comment(client, platform_channels, control):
    ig = platform_sender("instagram", "IG1")
    control.post("accounts", id="IG1")
    said = control.post("comment", platform="instagram", user="777", account="IG1", text="x")
    cid = said["comment_id"]
    # Two triggers match the same comment; both would answer it publicly.
    for name in ("Price", "Price (German)"):
        helpers.trigger(
            name=name,
            channel="instagram",
            event_type="comment",
            keywords="price, preis",
            public_replies="\n".join(VARIANTS),
        )
    body = comment(cid, "price? preis?")
    assert [deliver(client, "instagram", body) for _ in range(3)] == [200, 200, 200]
    process_all()
    # The sweeper re-processing the stored event after a crash changes nothing either.
    from outreach.inbound.process import inbound_event_process

    InboundEvent.objects.update(processed_at=None)
    inbound_event_process(event_id=InboundEvent.objects.get().id)

    [reply] = Message.objects.filter(direction="out")
    assert reply.public_reply_to == cid
    assert TriggerFire.objects.filter(public_reply__isnull=False).count() == 1
    # Celery delivers the send task twice: the claim lets one through.
    assert message_send(message_id=reply.id) == "sent", reply.hold_reason
    assert message_send(message_id=reply.id) == "skipped"
    assert [r["reply_to"] for r in control.outbox("instagram")] == [cid]
    # And the database itself refuses a second public reply to the comment.
    with pytest.raises(IntegrityError):
        Message.objects.create(
            conversation=reply.conversation,
            sender=ig,
            channel="instagram",
            direction="out",
            status="queued",
            body="again",
            public_reply_to=cid,
        )


@pytest.mark.django_db
def test_round_robin_public_replies_take_turns(client, platform_channels):
    platform_sender("instagram", "IG1")
    helpers.trigger(
        channel="instagram",
        event_type="comment",
        match="any",
        public_replies="One\nTwo\nThree",
        public_reply_order="rotate",
    )
    for n in range(4):
        deliver(client, "instagram", comment(f"1786579934800{n}", "nice!", user=f"70{n}"))
    process_all()
    bodies = Message.objects.filter(direction="out").order_by("id").values_list("body", flat=True)
    assert list(bodies) == ["One", "Two", "Three", "One"]


@pytest.mark.django_db
def test_our_own_comment_is_an_echo_and_fires_nothing(client, platform_channels):
    platform_sender("instagram", "IG1")
    helpers.trigger(channel="instagram", event_type="comment", match="any", public_replies="Hi")
    deliver(client, "instagram", comment("17865799348000099", "Thanks!", user="IG1"))
    process_all()
    assert InboundEvent.objects.get().payload["kind"] == "echo"
    assert not TriggerFire.objects.exists()
    assert not Identity.objects.exists()


@pytest.mark.django_db
def test_the_dashboard_form_takes_public_reply_variants_and_a_leads_address(admin_client):
    from campaigns.triggers.models import Trigger
    from core.teams import Team

    team = Team.objects.create(name="North")
    base = {"channel": "instagram", "event_type": "comment", "match": "any", "start_step": 1}
    base |= {"public_reply_order": "commenter", "record_consent": "on", "team": team.pk}
    page = admin_client.get("/triggers/").content.decode()
    assert 'name="public_replies"' in page and 'name="address"' in page
    admin_client.post(
        "/triggers/",
        base | {"name": "Launch post", "public_replies": "Thanks!\nCheck your DMs"},
    )
    admin_client.post(
        "/triggers/",
        base
        | {"name": "Leads", "channel": "email", "event_type": "email", "address": "Leads@Acme.com"},
    )
    refused = admin_client.post(
        "/triggers/", base | {"name": "Bad", "event_type": "dm", "public_replies": "Hi"}
    )
    assert "Only for comments on Instagram or Facebook" in refused.content.decode()
    saved = dict(Trigger.objects.values_list("name", "public_replies"))
    assert saved == {"Launch post": "Thanks!\nCheck your DMs", "Leads": ""}
    assert Trigger.objects.get(name="Leads").address == "leads@acme.com"
