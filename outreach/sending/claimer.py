"""Which process claimed a send, and whether that process is gone.

A claim names its process: the machine's boot (Linux's boot_id), its pid namespace, the pid
and the process's start time. A reconciler on the same machine and in the same pid namespace
can then tell for certain that the claimer is gone (no such pid, another process under that
pid, or a zombie), and settle its claims at once instead of after SEND_GRACE: a process that
is gone cannot still be about to call the platform (docs/reliability.md, "Claims of a
process that is gone"). Elsewhere (another machine or container, no /proc) nothing is known
and SEND_GRACE decides, as before.
"""

import os
from pathlib import Path

PROC = Path("/proc")

_mine: tuple[int, str] | None = None  # (pid, name): a forked pool process names itself anew


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot, "" if there is no such process or it
    has exited (a zombie, waiting for its parent, is gone for our purpose)."""
    stat = _read(PROC / str(pid) / "stat")
    if not stat:
        return ""
    fields = stat.rsplit(")", 1)[1].split()  # the name in brackets may hold spaces
    if fields[0] in ("Z", "X"):
        return ""
    return fields[19]


def machine() -> str:
    """This machine's boot and pid namespace, the prefix of every claim made here; "" where
    there is no /proc to read them from."""
    boot = _read(PROC / "sys/kernel/random/boot_id")
    try:
        namespace = os.readlink(PROC / "self/ns/pid")  # "pid:[4026531836]"
    except OSError:
        return ""
    if not boot:
        return ""
    return f"{boot}/{namespace.removeprefix('pid:[').removesuffix(']')}/"


def this_process() -> str:
    """The name a claim made by this process carries ("" where it cannot be named)."""
    global _mine
    pid = os.getpid()
    if _mine is None or _mine[0] != pid:
        here, started = machine(), _start_time(pid)
        _mine = (pid, f"{here}{pid}/{started}" if here and started else "")
    return _mine[1]


def gone(claimer: str, here: str) -> bool:
    """True only when `claimer` ran on this machine and pid namespace (`here`, from machine())
    and is certainly not running any more."""
    if not here or not claimer.startswith(here):
        return False
    pid, _, started = claimer.removeprefix(here).partition("/")
    if not pid.isdigit() or not started:
        return False
    return _start_time(int(pid)) != started
