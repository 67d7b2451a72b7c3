"""The embedded default's broker (config/filesystem_broker.py): a worker takes a message only
once it is whole. kombu's own filesystem transport let a worker take a message's file while
its producer was still writing it; the worker read nothing, failed to decode it and stopped,
and `make run` stopped with it."""

import subprocess
import sys

import pytest
from kombu import Connection

from tests.processes import ROOT

TRANSPORT = "config.filesystem_broker:Transport"
MESSAGES = 60
SIZE = 2_000_000  # large, so that each write takes long enough for a reader to come between

PRODUCER = f"""
import sys
from kombu import Connection
queue_dir, control_dir = sys.argv[2:]
options = dict(data_folder_in=queue_dir, data_folder_out=queue_dir, control_folder=control_dir)
with Connection("filesystem://", transport=sys.argv[1], transport_options=options) as conn:
    queue = conn.SimpleQueue("bulk")
    for i in range({MESSAGES}):
        queue.put({{"i": i, "blob": "x" * {SIZE}}})
"""


def test_a_worker_reading_while_a_producer_writes_gets_every_message_whole(tmp_path):
    queue_dir, control_dir = tmp_path / "queue", tmp_path / "control"
    queue_dir.mkdir()
    control_dir.mkdir()
    options = {
        "data_folder_in": str(queue_dir),
        "data_folder_out": str(queue_dir),
        "control_folder": str(control_dir),
        "store_processed": False,
        "polling_interval": 0.001,
    }
    with Connection("filesystem://", transport=TRANSPORT, transport_options=options) as conn:
        consumer = conn.SimpleQueue("bulk")  # declared before the producer starts writing
        producer = subprocess.Popen(
            [sys.executable, "-c", PRODUCER, TRANSPORT, str(queue_dir), str(control_dir)],
            cwd=ROOT,
        )
        try:
            received = []
            for _ in range(MESSAGES):
                message = consumer.get(block=True, timeout=60)
                received.append(message.payload)
                message.ack()
        finally:
            producer.wait(timeout=60)
    assert producer.returncode == 0
    # Every one, once (files are taken in name order, by millisecond: not a promise of order).
    assert sorted(m["i"] for m in received) == list(range(MESSAGES))
    assert all(m["blob"] == "x" * SIZE for m in received)
    assert not list(queue_dir.iterdir())  # nothing left behind, no half-written files


@pytest.mark.parametrize(
    ("broker_url", "transport"),
    [
        (None, "config.filesystem_broker"),  # the embedded default
        ("redis://127.0.0.1:6379/0", "kombu.transport.redis"),  # any other broker is untouched
    ],
)
def test_the_embedded_default_sends_its_tasks_through_that_transport(
    tmp_path, broker_url, transport
):
    show = "import django; django.setup(); from config.celery import app; "
    show += "t = app.connection_for_write().transport; print(type(t).__module__)"
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "true",
        "VAR_DIR": str(tmp_path),
    }
    if broker_url:
        env["CELERY_BROKER_URL"] = broker_url
    run = subprocess.run(
        [sys.executable, "-c", show], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == transport
