"""Loaded into bench_send's workers (`--include bench.noop`): the baseline task, a Celery
round trip that touches no database and only increments a Redis counter so the benchmark
knows when every task has run; and a count of every other task the workers ran, so our run
reports tasks per second as well as messages per second."""

import os

import redis
from celery import shared_task
from celery.signals import task_postrun

_client: redis.Redis | None = None
TASKS_RUN = "bench:tasks-run"  # the key our tasks are counted under


def counter() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(os.environ["BENCH_COUNTER_URL"])
    return _client


@shared_task(ignore_result=True)
def noop_done(key: str) -> None:
    counter().incr(key)


@task_postrun.connect
def _count_task(sender=None, **kwargs) -> None:
    if sender is not None and sender.name != noop_done.name and "BENCH_COUNTER_URL" in os.environ:
        counter().incr(TASKS_RUN)
