"""Every benchmark in bench/ still runs: each one at its CI size (BENCH_SCALE=ci), in its own
`python -m bench` process as `make bench` runs it, and a benchmark that raises (a seed that
no longer fits the schema, a baseline that no longer writes what ours writes) fails the build.
The figures at this size mean nothing and their targets are not enforced (bench/__main__.py)."""

import os
import pkgutil
import subprocess
import sys

import pytest

import bench
from tests.processes import ROOT

BENCHMARKS = sorted(
    m.name for m in pkgutil.iter_modules(bench.__path__) if m.name.startswith("bench_")
)

pytestmark = [
    pytest.mark.live_worker,
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL", "").startswith("postgres"),
        reason="the benchmarks run on PostgreSQL (bench/db.py)",
    ),
]


def test_every_benchmark_module_is_run_here():
    # A new bench_*.py is picked up by the parametrization below, never left out of CI.
    assert {"bench_dashboards", "bench_import", "bench_ingest"} <= set(BENCHMARKS)


@pytest.mark.parametrize("name", BENCHMARKS)
def test_the_benchmark_runs_at_ci_size_and_reports_a_figure(name):
    env = {k: v for k, v in os.environ.items() if not k.startswith("BENCH_")}
    env["BENCH_SCALE"] = "ci"
    done = subprocess.run(
        [sys.executable, "-m", "bench", name],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    assert "FAILED" not in done.stdout, output[-6000:]
    table = done.stdout.split("Against baselines measured in this run", 1)[-1]
    figures = [line for line in table.splitlines() if line.strip() and line[0].isalpha()]
    assert len(figures) >= 3, output[-6000:]  # two headers and at least one figure
