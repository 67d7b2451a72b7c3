"""What a rep sees when platforms push back, limits bite, or somebody pauses things.

In-process: the send path runs in the test against the fake platform over real HTTP.
"""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from analytics.campaign import campaign_dashboard
from campaigns.dispatch import enrollments_materialize
from campaigns.models import Campaign, Enrollment
from campaigns.services import (
    campaign_launch,
    campaign_pause,
    campaign_resume,
    enrollment_pause,
    enrollment_resume,
    enrollments_create,
)
from campaigns.stats_models import CampaignStats
from contacts.services import contact_opt_out
from fakeplatform.server import FakePlatformServer
from outreach import limits
from outreach.channels import get_channel, locmem
from outreach.inbox.services import conversation_reply
from outreach.models import ManualTask, Message, SenderAccount
from outreach.sending.claim import claim_batch
from outreach.sending.control import sender_pause, sender_resume, sending_switch_set
from outreach.sending.deliver import _send_starting, message_send, messages_send, outgoing
from outreach.sending.offer import messages_offer
from outreach.sending.reconcile import messages_reconcile
from outreach.sending.record import manual_task_complete
from tests import factories
from tests.processes import free_port

pytestmark = pytest.mark.django_db
FAKE = "outreach.channels.fakeplatform.FakePlatformChannel"


@pytest.fixture
def platform(settings):
    server = FakePlatformServer().start()
    settings.OUTREACH_CHANNELS = {
        **settings.OUTREACH_CHANNELS,
        "email": {"BACKEND": FAKE, "OPTIONS": {"base_url": server.url}},
        "telegram": {"BACKEND": FAKE, "OPTIONS": {"base_url": server.url}},
        "linkedin": {"BACKEND": "outreach.channels.manual.backend.ManualChannel"},
    }
    settings.SEND_GRACE = 60
    yield server
    server.stop()


def fault(platform: FakePlatformServer, status: int, count: int = 1, **kw) -> None:
    from fakeplatform.server import Fault

    platform.state.faults.append(Fault(status=status, count=count, **kw))


def run_once() -> list[str]:
    """One dispatcher tick plus the send of everything it offered."""
    now = timezone.now()
    enrollments_materialize(now=now)
    return [message_send(message_id=mid) for mid in messages_offer(now=now)]


def one_contact_campaign(steps=(("email", 0),), **sender_fields):
    sender = factories.sender("Anna", **sender_fields)
    campaign = factories.campaign(senders=[sender], steps=steps)
    contact = factories.contact(1)
    enrollments_create(campaign=campaign, contacts=[contact])
    campaign_launch(campaign=campaign)
    return campaign, sender, contact


def test_one_send_task_sends_its_batch_once_and_holds_only_what_may_not_go(platform):
    anna, ben = factories.sender("Anna"), factories.sender("Ben")
    campaign = factories.campaign(senders=[anna, ben], steps=(("email", 0), ("email", 86400)))
    contacts = [factories.contact(n) for n in range(1, 6)]
    enrollments_create(campaign=campaign, contacts=contacts)
    # Each sender gets contacts of its own whatever ids this run hands out (the pool's
    # rotation hashes the contact id, and all five on one sender left one send, not two).
    Enrollment.objects.filter(contact__in=contacts[0::2]).update(sender=anna)
    Enrollment.objects.filter(contact__in=contacts[1::2]).update(sender=ben)
    campaign_launch(campaign=campaign)
    enrollments_materialize(now=timezone.now())
    queued = list(Message.objects.order_by("id"))
    opted_out = queued[-1].conversation.identity.contact
    contact_opt_out(contact=opted_out, source="test")
    ids = [m.id for m in queued]

    # One task with every queued message, though the dispatcher offers one per free sender:
    # each sender sends one, the rest wait for it, and the opted-out contact gets nothing.
    first = messages_send(message_ids=ids)
    assert list(first.values()).count("sent") == 2
    waiting_for_sender = Message.objects.filter(status="queued")
    assert {m.hold_reason for m in waiting_for_sender} == {"sender busy with another message"}
    # The broker delivers tasks twice and late: each message still goes out once.
    for _ in range(4):
        messages_send(message_ids=ids)
    assert len(platform.state.deliveries) == 4
    assert set(platform.state.posts_per_key.values()) == {1}
    messages = {m.id: m for m in Message.objects.all()}
    assert messages[queued[-1].id].status == "cancelled"  # opted out: never sent
    assert sum(m.status == "sent" for m in messages.values()) == 4
    # The dashboard's counters count each send once, batched or not.
    stats = CampaignStats.objects.get(campaign=campaign)
    assert (stats.enrolled, stats.contacted, stats.sent) == (5, 4, 4)
    waiting = Enrollment.objects.filter(state="active", current_step=2)
    assert waiting.count() == 4
    assert {e.hold_reason for e in waiting} == {"waiting 1 day after step 1"}
    assert sum(SenderAccount.objects.values_list("sent_today", flat=True)) == 4


