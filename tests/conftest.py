import contextlib
import copy
import os
import shutil
import signal
from collections.abc import Sequence
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.test.utils import override_settings

from config.queues import QUEUES
from tests.processes import Proc, RedisServer, celery_worker, child_env, stop_all


def pytest_configure(config):
    # A SIGTERM (a CI time-out, `timeout pytest`) becomes a KeyboardInterrupt, so fixtures
    # still stop the worker and dispatcher processes they started instead of orphaning them.
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def pytest_sessionstart(session):
    """Stop leftovers of an interrupted earlier run (a killed pytest cannot stop the worker
    processes it started) before this run's tests share their database and broker."""
    from tests.processes import stale_children

    name = settings.DATABASES["default"]["NAME"]
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        return  # the embedded default's broker and database live in this run's VAR_DIR
    s = settings.DATABASES["default"]
    host, port, user = s.get("HOST") or "127.0.0.1", s.get("PORT") or 5432, s.get("USER")
    test_db = f"postgres://{user or 'postgres'}@{host}:{port}/test_{name}"
    for pgid in stale_children(database_url=test_db, broker_url=settings.CELERY_BROKER_URL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)


def pytest_collection_modifyitems(config, items):
    # Tests that need PostgreSQL's row locks are skipped on the SQLite default.
    if not settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (run with `make test`)")
    for item in items:
        if "postgres_only" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True, scope="session")
def test_users_passwords_hashed_cheaply():
    """Test users' passwords are hashed with MD5, not PBKDF2 at Django's production work
    factor (0.4 s a user on the 2-core CI machine; a fixture with six users spent 2.5 s on
    nothing else). Only this process's checks see it: a web or worker process the tests
    start hashes as production does, and no test logs in to one with a user made here."""
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(autouse=True)
def channel_settings_left_as_found():
    """pytest-django's `settings` puts the OUTREACH_CHANNELS object back after a test, not its
    contents: `settings.OUTREACH_CHANNELS["x"] = ...` changes it for every later test. Such a
    test fails here, by name, instead of a later test failing depending on the order."""
    before = copy.deepcopy(settings.OUTREACH_CHANNELS)
    yield
    assert before == settings.OUTREACH_CHANNELS, (
        "this test changed OUTREACH_CHANNELS in place; assign a new dict instead: "
        "settings.OUTREACH_CHANNELS = {**settings.OUTREACH_CHANNELS, key: {...}}"
    )


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
    from config.queues import QUEUES

    with app.connection_for_write() as conn:
        for queue in (*QUEUES, "celery"):  # "celery": what an older checkout left there
            with contextlib.suppress(Exception):
                conn.default_channel.queue_purge(queue)  # may not exist yet
    yield


def _point_celery_at(url: str) -> None:
    from config.celery import app

    app.conf.broker_url = app.conf.broker_write_url = url
    app._pool = None  # connections to the other broker must not be reused
    app.amqp._producer_pool = None


@pytest.fixture
def throwaway_broker(tmp_path):
    """A redis-server of this test's own as the Celery broker of this process (what it
    publishes after commit); pass its url as CELERY_BROKER_URL to the workers it starts. The
    test may stop and start it; the shared Redis is never touched."""
    from config.celery import app

    server = RedisServer(tmp_path / "broker").start()
    saved = app.conf.broker_url
    _point_celery_at(server.url)
    yield server
    _point_celery_at(saved)
    server.stop()


@pytest.fixture
def log_dir(tmp_path) -> Path:
    path = tmp_path / "logs"
    path.mkdir()
    return path


@pytest.fixture
def worker_factory(transactional_db, clean_broker, log_dir):
    """Start real `celery worker` processes against this test's database and broker."""
    started: list[Proc] = []

    def start(
        name: str = "worker",
        concurrency: int = 2,
        queues: Sequence[str] = QUEUES,
        host: str = "%h",
        **env: str,
    ) -> Proc:
        proc = celery_worker(
            name, child_env(**env), log_dir, concurrency=concurrency, queues=queues, host=host
        )
        started.append(proc)
        return proc

    yield start
    stop_all(started)


@pytest.fixture
def live_worker(worker_factory) -> Proc:
    return worker_factory()


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def chromium():
    """Debian's headless Chromium driven by Playwright (its own browser download is not used)."""
    path = shutil.which("chromium")
    if path is None:
        pytest.skip("chromium is not installed (`apt-get install chromium`; .ci/run does)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
    # between page actions are still synchronous and safe.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, live_server):
    """A fresh browser page; `page.base_url` is the live Django server."""
    context = chromium.new_context(base_url=live_server.url)
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    pg.base_url = live_server.url  # type: ignore[attr-defined]
    yield pg
    context.close()


@pytest.fixture
def logged_in_page(page, django_user_model):
    """A browser page logged in as a staff superuser through the real login form."""
    django_user_model.objects.create_superuser("rep", "rep@example.com", "rep-password-1")
    page.goto("/admin/login/")
    page.fill("#id_username", "rep")
    page.fill("#id_password", "rep-password-1")
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")
    return page
