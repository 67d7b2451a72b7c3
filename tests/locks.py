"""Row-lock races made deterministic: one transaction held open on its own connection while
another thread's statement waits for its locks, as PostgreSQL reports in pg_stat_activity.
For tests of what happens when two writers meet on the same rows."""

import threading
import time
from collections.abc import Callable

from django.db import connection, connections, transaction


def wait_until(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def waiting_on_a_lock(pid: int) -> bool:
    with connections["default"].cursor() as cur:
        cur.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
        row = cur.fetchone()
    return bool(row) and row[0] == "Lock"


class Holder(threading.Thread):
    """Runs `steps` in one transaction on its own connection, pausing before each until its
    `proceed` is set, and commits once `release` is set."""

    def __init__(self, steps: list[Callable[[], None]]) -> None:
        super().__init__(daemon=True)
        self.steps, self.proceed = steps, [threading.Event() for _ in steps]
        self.release = threading.Event()
        self.done_steps = 0
        self.pid = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with transaction.atomic():
                self.pid = connection.connection.info.backend_pid
                for step, go in zip(self.steps, self.proceed, strict=True):
                    go.wait(30)
                    step()
                    self.done_steps += 1
                self.release.wait(30)
        except BaseException as exc:
            self.error = exc
        finally:
            connection.close()


def in_thread(fn: Callable[[], object]) -> tuple[threading.Thread, dict]:
    """Run fn on its own connection; the dict gets its backend "pid", then "result" or
    "error", and "at" (monotonic) when it ended."""
    out: dict = {}

    def run() -> None:
        try:
            out["pid"] = 0
            with connection.cursor() as cur:
                cur.execute("SELECT pg_backend_pid()")
                out["pid"] = cur.fetchone()[0]
            out["result"] = fn()
        except BaseException as exc:
            out["error"] = exc
        finally:
            out["at"] = time.monotonic()
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out