def test_worker_killed_mid_batch_sends_its_untried_messages_again_without_a_review(settings):
    # Email over a backend that cannot look a message up, as SMTP cannot.
    settings.OUTREACH_CHANNELS = {
        **settings.OUTREACH_CHANNELS,
        "email": {"BACKEND": "outreach.channels.locmem.LocmemChannel", "OPTIONS": {}},
    }
    locmem.outbox.clear()
    for n in range(1, 4):
        sender = factories.sender(f"Rep{n}")
        campaign = factories.campaign(senders=[sender], name=f"Campaign {n}")
        enrollments_create(campaign=campaign, contacts=[factories.contact(n)])
        campaign_launch(campaign=campaign)
    enrollments_materialize(now=timezone.now())
    # The worker claims its batch of three, sends the first, and dies.
    claims = claim_batch(messages_offer(now=timezone.now()))
    assert len(claims) == 3
    first = claims[0].message
    assert _send_starting(first)
    get_channel("email").send(outgoing(first))

    later = timezone.now() + timedelta(seconds=settings.SEND_GRACE + 1)
    assert messages_reconcile(now=later) == {"sent": 0, "requeued": 2, "review": 1, "freed": 0}
    # The first may have arrived and nobody can tell: a rep decides. The other two never
    # left: they go again, with their senders' cap units given back.
    assert Message.objects.get(id=first.id).hold_reason.startswith("needs review")
    SenderAccount.objects.update(next_send_at=None)
    assert sorted(run_once()) == ["sent", "sent"]
    assert len(locmem.outbox) == 3
    assert len({m.message_id for m in locmem.outbox}) == 3
    assert sorted(SenderAccount.objects.values_list("sent_today", flat=True)) == [1, 1, 1]


def test_rate_limited_send_waits_for_retry_after_and_backs_the_sender_off(platform):
    _, sender, _ = one_contact_campaign()
    fault(platform, 429, retry_after=30)
    assert run_once() == ["queued"]
    message = Message.objects.get()
    sender.refresh_from_db()
    assert message.hold_reason.startswith("retrying after rate_limited")
    assert 25 < (message.not_before - timezone.now()).total_seconds() <= 30
    assert sender.backoff_until == message.not_before
    assert sender.sent_today == 0  # the platform refused it: the cap unit is given back
    assert platform.state.deliveries == []


def test_unreachable_platform_retries_with_growing_waits_then_fails(platform, settings):
    settings.OUTREACH_CHANNELS["email"]["OPTIONS"]["base_url"] = f"http://127.0.0.1:{free_port()}"
    _, _, _ = one_contact_campaign()
    waits = []
    for _ in range(5):
        Message.objects.update(not_before=None, enqueued_at=None)
        SenderAccount.objects.update(next_send_at=None)
        run_once()
        m = Message.objects.get()
        if m.status == "queued":
            waits.append(round((m.not_before - timezone.now()).total_seconds()))
    message = Message.objects.get()
    assert waits == sorted(waits) and len(set(waits)) == len(waits)
    assert (message.status, message.attempts, message.error_code) == ("failed", 5, "transient")
    assert Enrollment.objects.get().state == "failed"


