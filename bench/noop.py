"""The baseline task for bench_send: a Celery round trip that touches no database, only
increments a Redis counter so the benchmark knows when every task has run."""

import os

import redis
from celery import shared_task

_client: redis.Redis | None = None


def counter() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(os.environ["BENCH_COUNTER_URL"])
    return _client


@shared_task(ignore_result=True)
def noop_done(key: str) -> None:
    counter().incr(key)
