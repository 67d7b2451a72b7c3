"""Replies never wait: a reply arriving while a send on the same sender is being recorded is
applied at once, and a reply that loses a deadlock is retried at once, not a minute later by
the sweeper. Real PostgreSQL connections in threads; the reply through signed webhook bytes
and the worker's processing (inbound_event_process)."""

import logging
import time

import pytest
from django.db import connection

from campaigns.models import Enrollment
from outreach.inbound.process import inbound_event_process
from outreach.models import Conversation, InboundEvent, Message
from outreach.sending.create import conversations_for, messages_create
from outreach.sending.record import messages_record_sent
from tests import factories
from tests.channels.helpers import deliver, reply_by_references
from tests.channels.test_imap import lead as lead  # noqa: F401  (the fixture, reused)
from tests.locks import Holder, in_thread, wait_until, waiting_on_a_lock

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks: PostgreSQL"),
]


def stored_reply(client, ours: Message) -> int:
    assert deliver(client, "email", reply_by_references(ours.provider_message_id)) == 200
    return InboundEvent.objects.get().id


def test_a_reply_is_applied_at_once_while_a_send_on_its_sender_is_being_recorded(
    client,
    lead,  # noqa: F811
):
    sender, enrollment, ours = lead
    # Another contact's message on the same sender is out; its send is being recorded (T2),
    # and that transaction is held up (here: its conversation row is busy) while it holds
    # the sender's row.
    other = factories.contact(2, channels=("email",)).identities.get()
    conv = conversations_for({(other.id, sender.id)})[(other.id, sender.id)]
    [m2] = messages_create(
        [Message(conversation=conv, sender=sender, channel="email", direction="out", body="Hi")]
    )
    Message.objects.filter(id=m2.id).update(status="sending")
    event_id = stored_reply(client, ours)

    busy = Holder([lambda: list(Conversation.objects.select_for_update().filter(id=conv.id))])
    busy.start()
    busy.proceed[0].set()
    wait_until(lambda: busy.done_steps == 1, 5, "the conversation row to be held")
    recording, rec = in_thread(lambda: messages_record_sent(sent=[(m2.id, "<m2@x>", None)]))
    try:
        wait_until(lambda: rec.get("pid") and waiting_on_a_lock(rec["pid"]), 5, "T2 to wait")
        started = time.monotonic()
        replying, out = in_thread(lambda: inbound_event_process(event_id=event_id))
        replying.join(1.0)  # the reply must not wait for the send's transaction
        assert not replying.is_alive(), "the reply waited for the send being recorded"
        assert out.get("result") == "reply", out
        assert out["at"] - started < 1.0
        enrollment.refresh_from_db()
        assert enrollment.state == "replied"
    finally:
        busy.release.set()
        busy.join(10)
        recording.join(10)
        replying_alive = "replying" in locals() and replying.is_alive()
        if replying_alive:
            replying.join(10)
    assert rec.get("result") == {m2.id}  # and the send is recorded too


REPLY_CHECK = 3  # seconds: the reply's deadlock_timeout in the test below


def test_a_reply_that_loses_a_deadlock_at_commit_is_retried_at_once(
    client,
    lead,  # noqa: F811
    caplog,
):
    sender, enrollment, ours = lead
    caplog.set_level(logging.INFO, logger="campaigns.services")
    event_id = stored_reply(client, ours)

    # The reply's foreign keys are checked at COMMIT (Django makes them DEFERRABLE INITIALLY
    # DEFERRED): that is when it takes its key-share lock on the sender's row. Another
    # transaction holds that row FOR UPDATE and then wants the reply's enrollment: the
    # deadlock of issue 17. PostgreSQL aborts the side whose deadlock check runs first once
    # the cycle exists; each side checks once, deadlock_timeout after it starts waiting. The
    # reply checks after REPLY_CHECK s and the other side only after a minute, so the reply
    # is the one aborted even when the other side is slow to start waiting on a busy machine
    # (with both at 1 s, a second's delay made the other side the victim).
    def take_sender() -> None:
        with connection.cursor() as cur:
            cur.execute("SET LOCAL deadlock_timeout = '60s'")
            cur.execute(
                "SELECT id FROM outreach_senderaccount WHERE id = %s FOR UPDATE", [sender.id]
            )

    def take_enrollment() -> None:
        list(Enrollment.objects.select_for_update().filter(id=enrollment.id))

    other = Holder([take_sender, take_enrollment])
    other.start()
    other.proceed[0].set()
    wait_until(lambda: other.done_steps == 1, 5, "the sender to be held")

    def reply() -> str:
        with connection.cursor() as cur:
            cur.execute(f"SET deadlock_timeout = '{REPLY_CHECK}s'")  # this connection only
        return inbound_event_process(event_id=event_id)

    replying, out = in_thread(reply)
    try:
        wait_until(lambda: out.get("pid") and waiting_on_a_lock(out["pid"]), 5, "the reply to wait")
        started = time.monotonic()
        other.release.set()  # it commits as soon as it has the enrollment
        other.proceed[1].set()  # closes the cycle: the reply, which waited first, is aborted
        replying.join(REPLY_CHECK + 5.0)
        assert not replying.is_alive()
        # Applied by the same call right after the deadlock was detected, not left for the
        # sweeper's next minute.
        assert out.get("result") == "reply", out
        assert out["at"] - started < REPLY_CHECK + 2.0
    finally:
        other.proceed[1].set()
        other.release.set()
        other.join(10)
        replying.join(10)
    assert other.error is None
    enrollment.refresh_from_db()
    assert enrollment.state == "replied"
    event = InboundEvent.objects.get(id=event_id)
    assert (event.processed_at is not None, event.attempts, event.error) == (True, 0, "")
    # The aborted first try logged nothing: the log names the stop once, as it happened.
    stopped = [r for r in caplog.records if r.getMessage().startswith("enrolment sequence stopped")]
    assert [r.getMessage() for r in stopped] == ["enrolment sequence stopped: replied"]