def test_rejected_message_fails_with_the_platform_reason(platform):
    _, sender, _ = one_contact_campaign(steps=(("email", 0), ("email", 60)))
    fault(platform, 400)
    assert run_once() == ["failed"]
    message = Message.objects.get()
    enrollment = Enrollment.objects.get()
    assert message.error_reason.startswith("rejected: 400")
    assert enrollment.state == "failed"
    assert enrollment.hold_reason.startswith("step 1: rejected: 400")
    sender.refresh_from_db()
    assert sender.sent_today == 0


def test_expired_token_pauses_the_sender_and_flags_it(platform):
    _, sender, _ = one_contact_campaign(credentials="expired")
    assert run_once() == ["queued"]
    sender.refresh_from_db()
    assert sender.paused and sender.health == "auth_expired"
    assert "credentials expired" in sender.paused_reason
    assert Message.objects.get().status == "queued"
    sender_resume(sender=sender)
    SenderAccount.objects.filter(id=sender.id).update(credentials="fresh-token")
    assert run_once() == ["sent"]


def test_platform_error_after_accepting_is_resolved_by_lookup_without_a_second_send(platform):
    one_contact_campaign()
    fault(platform, 500)
    assert run_once() == ["unknown"]
    message = Message.objects.get()
    assert message.hold_reason == "outcome unknown: checking with the platform"
    counts = messages_reconcile(now=timezone.now() + timedelta(seconds=120))
    message.refresh_from_db()
    assert counts["sent"] == 1
    assert message.status == "sent"
    assert platform.state.posts_per_key == {str(message.idempotency_key): 1}
    assert Enrollment.objects.get().state == "completed"


def test_follow_up_waits_its_delay_and_says_so(platform):
    one_contact_campaign(steps=(("email", 0), ("email", 3 * 86400)))
    assert run_once() == ["sent"]
    enrollment = Enrollment.objects.get()
    sent_at = Message.objects.get().sent_at
    assert enrollment.hold_reason == "waiting 3 days after step 1"
    assert enrollment.next_action_at == sent_at + timedelta(days=3)
    assert run_once() == []


def test_kill_switch_holds_every_send_and_releasing_it_sends_each_once(platform):
    one_contact_campaign()
    sending_switch_set(paused=True, reason="incident")
    assert run_once() == []
    Message.objects.update(enqueued_at=None)
    assert message_send(message_id=Message.objects.get().id) == "skipped"
    assert Message.objects.get().hold_reason == "all sending paused (kill switch)"
    sending_switch_set(paused=False)
    assert run_once() == ["sent"]
    assert run_once() == []
    assert len(platform.state.deliveries) == 1


def test_pausing_and_resuming_a_campaign_twice_sends_each_step_once(platform):
    campaign, sender, _ = one_contact_campaign(steps=(("email", 0), ("email", 0)))
    enrollments_materialize(now=timezone.now())
    for _ in range(2):
        campaign_pause(campaign=campaign)
        assert Message.objects.get().hold_reason == "campaign paused"
        assert run_once() == []
        campaign_resume(campaign=campaign)
    for _ in range(4):
        SenderAccount.objects.update(next_send_at=None)
        run_once()
    assert [d.body for d in platform.state.deliveries] == ["Hi Lead1 (step 1)", "Hi Lead1 (step 2)"]
    assert Campaign.objects.get().status == "running"


def test_resuming_one_contact_of_a_paused_campaign_sends_nothing_until_the_campaign_resumes(
    platform,
):
    campaign, _, _ = one_contact_campaign()
    enrollments_materialize(now=timezone.now())
    campaign_pause(campaign=campaign)
    enrollment = Enrollment.objects.get()
    enrollment_pause(enrollment=enrollment)
    enrollment_resume(enrollment=enrollment)
    message = Message.objects.get()
    assert (message.status, message.hold_reason) == ("paused", "campaign paused")
    assert run_once() == []
    assert platform.state.deliveries == []
    campaign_resume(campaign=campaign)
    assert run_once() == ["sent"]
    assert [d.body for d in platform.state.deliveries] == ["Hi Lead1 (step 1)"]


