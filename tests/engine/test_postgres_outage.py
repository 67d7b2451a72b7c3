"""PostgreSQL restarted mid-campaign, and once gone for 10 s: the running workers and
dispatcher reconnect on their own (no process restarted), nothing is sent twice and nothing
is lost, counted by the fake platform per contact.

The database is a throw-away cluster this test starts with initdb / pg_ctl on a temporary
directory and a free port (the shared server is never restarted), loaded with a copy of this
run's test database (pg_dump), and the test's own connection points at it while it runs.
"""

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import DatabaseError, InterfaceError, connection

from campaigns.services import campaign_launch
from tests.engine.harness import (
    Engine,
    Scenario,
    assert_delivered_exactly_once,
    build_campaign,
    sent_count,
    stuck_state,
)
from tests.processes import free_port, wait_for

pytestmark = [
    pytest.mark.live_worker,
    pytest.mark.chaos,
    pytest.mark.postgres_only,
    pytest.mark.django_db(transaction=True),
]

OUTAGE_SECONDS = 10


def _pg_bin() -> Path | None:
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: p.parent.parent.name
    )
    return found[-1].parent if found else None


PG_BIN = _pg_bin()
if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3") or PG_BIN is None:
    pytestmark.append(pytest.mark.skip(reason="needs PostgreSQL and its initdb / pg_ctl"))


class Cluster:
    """A PostgreSQL cluster of our own. initdb refuses to run as root, so as root the
    cluster belongs to the `postgres` system user and its commands run through runuser."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir, self.port = data_dir, port
        self.log = data_dir.parent / "postgres.log"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(PG_BIN / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if check and done.returncode:
            raise AssertionError(f"{args[0]} failed: {done.stdout}{done.stderr}\n{self.logs()}")
        return done

    def init(self) -> None:
        self._run(
            "initdb", "-D", str(self.data_dir), "-U", "postgres", "--auth=trust", "-E", "UTF8"
        )

    def pg_ctl(self, action: str, *extra: str) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data_dir} -c fsync=off"
        self._run(
            "pg_ctl",
            action,
            "-D",
            str(self.data_dir),
            "-w",
            "-l",
            str(self.log),
            "-o",
            options,
            *extra,
        )

    def logs(self) -> str:
        with contextlib.suppress(OSError):
            return self.log.read_text(errors="replace")[-3000:]
        return ""


@pytest.fixture
def throwaway_database(log_dir) -> Iterator[Cluster]:
    """A cluster holding a copy of this run's test database; the default connection points
    at it during the test and back at the test database after."""
    root = Path(tempfile.mkdtemp(prefix="pg_outage_"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    cluster = Cluster(root / "data", free_port())
    s = connection.settings_dict
    original = {key: s[key] for key in ("HOST", "PORT", "NAME", "USER", "PASSWORD")}
    try:
        cluster.init()
        cluster.pg_ctl("start")
        name = "outage"
        env = dict(os.environ, PGPASSWORD=original["PASSWORD"] or "")
        source = ["-h", original["HOST"] or "127.0.0.1", "-p", str(original["PORT"] or 5432)]
        target = ["-h", "127.0.0.1", "-p", str(cluster.port), "-U", "postgres"]
        subprocess.run([PG_BIN / "createdb", *target, name], check=True, env=env)
        connection.close()
        dump = subprocess.run(
            [
                PG_BIN / "pg_dump",
                *source,
                "-U",
                original["USER"] or "postgres",
                "--no-owner",
                s["NAME"],
            ],
            check=True,
            capture_output=True,
            env=env,
        )
        subprocess.run(
            [PG_BIN / "psql", *target, "-q", "-v", "ON_ERROR_STOP=1", "-d", name],
            input=dump.stdout,
            check=True,
            capture_output=True,
            env=env,
        )
        s.update(HOST="127.0.0.1", PORT=cluster.port, NAME=name, USER="postgres", PASSWORD="")
        yield cluster
    finally:
        connection.close()
        s.update(original)
        with contextlib.suppress(AssertionError, subprocess.TimeoutExpired):
            cluster.pg_ctl("stop", "-m", "immediate")
        (log_dir / "postgres.log").write_text(cluster.logs())
        shutil.rmtree(root, ignore_errors=True)


def reachable_sent_count() -> int | None:
    """Messages sent, or None while the database cannot be reached (the test's own
    connection is dropped too and reopened on the next call)."""
    try:
        return sent_count()
    except (DatabaseError, InterfaceError):
        connection.close()
        return None


def sent_once_reachable() -> int:
    """Messages sent, as soon as the database answers the test again."""
    counts: list[int] = []

    def answered() -> bool:
        count = reachable_sent_count()
        if count is not None:
            counts.append(count)
        return bool(counts)

    wait_for(answered, 60, interval=0.3, message="the database to answer the test again")
    return counts[-1]


def wait_sent(at_least: int, timeout: float, engine: Engine) -> None:
    try:
        wait_for(
            lambda: (reachable_sent_count() or 0) >= at_least,
            timeout,
            interval=0.3,
            message=f"{at_least} messages sent",
        )
    except AssertionError:
        raise AssertionError(f"{stuck_state()}\n{engine.logs()}") from None


def test_postgres_restart_and_a_ten_second_outage_mid_campaign_lose_nothing_and_send_nothing_twice(
    throwaway_database, log_dir, clean_broker
):
    cluster = throwaway_database
    s = Scenario(senders=6, contacts_per_sender=8, steps=2, cap=50, gap=(0.4, 0.8))
    campaign, _ = build_campaign(s)
    engine = Engine.start(log_dir, workers=2, dispatchers=1, concurrency=2)
    try:
        processes = {p.name: p.pid for p in engine.workers + engine.dispatchers}
        campaign_launch(campaign=campaign)

        wait_sent(s.messages // 5, 180, engine)
        cluster.pg_ctl("restart", "-m", "fast")  # every session cut, the server back at once
        restarted_at = sent_once_reachable()

        wait_sent(restarted_at + s.messages // 5, 180, engine)
        stopped_at = sent_once_reachable()
        cluster.pg_ctl("stop", "-m", "fast")
        time.sleep(OUTAGE_SECONDS)  # the outage itself: the database is gone this long
        cluster.pg_ctl("start")

        wait_sent(s.messages, 300, engine)
        # Both cuts came mid-campaign, with messages still to send after each.
        assert restarted_at < stopped_at < s.messages, (restarted_at, stopped_at)
        # Nothing more arrives once all are sent: what the platform received is final.
        assert_delivered_exactly_once(engine.platform, s.messages)
        per_contact = Counter(d.to for d in engine.platform.state.deliveries)
        assert len(per_contact) == s.senders * s.contacts_per_sender
        assert set(per_contact.values()) == {s.steps}, per_contact.most_common(3)
        # Recovered on their own: the very processes started before the outages, all alive.
        alive = {p.name: p.pid for p in engine.workers + engine.dispatchers if p.alive()}
        assert alive == processes, engine.logs()
    finally:
        engine.stop()
