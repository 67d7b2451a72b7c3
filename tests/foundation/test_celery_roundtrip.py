import uuid

import pytest

from outreach.models import WorkerHeartbeat
from outreach.tasks import worker_heartbeat
from tests.processes import wait_for

pytestmark = pytest.mark.live_worker


def test_a_task_round_trips_through_the_broker_to_a_real_worker(live_worker):
    token = uuid.uuid4().hex
    worker_heartbeat.delay(token)
    wait_for(
        lambda: WorkerHeartbeat.objects.filter(token=token).exists(),
        30,
        message="the worker to write its heartbeat",
    )
    assert WorkerHeartbeat.objects.get(token=token).hostname
