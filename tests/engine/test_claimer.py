"""A claim's process is taken as gone only when that is certain (outreach/sending/claimer.py):
settling the claim of a process that still runs could send a message twice."""

import subprocess
import sys
from pathlib import Path

import pytest

from outreach.sending import claimer
from tests.processes import wait_for

pytestmark = pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc (Linux)")

NAME_THEN_WAIT = (
    "import sys\nfrom outreach.sending import claimer\n"
    "print(claimer.this_process(), flush=True)\nsys.stdin.read()"
)


def named_child() -> tuple[subprocess.Popen, str]:
    child = subprocess.Popen(
        [sys.executable, "-c", NAME_THEN_WAIT],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    return child, child.stdout.readline().strip()


def test_a_running_process_is_not_gone_and_one_that_exited_is():
    here = claimer.machine()
    child, name = named_child()
    assert name.startswith(here) and name != claimer.this_process()
    assert not claimer.gone(name, here)
    child.communicate("")  # it exits and is reaped
    assert claimer.gone(name, here)


def test_a_killed_process_not_yet_reaped_is_gone():
    here = claimer.machine()
    child, name = named_child()
    child.kill()
    # Until its parent waits for it, the pid is a zombie's: it runs nothing any more.
    stat = Path("/proc") / name.removeprefix(here).split("/")[0] / "stat"
    wait_for(lambda: stat.read_text().rsplit(")", 1)[1].split()[0] == "Z", 5, 0.01, "a zombie")
    assert claimer.gone(name, here)
    child.wait()


def test_a_process_elsewhere_or_unnamed_is_never_taken_as_gone():
    here = claimer.machine()
    child, name = named_child()
    child.communicate("")
    other_machine = "0" * 36 + name[36:]  # another boot_id: another machine
    assert not claimer.gone(other_machine, here)
    assert not claimer.gone(name, "")  # this process cannot name its machine
    assert not claimer.gone("", here)  # a claim made where the process could not be named


def test_another_process_under_the_same_pid_does_not_keep_the_claim():
    here = claimer.machine()
    mine = claimer.this_process()
    pid = mine.removeprefix(here).split("/")[0]
    assert not claimer.gone(mine, here)
    # The pid runs, but not the process that claimed: that one started at another time.
    assert claimer.gone(f"{here}{pid}/0", here)
