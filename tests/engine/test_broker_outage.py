"""With the broker really stopped, the dispatcher's tick still completes and nothing is lost.

A throwaway redis-server is this test's broker (the throwaway_broker fixture), for the
workers and for this process, which runs the dispatcher's ticks itself. It is shut down
mid-campaign and started again empty.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.dispatch import dispatch_tick, enrollments_materialize
from campaigns.services import campaign_launch
from outreach.models import Message
from outreach.sending.claim import claim_batch
from tests.engine.harness import (
    Engine,
    Scenario,
    assert_delivered_exactly_once,
    build_campaign,
    sent_count,
    stuck_state,
)
from tests.processes import wait_for

pytestmark = [pytest.mark.live_worker, pytest.mark.chaos, pytest.mark.django_db(transaction=True)]


def test_a_tick_with_the_broker_down_completes_and_every_message_goes_out_once_it_returns(
    throwaway_broker, log_dir, settings
):
    settings.REQUEUE_AFTER = 2.0  # as the engine's workers have it (tests/engine/harness.py)
    broker = throwaway_broker
    s = Scenario(senders=4, contacts_per_sender=3, steps=1, cap=10)
    campaign, _ = build_campaign(s)
    engine = Engine.start(log_dir, workers=1, dispatchers=0, CELERY_BROKER_URL=broker.url)
    try:
        campaign_launch(campaign=campaign)
        enrollments_materialize(now=timezone.now())
        # A worker died long ago after claiming one message, before calling the platform:
        # the tick's reconciler is what puts it back.
        crashed = Message.objects.order_by("id").first()
        assert [c.message.id for c in claim_batch([crashed.id])] == [crashed.id]
        Message.objects.filter(id=crashed.id).update(claimed_at=timezone.now() - timedelta(hours=1))

        broker.stop()
        result = dispatch_tick()  # publishes fail after commit: logged, never raised

        assert (
            result.offered == s.senders - 1
        )  # one per free sender; the crashed one holds its slot
        assert result.reconciled == 1
        crashed.refresh_from_db()
        assert (crashed.status, crashed.hold_reason) == (
            "queued",
            "worker stopped before sending it",
        )
        assert sent_count() == 0

        broker.start()
        # kombu may exit a worker on the lost connection instead of reconnecting; its
        # supervisor restarts it (README, "How it runs").
        engine.restart_dead_workers()
        # Ticks as beat runs them: the messages whose publish was lost are offered again
        # after REQUEUE_AFTER.
        wait_for(
            lambda: dispatch_tick() is not None and sent_count() == s.messages,
            120,
            0.5,
            f"all sent\n{stuck_state()}",
        )
        assert_delivered_exactly_once(engine.platform, s.messages)
    finally:
        engine.stop()
