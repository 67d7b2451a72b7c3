"""/healthz and /readyz as a load balancer sees them, with real Celery workers."""

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.dispatch import dispatch_tick
from campaigns.models import Enrollment
from campaigns.services import campaign_launch, enrollments_create
from tests import factories
from tests.processes import wait_for

pytestmark = [pytest.mark.live_worker]
# Workers beat every second here (and the test's readyz counts a worker gone after three).
BEATING = {"WORKER_HEARTBEAT_SECONDS": "1"}


def readyz(client) -> tuple[int, dict]:
    response = client.get("/readyz")
    return response.status_code, response.json()


def test_healthz_answers_ok_without_a_login_or_the_database(client):
    # No `db` fixture: any query here would fail the test.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok"


def test_readyz_is_unready_until_a_worker_consumes_every_queue(client, settings, worker_factory):
    settings.WORKER_HEARTBEAT_SECONDS = 1
    status, body = readyz(client)
    assert status == 503
    assert body["failing"] == ["workers"]
    assert body["checks"]["workers"]["without_worker"] == settings.READY_QUEUES
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["broker"] == {"ok": True}

    # One worker on every queue but the last: still unready, naming that queue.
    first = worker_factory("first", concurrency=1, queues=settings.READY_QUEUES[:-1], **BEATING)
    wait_for(
        lambda: (
            readyz(client)[1]["checks"]["workers"]["without_worker"] == settings.READY_QUEUES[-1:]
        ),
        30,
        interval=0.3,
        message="the first worker's heartbeat",
    )
    assert readyz(client)[0] == 503

    worker_factory("last", concurrency=1, queues=settings.READY_QUEUES[-1:], **BEATING)
    wait_for(lambda: readyz(client)[0] == 200, 30, interval=0.3, message="readyz to turn ready")
    status, body = readyz(client)
    assert body["status"] == "ready" and body["failing"] == []

    # A worker that stops takes its queues with it at once.
    first.stop()
    status, body = readyz(client)
    assert status == 503
    assert body["checks"]["workers"]["without_worker"] == settings.READY_QUEUES[:-1]


def test_readyz_is_unready_while_the_dispatcher_lags(client, settings, worker_factory):
    settings.READY_DISPATCH_LAG_SECONDS = 60
    worker_factory(concurrency=1, queues=settings.READY_QUEUES)
    wait_for(lambda: readyz(client)[0] == 200, 30, interval=0.3, message="readyz to turn ready")

    sender = factories.sender("Anna", channel="email")
    camp = factories.campaign(senders=[sender], steps=(("email", 0),))
    enrollments_create(campaign=camp, contacts=[factories.contact(1)])
    campaign_launch(campaign=camp)
    # Its first step fell due ten minutes ago and no dispatcher ran since.
    Enrollment.objects.update(next_action_at=timezone.now() - timedelta(minutes=10))

    status, body = readyz(client)
    assert status == 503
    assert body["failing"] == ["dispatcher"]
    assert body["checks"]["dispatcher"]["lag_seconds"] >= 600

    dispatch_tick()  # the dispatcher catches up
    status, body = readyz(client)
    assert status == 200
    assert body["checks"]["dispatcher"]["lag_seconds"] == 0


def test_readyz_is_unready_while_the_broker_is_down_and_ready_again_once_it_is_back(
    client, settings, worker_factory, throwaway_broker
):
    settings.WORKER_HEARTBEAT_SECONDS = 1
    broker = throwaway_broker
    worker_factory(
        concurrency=1, queues=settings.READY_QUEUES, CELERY_BROKER_URL=broker.url, **BEATING
    )
    wait_for(lambda: readyz(client)[0] == 200, 30, interval=0.3, message="readyz to turn ready")

    broker.stop()
    status, body = readyz(client)
    assert status == 503
    assert "broker" in body["failing"]
    assert body["checks"]["broker"]["ok"] is False
    assert body["checks"]["database"] == {"ok": True}

    # The same broker comes back (empty, as after a restart): no process is restarted, and
    # the load balancer sends traffic again once the worker has reconnected and beats.
    broker.start()
    wait_for(lambda: readyz(client)[0] == 200, 60, interval=0.3, message="readyz ready again")
    status, body = readyz(client)
    assert body["failing"] == []
    assert body["checks"]["workers"]["without_worker"] == []
