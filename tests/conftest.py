import contextlib
import os
from pathlib import Path

import pytest
import redis
from django.conf import settings

from tests.processes import Proc, celery_worker, child_env


def pytest_collection_modifyitems(config, items):
    # Tests that need PostgreSQL's row locks are skipped on the SQLite default.
    if not settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (run with `make test`)")
    for item in items:
        if "postgres_only" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def redis_client():
    """A real Redis (REDIS_URL); the test's keys are flushed before and after."""
    url = settings.REDIS_URL or os.environ.get("TEST_REDIS_URL", "")
    if not url:
        pytest.skip("REDIS_URL is not set (run with `make test`)")
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield client
    client.flushdb()


@pytest.fixture
def clean_broker():
    """Empty the Celery broker so no task from an earlier test reaches this test's workers."""
    from config.celery import app

    with app.connection_for_write() as conn, contextlib.suppress(Exception):
        conn.default_channel.queue_purge("celery")  # may not exist yet
    yield


@pytest.fixture
def log_dir(tmp_path) -> Path:
    path = tmp_path / "logs"
    path.mkdir()
    return path


@pytest.fixture
def worker_factory(transactional_db, clean_broker, log_dir):
    """Start real `celery worker` processes against this test's database and broker."""
    started: list[Proc] = []

    def start(name: str = "worker", concurrency: int = 2, **env: str) -> Proc:
        proc = celery_worker(name, child_env(**env), log_dir, concurrency=concurrency)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()


@pytest.fixture
def live_worker(worker_factory) -> Proc:
    return worker_factory()
