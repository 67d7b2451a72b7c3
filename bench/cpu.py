"""Where a benchmark's CPU went: the CPU time of every process this one started (gunicorn,
Celery workers and their pool processes), of the PostgreSQL backends serving its database
and of this process, read from /proc (Linux only; elsewhere nothing is reported).

On two shared cores a run is CPU-bound as soon as both are busy, so a ratio alone does not
say which part to make cheaper; CPU per event by process does (docs/scaling.md, Ingest).

Sampled every SAMPLE_SECONDS while the run goes, not only at its ends: a Celery pool process
reconnects to PostgreSQL every `CELERY_DB_REUSE_MAX` tasks, and the backend it leaves, with
the CPU of its SQL, is gone by the end. Processes are keyed by pid: a backend's command line
changes with its state ("idle", "INSERT"), so a key that includes it counts one backend
several times. A process that ends between two samples takes what it spent since the last
one with it: at most SAMPLE_SECONDS of CPU each (a pool process's backend, busy a fifth of
the time, loses up to 0.04 s of CPU at each reconnect, every 100 events: under 0.4 ms an
event in bench_ingest)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from types import TracebackType

from django.db import connection

PROC = Path("/proc")
SAMPLE_SECONDS = 0.2
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds so far) of a process, None once it is gone."""
    try:
        fields = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICKS
    except (OSError, IndexError, ValueError):  # gone, or not a process's stat line
        return None


def _command(pid: int) -> str:
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace")


def _group(command: str) -> str:
    if "gunicorn" in command:
        return "web (gunicorn)"
    if "celery" in command:
        return "workers (Celery)"
    return "other processes"


class CpuMeter:
    """`with CpuMeter() as meter: ...`, then `meter.report(events)`.

    Counts, from entry to exit: this process; every process under it, by what the child of
    this process it descends from runs; the PostgreSQL backends on this database (children
    of the server's main process whose command line names the database), except the one
    serving this process. A database server on another machine is not seen."""

    def __init__(self) -> None:
        self.root = os.getpid()
        self.database: str | None = None  # PostgreSQL's name for it, read on entry
        self.groups: dict[int, str] = {}  # pid -> group, as first seen
        self.start: dict[int, float] = {}  # pid -> CPU when first seen (0 if born during)
        self.last: dict[int, float] = {}  # pid -> CPU when last seen
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._own_backend: int | None = None
        self._postmaster: int | None = None  # the backends' parent, when on this machine

    def __enter__(self) -> CpuMeter:
        if PROC.is_dir():
            if connection.vendor == "postgresql":
                with connection.cursor() as cur:
                    cur.execute("SELECT current_database(), pg_backend_pid()")
                    self.database, self._own_backend = cur.fetchone()
                if (own := _stat(self._own_backend)) is not None:
                    self._postmaster = own[0]
            self._sample(first=True)
            self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._thread.is_alive():
            self._stop.set()
            self._thread.join()
            self._sample()

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            self._sample()

    def _sample(self, first: bool = False) -> None:
        parents: dict[int, int] = {}
        cpu: dict[int, float] = {}
        for entry in PROC.iterdir():
            if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
                parents[int(entry.name)], cpu[int(entry.name)] = stat
        for pid, seconds in cpu.items():
            group = self.groups.get(pid) or self._group_of(pid, parents)
            if group is None:
                continue
            if pid not in self.groups:
                self.groups[pid] = group
                self.start[pid] = seconds if first else 0.0
            self.last[pid] = seconds

    def _group_of(self, pid: int, parents: dict[int, int]) -> str | None:
        if pid == self.root:
            return "this benchmark (posting, waiting)"
        at = pid
        for _ in range(64):  # deeper than any process tree a benchmark starts
            parent = parents.get(at)
            if parent == self.root:
                return _group(_command(at))
            if parent is None or parent <= 1:
                break
            at = parent
        if parents.get(pid) == self._postmaster and pid != self._own_backend:
            command = _command(pid)
            if command.startswith("postgres: ") and f" {self.database} " in command:
                return "PostgreSQL backends"
        return None

    def spent(self) -> dict[str, float]:
        """CPU seconds by group, largest first."""
        by_group: dict[str, float] = {}
        for pid, group in self.groups.items():
            by_group[group] = by_group.get(group, 0.0) + self.last[pid] - self.start[pid]
        return dict(sorted(by_group.items(), key=lambda item: -item[1]))

    def report(self, events: int) -> str:
        """One line: CPU milliseconds per event by group, and in all."""
        groups = self.spent()
        if not groups or events <= 0:
            return "CPU per event: not measured (no /proc here)"
        parts = [f"{group} {1000 * s / events:.1f}" for group, s in groups.items()]
        total = 1000 * sum(groups.values()) / events
        return f"CPU per event, ms: {', '.join(parts)}; in all {total:.1f}"