def campaign_backlog(count: int, **sender_fields):
    sender = factories.sender("Anna", **sender_fields)
    campaign = factories.campaign(senders=[sender])
    contacts = [factories.contact(n) for n in range(1, count + 1)]
    enrollments_create(campaign=campaign, contacts=contacts)
    campaign_launch(campaign=campaign)
    enrollments_materialize(now=timezone.now())
    return sender


def test_inbox_reply_goes_out_before_the_campaign_backlog(platform):
    campaign_backlog(3)
    conversation = Message.objects.order_by("id").last().conversation
    reply = conversation_reply(conversation=conversation, author=None, body="Sure, 3 pm works")
    assert messages_offer() == [reply.id]
    assert message_send(message_id=reply.id) == "sent"
    assert [d.body for d in platform.state.deliveries] == ["Sure, 3 pm works"]


def test_inbox_reply_is_not_held_by_the_sending_window_but_campaign_messages_are(platform):
    today = timezone.now().astimezone(ZoneInfo("Europe/Berlin")).weekday()
    closed_today = "".join(d for d in "0123456" if d != str(today))
    campaign_backlog(1, window_days=closed_today, window_start=time(9), window_end=time(17))
    campaign_message = Message.objects.get()
    reply = conversation_reply(
        conversation=campaign_message.conversation, author=None, body="Here is the deck"
    )
    assert message_send(message_id=campaign_message.id) == "skipped"
    campaign_message.refresh_from_db()
    assert campaign_message.hold_reason.startswith("sending window opens")
    assert message_send(message_id=reply.id) == "sent"
    assert [d.body for d in platform.state.deliveries] == ["Here is the deck"]


def test_paused_sender_holds_its_messages_with_the_reason(platform):
    _, sender, _ = one_contact_campaign()
    enrollments_materialize(now=timezone.now())
    sender_pause(sender=sender, reason="warming up the new domain")
    assert message_send(message_id=Message.objects.get().id) == "skipped"
    assert Message.objects.get().hold_reason == "sender paused: warming up the new domain"
    sender_resume(sender=sender)
    assert run_once() == ["sent"]


def test_opted_out_contact_is_never_messaged(platform):
    _, _, contact = one_contact_campaign()
    contact_opt_out(contact=contact, source="phone call")
    run_once()
    message = Message.objects.get()
    assert (message.status, message.hold_reason) == (
        "cancelled",
        "contact opted out of all channels",
    )
    enrollment = Enrollment.objects.get()
    assert (enrollment.state, enrollment.hold_reason) == (
        "stopped",
        "step 1: contact opted out of all channels",
    )
    assert platform.state.deliveries == []


def test_contact_frequency_cap_holds_a_second_campaign_for_a_day(platform, settings):
    settings.CONTACT_DAILY_MESSAGE_CAP = 1
    _, sender, contact = one_contact_campaign()
    other = factories.campaign(senders=[sender], name="Second")
    enrollments_create(campaign=other, contacts=[contact])
    campaign_launch(campaign=other)
    results = run_once()
    SenderAccount.objects.update(next_send_at=None)
    results += run_once()
    assert results.count("sent") == 1
    held = Message.objects.get(status="queued")
    assert held.hold_reason == "contact already got 1 message(s) in 24 h"
    assert held.not_before > timezone.now() + timedelta(hours=23)


def test_contact_frequency_cap_holds_a_second_campaign_sent_in_the_same_batch(platform, settings):
    settings.CONTACT_DAILY_MESSAGE_CAP = 1
    _, _, contact = one_contact_campaign()
    other = factories.campaign(senders=[factories.sender("Ben")], name="Second")
    enrollments_create(campaign=other, contacts=[contact])
    campaign_launch(campaign=other)
    enrollments_materialize(now=timezone.now())
    offered = messages_offer(now=timezone.now())
    assert len(offered) == 2  # two senders, one message each: one send task's batch
    results = list(messages_send(message_ids=offered).values())
    results += run_once()
    assert results.count("sent") == 1
    held = Message.objects.get(status="queued")
    assert held.hold_reason == "contact already got 1 message(s) in 24 h"
    assert len(platform.state.deliveries) == 1


