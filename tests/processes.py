"""Real processes for tests: Celery workers, dispatchers and the engine itself.

Workers run as separate OS processes (not threads), so a test can SIGKILL them.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from django.db import connection

from config.queues import QUEUES

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def test_database_url() -> str:
    """The URL of the database this test runs against, for child processes."""
    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{s['NAME']}"
    host = s.get("HOST") or "127.0.0.1"
    port = s.get("PORT") or 5432
    user = s.get("USER") or "postgres"
    return f"postgres://{user}@{host}:{port}/{s['NAME']}"


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"DEBUG": "true", "DATABASE_URL": test_database_url(), "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(
    predicate: Callable[[], bool], timeout: float, interval: float = 0.1, message: str = "condition"
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


class Proc:
    """A child process with its output captured to a log file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "ab")  # noqa: SIM115  (closed in stop())
        self.popen = subprocess.Popen(
            args,
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def children(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.pid)], capture_output=True, text=True)
        return [int(p) for p in out.stdout.split()]

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole process group: no cleanup, like a machine losing power."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)

    def terminate(self) -> None:
        """SIGTERM the whole process group: a warm shutdown."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)

    def stop(self, timeout: float = 5) -> None:
        stop_all([self], timeout)


def stop_all(procs: Sequence[Proc], timeout: float = 5) -> None:
    """Ask every process to stop at once, then wait for them together, killing what is still
    running after `timeout`: a teardown waits for the slowest, not for each in turn."""
    for proc in procs:
        proc.terminate()
    deadline = time.monotonic() + timeout
    for proc in procs:
        try:
            proc.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
        proc._log.close()


def celery_worker(
    name: str,
    env: dict[str, str],
    log_dir: Path,
    *,
    concurrency: int = 2,
    pool: str = "prefork",
    queues: Sequence[str] = QUEUES,
    host: str = "%h",
) -> Proc:
    """A worker consuming `queues` (all of them by default, as `make run`'s one worker does),
    named `name@host`: a distinct host stands for another machine."""
    proc = Proc(
        name if host == "%h" else f"{name}@{host}",
        [
            str(BIN / "celery"),
            "-A",
            "config",
            "worker",
            "--loglevel",
            "INFO",
            "--concurrency",
            str(concurrency),
            "--pool",
            pool,
            "--without-mingle",
            "--without-gossip",
            "--without-heartbeat",
            "-Q",
            ",".join(queues),
            "-n",
            f"{name}@{host}",
        ],
        env,
        log_dir,
    )
    try:
        wait_for(
            lambda: " ready." in proc.log() or not proc.alive(),
            60,
            message=f"worker {name} to start",
        )
        if not proc.alive():
            raise AssertionError(f"worker {name} died:\n{proc.log()[-3000:]}")
    except BaseException:
        proc.stop()  # a worker that never became ready must not live on and take tasks
        raise
    return proc


def dispatcher(name: str, env: dict[str, str], log_dir: Path, *, interval: float = 0.2) -> Proc:
    return Proc(
        name,
        [str(BIN / "python"), "manage.py", "run_dispatcher", "--interval", str(interval)],
        env,
        log_dir,
    )


def stale_children(*, database_url: str, broker_url: str) -> list[int]:
    """Process groups of workers and dispatchers from this checkout that an interrupted
    earlier run left on this run's test database or broker: alive, they would take this
    run's tasks and send them their own way."""
    groups = set()
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            argv = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if str(BIN) not in argv or ("celery" not in argv and "run_dispatcher" not in argv):
                continue
            pairs = (entry / "environ").read_bytes().decode(errors="replace").split("\0")
            env = dict(p.split("=", 1) for p in pairs if "=" in p)
            pgid = os.getpgid(int(entry.name))
        except (OSError, ValueError):
            continue  # gone, or not ours to read
        mine = env.get("DATABASE_URL") == database_url or env.get("CELERY_BROKER_URL") == broker_url
        if mine and pgid != os.getpgrp():
            groups.add(pgid)
    return sorted(groups)


class RedisServer:
    """A throwaway redis-server on a free port, for a test that stops and restarts its broker
    (the shared Redis is never touched). Nothing is saved: a restart comes back empty, as a
    broker that lost its memory does."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _ping(self) -> bool:
        ping = ["redis-cli", "-p", str(self.port), "ping"]
        return subprocess.run(ping, capture_output=True).returncode == 0

    def start(self) -> "RedisServer":
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--appendonly", "no", "--daemonize", "yes", "--dir", str(self.dir)]
        subprocess.run([*args, "--logfile", str(self.dir / "log")], check=True)
        wait_for(self._ping, 10, message=f"redis-server on port {self.port}")
        return self

    def stop(self) -> None:
        shutdown = ["redis-cli", "-p", str(self.port), "shutdown", "nosave"]
        subprocess.run(shutdown, capture_output=True)
        wait_for(lambda: not self._ping(), 10, message=f"redis-server on {self.port} to stop")
