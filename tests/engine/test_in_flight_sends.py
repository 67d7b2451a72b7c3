"""A message already claimed for sending is on its way: a reply, a pause or an unenrolment
that lands at that moment stops what comes after it, never the send itself. Before, such a
change could overwrite the claimed message's status under its worker, which then skipped it
and left its sender's in-flight slot taken for good: every later message of that sender
waited "for a free sender slot" (docs/reliability.md, "Conditional updates"). And a pause
that lands while the dispatcher makes a batch of the campaign's messages holds all of them.

Real PostgreSQL connections in threads: the claim's transaction is held open while the other
change waits for its row lock, then committed, so the race is the same on every run. The reply
arrives as signed webhook bytes; the send goes to the fake platform over HTTP.
"""

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from campaigns.dispatch import dispatch_tick, enrollments_materialize
from campaigns.enrol import enrollment_unenrol
from campaigns.models import Campaign, Enrollment
from campaigns.services import (
    campaign_launch,
    campaign_pause,
    campaign_resume,
    enrollments_create,
)
from fakeplatform.server import Fault
from outreach.inbound.process import inbound_event_process
from outreach.models import InboundEvent, Message, SenderAccount
from outreach.sending.claim import Claim, claim_batch
from outreach.sending.deliver import claims_send
from tests import factories
from tests.channels.helpers import deliver, email_reply, receiving
from tests.engine.test_sending_rules import one_contact_campaign, run_once
from tests.locks import Holder, in_thread, wait_until, waiting_on_a_lock

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks: PostgreSQL"),
]


def queued_message() -> Message:
    enrollments_materialize(now=timezone.now())  # the due step's message, not yet offered
    return Message.objects.get(direction="out", status="queued")


def while_claimed(message: Message, change) -> list[Claim]:
    """Claim the message in a transaction held open, run `change` in another thread until it
    waits for the claim's row locks, then commit the claim and let `change` finish."""
    claims: list[Claim] = []
    holder = Holder([lambda: claims.extend(claim_batch([message.id]))])
    holder.start()
    holder.proceed[0].set()
    wait_until(lambda: holder.done_steps == 1 or holder.error, 10, "the claim")
    assert holder.error is None, holder.error
    assert [c.message.id for c in claims] == [message.id]
    changing, out = in_thread(change)
    try:
        wait_until(lambda: out.get("pid") and waiting_on_a_lock(out["pid"]), 10, "the change")
    finally:
        holder.release.set()
        holder.join(10)
        changing.join(10)
    assert "error" not in out, out.get("error")
    return claims


def sent_bodies(platform) -> list[str]:
    return [d.body for d in platform.state.deliveries]


def test_a_follow_up_already_on_its_way_when_the_contact_replies_is_sent_once_and_frees_its_sender(
    fake_email_platform,
):
    campaign, sender, contact = one_contact_campaign(steps=(("email", 0), ("email", 0)))
    assert run_once() == ["sent"]
    follow_up = queued_message()
    first = Message.objects.get(status="sent")
    with receiving("email"):
        mail = email_reply(
            frm="lead1@example.com",
            to=sender.handle,
            text="Thanks, call me",
            in_reply_to=first.provider_message_id,
        )
        assert deliver(Client(), "email", mail) == 200
    event = InboundEvent.objects.get()

    claims = while_claimed(follow_up, lambda: inbound_event_process(event_id=event.id))

    assert Enrollment.objects.get().state == "replied"
    # Claimed before the reply was applied, the follow-up goes out; nothing after it does.
    assert claims_send(claims) == {follow_up.id: "sent"}
    assert sent_bodies(fake_email_platform) == ["Hi Lead1 (step 1)", "Hi Lead1 (step 2)"]
    assert Message.objects.get(id=follow_up.id).status == "sent"
    assert SenderAccount.objects.get().inflight_message_id is None


def test_a_message_already_on_its_way_when_the_campaign_is_paused_is_sent_and_the_sender_moves_on(
    fake_email_platform,
):
    campaign, sender, _ = one_contact_campaign()
    # Another campaign on the same sender keeps running after the pause.
    other = factories.campaign(senders=[sender], name="Other campaign")
    enrollments_create(campaign=other, contacts=[factories.contact(2)])
    campaign_launch(campaign=other)
    enrollments_materialize(now=timezone.now())
    ours = Message.objects.get(campaign_id=campaign.id)
    theirs = Message.objects.get(campaign_id=other.id)

    claims = while_claimed(
        ours, lambda: campaign_pause(campaign=Campaign.objects.get(id=campaign.id))
    )

    assert Campaign.objects.get(id=campaign.id).status == "paused"
    assert claims_send(claims) == {ours.id: "sent"}
    assert SenderAccount.objects.get().inflight_message_id is None
    # The sender is free for the campaign still running.
    assert run_once() == ["sent"]
    assert Message.objects.get(id=theirs.id).status == "sent"
    assert sent_bodies(fake_email_platform) == ["Hi Lead1 (step 1)", "Hi Lead2 (step 1)"]


def test_a_message_already_on_its_way_when_its_contact_is_unenrolled_is_sent_once(
    fake_email_platform,
):
    one_contact_campaign()
    message = queued_message()

    claims = while_claimed(message, lambda: enrollment_unenrol(enrollment=Enrollment.objects.get()))

    assert Enrollment.objects.get().state == "stopped"
    assert claims_send(claims) == {message.id: "sent"}
    assert SenderAccount.objects.get().inflight_message_id is None