def test_daily_cap_resets_at_midnight_in_the_sender_time_zone():
    sender = factories.sender("Berlin", cap=2, time_zone="Europe/Berlin")
    late = datetime(2026, 3, 28, 22, 58, tzinfo=UTC)  # 23:58 in Berlin
    for i in (1, 2):
        assert limits.token_take(sender=sender, message_id=i, now=late)
        limits.token_release(sender=sender, message_id=i, space=False)
    assert not limits.token_take(sender=sender, message_id=3, now=late)
    sender.refresh_from_db()
    reason, until = limits.why_no_token(sender=sender, now=late)
    assert reason == "sender daily cap reached (2/2)"
    assert until == datetime(2026, 3, 28, 23, 0, tzinfo=UTC)  # Berlin midnight
    assert limits.token_take(sender=sender, message_id=3, now=late + timedelta(minutes=3))


def test_warm_up_cap_starts_low_and_grows_every_day():
    sender = factories.sender("New domain", cap=50, warmup_start_cap=5, warmup_daily_increase=10)
    sender.warmup_started_on = datetime(2026, 11, 1).date()
    caps = [limits.effective_cap(sender, datetime(2026, 11, d).date()) for d in (1, 2, 3, 5, 30)]
    assert caps == [5, 15, 25, 45, 50]


def test_linkedin_step_becomes_a_task_for_a_rep_and_the_sequence_moves_on_when_done(platform):
    sender = factories.sender("Anna LI", channel="linkedin")
    email = factories.sender("Anna", channel="email")
    campaign = factories.campaign(senders=[sender, email], steps=(("linkedin", 0), ("email", 0)))
    contact = factories.contact(1, channels=("linkedin", "email"))
    enrollments_create(campaign=campaign, contacts=[contact])
    campaign_launch(campaign=campaign)
    assert run_once() == []  # nothing is automated on LinkedIn
    task = ManualTask.objects.get()
    assert task.message.hold_reason == "waiting for a rep to send it by hand"
    manual_task_complete(task=task)
    assert Message.objects.get(channel="linkedin").status == "sent"
    assert run_once() == ["sent"]
    assert [d.body for d in platform.state.deliveries] == ["Hi Lead1 (step 2)"]


def test_contacts_are_enrolled_in_the_order_given_whatever_their_ids():
    """Enrollment ids decide who a capped sender reaches first. They follow the order the
    contacts were given in, not the iteration order of a set of their ids (which depends on
    the values of the ids), and a contact given twice is enrolled once."""
    people = [factories.contact(n) for n in range(10)]
    campaign = factories.campaign(senders=[factories.sender()])
    given = [*reversed(people[3:]), people[0], people[3], *people[1:3]]
    assert enrollments_create(campaign=campaign, contacts=given) == 10
    enrolled = Enrollment.objects.filter(campaign=campaign).order_by("id")
    assert list(enrolled.values_list("contact_id", flat=True)) == list(
        dict.fromkeys(c.id for c in given)
    )


def test_messages_behind_a_send_in_doubt_name_it_and_when_it_settles(platform):
    sender = factories.sender("Anna")
    campaign = factories.campaign(senders=[sender], steps=(("email", 0),))
    enrollments_create(campaign=campaign, contacts=[factories.contact(n) for n in (1, 2, 3)])
    campaign_launch(campaign=campaign)
    fault(platform, 500)
    assert run_once() == ["unknown"]  # the platform answered 500: did it take the message?
    doubt = Message.objects.get(status="unknown")
    at = timezone.localtime(doubt.claimed_at)
    until = at + timedelta(seconds=30)  # email's settle window (SEND_GRACE is 60 here)
    expected = f"waiting for message #{doubt.id} sent at {at:%H:%M} to settle (until {until:%H:%M})"

    held = [h for h in campaign_dashboard(campaign=campaign).held if h.id != doubt.id]
    assert [(h.reason, h.not_before) for h in held] == [
        (expected, doubt.claimed_at + timedelta(seconds=30))
    ] * 2
    # Settled (the lookup finds it sent): the slot is free, the reason goes with it.
    messages_reconcile(now=timezone.now() + timedelta(seconds=31))
    reasons = {h.reason for h in campaign_dashboard(campaign=campaign).held}
    assert reasons == {"waiting for a free sender slot"}
