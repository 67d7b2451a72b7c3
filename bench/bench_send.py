"""End to end: N messages through the in-memory channel with limits off, 2 Celery worker
processes on the real broker, from campaign launch until every message is sent; versus N
no-op Celery tasks (each only INCRs a Redis counter) on the same broker and workers, in the
same run. Ours is reported twice: messages per second and Celery tasks per second (the
dispatcher sends messages in batches, one task each; bench/noop.py counts the tasks the
workers ran), both against the no-op tasks per second. The no-op round trip is the floor of
the transport, not the same work: it says what share of the broker's speed the engine keeps.
BENCH_SEND_MESSAGES sets N (default 10,000), BENCH_SEND_SENDERS the number of
sender accounts (default 200: one send in flight per sender); BENCH_SEND_POOL and
BENCH_SEND_CONCURRENCY the workers' pool (default prefork, 1 each), the same for both runs."""

import contextlib
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import redis
from django.conf import settings

from bench import data
from bench.common import Row, size
from bench.db import bench_database, vacuum_analyze
from bench.noop import TASKS_RUN, noop_done
from campaigns.models import Campaign
from campaigns.services import campaign_launch
from config.queues import QUEUES
from outreach.models import Message
from tests.processes import BIN, Proc, wait_for

WORKERS = 2
TIMEOUT = float(os.environ.get("BENCH_SEND_TIMEOUT", "3600"))


def child_env(database_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DEBUG="false",  # as in production: no query log in the workers
        SECRET_KEY="bench-" + uuid.uuid4().hex,
        DATABASE_URL=database_url,
        CHANNEL_BACKEND="outreach.channels.locmem.LocmemChannel",
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        BENCH_COUNTER_URL=counter_url(),
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    return env


def counter_url() -> str:
    return settings.REDIS_URL or settings.CELERY_BROKER_URL


def start_worker(
    name: str,
    env: dict[str, str],
    log_dir: Path,
    queues: tuple[str, ...] = QUEUES,
    concurrency: int | None = None,
) -> Proc:
    """A Celery worker as production starts one; by default on every queue with
    BENCH_SEND_CONCURRENCY processes."""
    processes = concurrency or int(os.environ.get("BENCH_SEND_CONCURRENCY", "1"))
    proc = Proc(
        name,
        [
            str(BIN / "celery"),
            "-A",
            "config",
            "worker",
            "--include",
            "bench.noop",
            "--loglevel",
            "WARNING",  # no log line per task
            "--concurrency",
            str(processes),
            "--pool",
            os.environ.get("BENCH_SEND_POOL", "prefork"),
            "--without-mingle",
            "--without-gossip",
            "--without-heartbeat",
            "-Q",
            ",".join(queues),
            "-n",
            f"{name}@%h",
        ],
        env,
        log_dir,
    )
    return proc


def wait_until_consuming(procs: list[Proc]) -> None:
    """Every worker has taken a task: a few no-op round trips per worker, until all answered."""
    client = redis.Redis.from_url(counter_url())
    key = f"bench:ready:{uuid.uuid4().hex}"
    for _ in range(4 * len(procs)):
        noop_done.delay(key)
    for proc in procs:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} died:\n{proc.log()[-3000:]}")
    wait_for(lambda: int(client.get(key) or 0) >= 4 * len(procs), 120, 0.1, "workers to start")
    client.delete(key)
    time.sleep(2)  # let the slower worker finish starting too


def purge() -> None:
    from config.celery import app

    with app.connection_for_write() as conn:
        for queue in QUEUES:
            with contextlib.suppress(Exception):
                conn.default_channel.queue_purge(queue)  # the queue may not exist yet


def noop_round_trips(n: int) -> float:
    client = redis.Redis.from_url(counter_url())
    key = f"bench:noop:{uuid.uuid4().hex}"
    started = time.perf_counter()
    for _ in range(n):
        noop_done.delay(key)
    wait_for(lambda: int(client.get(key) or 0) >= n, TIMEOUT, 0.01, "the no-op tasks")
    elapsed = time.perf_counter() - started
    client.delete(key)
    return n / elapsed


def campaign_sends(camp: Campaign, n: int) -> tuple[float, float]:
    """Messages and tasks run per second from launch; on a time-out, the rates so far."""
    sent = Message.objects.filter(status=Message.Status.SENT)
    client = redis.Redis.from_url(counter_url())
    client.delete(TASKS_RUN)
    started = time.perf_counter()
    campaign_launch(campaign=camp)
    try:
        wait_for(lambda: sent.count() >= n, TIMEOUT, 0.05, "every message to be sent")
    except AssertionError:
        print(f"  timed out: {sent.count():,}/{n:,} sent after {TIMEOUT:.0f} s", flush=True)
    elapsed = time.perf_counter() - started
    done, tasks = sent.count(), int(client.get(TASKS_RUN) or 0)
    print(f"  {done:,} messages in {tasks:,} tasks, {elapsed:.1f} s", flush=True)
    return done / elapsed, tasks / elapsed


def run():
    n = size("BENCH_SEND_MESSAGES", 10_000, 100)
    sender_count = size("BENCH_SEND_SENDERS", 200, 20)
    log_dir = Path(tempfile.mkdtemp(prefix="bench_send_"))
    with bench_database() as url:
        camp = data.campaign(data.senders(sender_count), status=Campaign.Status.DRAFT)
        data.due_enrollments(camp, n)
        vacuum_analyze("contacts_contact", "contacts_identity", "campaigns_enrollment")
        env = child_env(url)
        purge()
        procs: list[Proc] = []
        try:
            procs += [start_worker(f"bench{i}", env, log_dir) for i in range(WORKERS)]
            wait_until_consuming(procs)
            baseline = noop_round_trips(n)
            print(f"  no-op round trips: {baseline:.1f} tasks/s", flush=True)
            procs.append(
                Proc(
                    "dispatcher",
                    [str(BIN / "python"), "manage.py", "run_dispatcher", "--interval", "0.05"],
                    env,
                    log_dir,
                )
            )
            messages, tasks = campaign_sends(camp, n)
        finally:
            for proc in procs:
                proc.stop()
            purge()
        shutil.rmtree(log_dir, ignore_errors=True)
    label = f"send {n:,} e2e, {WORKERS} workers:"
    yield Row(f"{label} messages/s (vs no-op tasks/s)", messages, baseline, "m/s", 0.3, "t/s")
    yield Row(f"{label} tasks/s (vs no-op tasks/s)", tasks, baseline, "t/s")
