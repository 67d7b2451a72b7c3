"""bench_ingest says where its CPU went (bench/cpu.py): by process, including processes and
PostgreSQL backends that ended before the run did (a Celery pool process reconnects every
CELERY_DB_REUSE_MAX tasks), and not counting the backend that serves the benchmark itself."""

import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection, connections

from bench.cpu import SAMPLE_SECONDS, CpuMeter

pytestmark = pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc (Linux)")

BURN = "import time\nend = time.process_time() + 1.0\nwhile time.process_time() < end: pass"


@pytest.mark.django_db  # on PostgreSQL the meter asks which backend is its own
def test_a_child_that_ends_during_the_run_is_counted_by_what_it_runs():
    with CpuMeter() as meter:
        subprocess.run([sys.executable, "-c", BURN], check=True)
    spent = meter.spent()
    # The child's second, after it exited, less what it spent after the last sample (up to
    # SAMPLE_SECONDS; one more for a sample the busy machine made late). Read only at the
    # run's two ends, it would be 0: the child is gone by the end.
    assert spent["other processes"] >= 1.0 - 2 * SAMPLE_SECONDS
    assert "workers (Celery)" not in spent
    assert meter.report(10).startswith("CPU per event, ms: ")


@pytest.mark.django_db
def test_a_backend_that_closes_during_the_run_counts_and_the_benchmarks_own_does_not():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL backends only")
    work = "SELECT count(*) FROM generate_series(1, 4000000)"  # a few tenths of a second
    with CpuMeter() as own, connection.cursor() as cur:
        cur.execute(work)  # the benchmark's own backend: not the engine's work
    with CpuMeter() as other:
        engine = connections.create_connection("default")
        try:
            with engine.cursor() as cur:
                cur.execute(work)  # another connection's backend, closed before the end
        finally:
            engine.close()
    assert other.spent()["PostgreSQL backends"] >= 0.1
    assert own.spent().get("PostgreSQL backends", 0.0) < 0.05
