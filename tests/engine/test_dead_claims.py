"""A worker killed mid-batch holds its senders for seconds, not for SEND_GRACE (300 s by
default): a process on the same machine sees that the process that claimed the sends is
gone, puts back the send it never tried and marks the one it was making "unknown" at once
(docs/reliability.md, "Claims of a process that is gone"). That process is the dispatcher
when it shares the machine, and the worker's own main process when one of its pool processes
died, wherever the dispatcher runs.

Real processes: one Celery worker (and, in the first test, one dispatcher) against the test
database, the fake platform answering each send late so the kill lands mid-request.
"""

import os
import signal
from pathlib import Path

import pytest
from django.utils import timezone

from campaigns.dispatch import enrollments_materialize, offer_and_enqueue
from campaigns.services import campaign_launch
from outreach.models import Message
from tests.engine.harness import Engine, Scenario, build_campaign
from tests.processes import dispatcher, wait_for

pytestmark = [
    pytest.mark.live_worker,
    pytest.mark.chaos,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not Path("/proc").is_dir(), reason="a claimer is named from /proc"),
]
S = Message.Status
GRACE = 60  # SEND_GRACE here: what the sends below waited before the dispatcher could tell


@pytest.fixture
def engine(log_dir, clean_broker):
    engine = Engine.start(
        log_dir,
        workers=1,
        dispatchers=0,
        concurrency=1,
        SEND_GRACE=str(GRACE),
        WORKER_HEARTBEAT_SECONDS="1",
    )
    yield engine
    engine.stop()


def one_on_its_way_one_untried(engine) -> tuple[Message, Message]:
    """Wait until the worker is inside the platform call of its batch's first send (the
    request has arrived; the platform answers after 3 s) and has not tried the second."""
    sending = Message.objects.filter(status=S.SENDING)
    wait_for(
        lambda: (
            sending.filter(send_started=True).count() == 1
            and sending.filter(send_started=False).count() == 1
        ),
        30,
        0.05,
        "one send on its way and its batch-mate not tried yet",
    )
    started, untried = sending.get(send_started=True), sending.get(send_started=False)
    arrived = engine.platform.state.arrived
    wait_for(lambda: str(started.idempotency_key) in arrived, 10, 0.05, "the request to arrive")
    return started, untried


def test_a_killed_workers_untried_send_goes_out_at_the_next_tick_and_its_started_one_is_checked(
    engine, log_dir
):
    # Two senders, one message each: the first tick offers both in one batch.
    campaign, _ = build_campaign(Scenario(senders=2, contacts_per_sender=1, steps=1, cap=5))
    engine.platform.state.latency = 3.0  # the platform takes 3 s to answer a send
    campaign_launch(campaign=campaign)
    engine.dispatchers.append(dispatcher("dispatcher0", engine.env, log_dir))
    started, untried = one_on_its_way_one_untried(engine)

    engine.workers[0].kill()  # the whole worker, mid-request, as a power loss would
    engine.platform.state.latency = 0.0
    engine.add_worker()  # what systemd's Restart=always does

    # The untried one goes out again, once, long before SEND_GRACE.
    wait_for(
        lambda: Message.objects.get(id=untried.id).status == S.SENT,
        GRACE / 3,
        message="the untried send to go out again",
    )
    posts = engine.platform.state.posts_per_key
    assert posts[str(untried.idempotency_key)] == 1
    assert (
        Message.objects.get(id=untried.id)
        .events.filter(detail="reconciler: never sent, will send again")
        .exists()
    )
    # The one it was making may have arrived, so it is not sent again blindly: it is
    # "unknown" already, and is looked up when the channel's settle window is over (the crash
    # tests in test_reliability.py follow that).
    started.refresh_from_db()
    assert started.status == S.UNKNOWN
    assert started.error_reason == "worker stopped before recording the outcome"
    # It did arrive: the platform finishes the request after the worker is gone.
    key = str(started.idempotency_key)
    wait_for(lambda: key in posts, 10, message="the platform to finish the first request")
    assert posts[key] == 1


def test_a_worker_whose_pool_process_dies_settles_its_sends_itself_with_no_dispatcher_near(
    engine,
):
    # No dispatcher runs while it happens (as where it runs in another container): the batch
    # is offered as its tick does, and the worker is left on its own.
    campaign, _ = build_campaign(Scenario(senders=2, contacts_per_sender=1, steps=1, cap=5))
    engine.platform.state.latency = 3.0
    campaign_launch(campaign=campaign)
    enrollments_materialize(now=timezone.now())
    assert offer_and_enqueue(now=timezone.now()) == 2
    started, untried = one_on_its_way_one_untried(engine)

    [pool_process] = engine.workers[0].children()
    os.kill(pool_process, signal.SIGKILL)  # the kernel's OOM killer, say
    engine.platform.state.latency = 0.0

    # Within a heartbeat or two (1 s here), the worker's main process puts the untried send
    # back and marks the other unknown; nothing else is running that could.
    never_sent = Message.objects.get(id=untried.id).events.filter(
        detail="reconciler: never sent, will send again"
    )
    wait_for(never_sent.exists, GRACE / 6, message="the untried send to be put back")
    wait_for(
        lambda: Message.objects.get(id=started.id).status == S.UNKNOWN,
        GRACE / 6,
        message="the started send to be marked unknown",
    )

    # The dispatcher's offers, a second apart as its beat makes them, send it, once (or the
    # lost task, which Celery delivers again, does).
    def offered_and_sent() -> bool:
        offer_and_enqueue(now=timezone.now())
        return Message.objects.get(id=untried.id).status == S.SENT

    wait_for(offered_and_sent, GRACE / 3, 1.0, "the untried send to go out")
    assert engine.platform.state.posts_per_key[str(untried.idempotency_key)] == 1