def test_a_sender_left_holding_a_cancelled_message_is_freed_by_the_next_dispatcher_tick(
    fake_email_platform,
):
    """Installs that met the old race have senders whose slot names a cancelled message;
    the first tick after the upgrade gives the slot back and the sender's queue moves."""
    _, sender, _ = one_contact_campaign()
    waiting = queued_message()
    stopped = factories.campaign(senders=[sender], name="Stopped campaign")
    gone = Message.objects.create(
        conversation=waiting.conversation,
        sender=sender,
        channel="email",
        direction="out",
        status="cancelled",
        hold_reason="replied on Email",
        campaign_id=stopped.id,
    )
    SenderAccount.objects.filter(id=sender.id).update(inflight_message_id=gone.id)
    assert run_once() == []  # the offer skips a sender with a send in flight

    dispatch_tick(now=timezone.now() + timedelta(seconds=1))

    assert SenderAccount.objects.get().inflight_message_id is None
    assert run_once() == ["sent"]
    assert Message.objects.get(id=waiting.id).status == "sent"
    assert sent_bodies(fake_email_platform) == ["Hi Lead1 (step 1)"]


def test_a_campaign_paused_while_the_dispatcher_makes_its_messages_sends_none_of_them(
    fake_email_platform,
):
    campaign, _, _ = one_contact_campaign()
    pausing = Holder([lambda: campaign_pause(campaign=Campaign.objects.get(id=campaign.id))])
    pausing.start()
    pausing.proceed[0].set()
    wait_until(lambda: pausing.done_steps == 1 or pausing.error, 10, "the pause")
    assert pausing.error is None, pausing.error
    # The batch read the campaign as running (the pause has not committed yet).
    making, out = in_thread(lambda: enrollments_materialize(now=timezone.now()))
    try:
        wait_until(
            lambda: "at" in out or (out.get("pid") and waiting_on_a_lock(out["pid"])),
            10,
            "the batch to finish or wait for the pause",
        )
    finally:
        pausing.release.set()
        pausing.join(10)
        making.join(10)
    assert "error" not in out, out.get("error")

    assert Campaign.objects.get(id=campaign.id).status == "paused"
    assert run_once() == []
    assert sent_bodies(fake_email_platform) == []
    campaign_resume(campaign=Campaign.objects.get(id=campaign.id))
    assert run_once() == ["sent"]
    assert sent_bodies(fake_email_platform) == ["Hi Lead1 (step 1)"]


def put_back_while(platform, claims: list[Claim], change) -> None:
    """`change` made in a transaction held open; meanwhile the platform turns the claimed
    send away ("slow down", with no wait asked: back in the queue, free to go at the next
    tick). Then the change commits and the send finishes."""
    changing = Holder([change])
    changing.start()
    changing.proceed[0].set()
    wait_until(lambda: changing.done_steps == 1 or changing.error, 10, "the change")
    assert changing.error is None, changing.error
    platform.state.faults.append(Fault(status=429, count=1, retry_after=0.0))
    sending, out = in_thread(lambda: claims_send(claims))
    try:
        wait_until(
            lambda: "at" in out or (out.get("pid") and waiting_on_a_lock(out["pid"])),
            10,
            "the send to finish or wait for the change",
        )
    finally:
        changing.release.set()
        changing.join(10)
        sending.join(10)
    assert changing.error is None, changing.error
    assert "error" not in out, out.get("error")
    assert out["result"] == {claims[0].message.id: "queued"}


def test_a_follow_up_put_back_while_the_contacts_reply_is_applied_never_goes_out(
    fake_email_platform,
):
    """The reply's transaction has cancelled the contact's queued messages (not the
    follow-up: it was on its way) and has not committed when the platform turns the
    follow-up away. Put back in the queue, it must learn of the reply and be cancelled, not
    wait there for the next tick to send it to a contact who replied."""
    _, sender, _ = one_contact_campaign(steps=(("email", 0), ("email", 0)))
    assert run_once() == ["sent"]
    follow_up = queued_message()
    first = Message.objects.get(status="sent")
    claims = claim_batch([follow_up.id])
    with receiving("email"):
        mail = email_reply(
            frm="lead1@example.com",
            to=sender.handle,
            text="Thanks, call me",
            in_reply_to=first.provider_message_id,
        )
        assert deliver(Client(), "email", mail) == 200
    event = InboundEvent.objects.get()

    put_back_while(fake_email_platform, claims, lambda: inbound_event_process(event_id=event.id))

    assert Enrollment.objects.get().state == "replied"
    follow_up.refresh_from_db()
    assert (follow_up.status, follow_up.hold_reason) == ("cancelled", "replied on Email")
    assert SenderAccount.objects.get().inflight_message_id is None
    # The next tick sends nothing: the contact got step 1 only.
    assert run_once() == []
    assert sent_bodies(fake_email_platform) == ["Hi Lead1 (step 1)"]


def test_a_message_put_back_while_its_campaign_is_paused_waits_for_the_resume(
    fake_email_platform,
):
    campaign, _, _ = one_contact_campaign()
    claims = claim_batch([queued_message().id])

    put_back_while(
        fake_email_platform,
        claims,
        lambda: campaign_pause(campaign=Campaign.objects.get(id=campaign.id)),
    )

    message = Message.objects.get(id=claims[0].message.id)
    assert (message.status, message.hold_reason) == ("paused", "campaign paused")
    assert run_once() == []
    assert sent_bodies(fake_email_platform) == []
    campaign_resume(campaign=Campaign.objects.get(id=campaign.id))
    assert run_once() == ["sent"]
    assert sent_bodies(fake_email_platform) == ["Hi Lead1 (step 1)"]
