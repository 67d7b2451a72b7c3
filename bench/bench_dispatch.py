"""Dispatcher: claim and materialize N due enrollments on PostgreSQL, versus a raw
`UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED LIMIT n)` claim of the same rows.

Ours does the whole job per enrollment (claim, render the step, conversation, queued message,
its history event, the step link); the baseline only flips the state. Both in batches of 500,
one transaction per batch, in the same run. BENCH_DISPATCH_ROWS sets N (default 100,000).

A second line times only our statements' round trips and commits during that run: the rate
the same SQL would reach if the Python around it took no time.

A third line runs the same job written by hand in SQL with no ORM (bench/dispatch_ceiling.py)
on the same rows, made due again: an upper bound for this data model, which writes four rows
per enrollment where the raw claim updates one.
"""

import contextlib
import os
import time
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from bench import data
from bench.common import Row
from bench.db import bench_database, vacuum_analyze
from bench.dispatch_ceiling import materialize_by_hand
from campaigns.dispatch import enrollments_materialize
from campaigns.models import Enrollment
from outreach.models import Message

BATCH = 500
RAW_CLAIM = """
UPDATE campaigns_enrollment SET state = 'waiting', next_action_at = NULL, hold_reason = ''
WHERE id IN (
    SELECT id FROM campaigns_enrollment
    WHERE state = 'active' AND next_action_at <= %s
    ORDER BY next_action_at LIMIT %s
    FOR UPDATE SKIP LOCKED)
RETURNING id, contact_id, campaign_id, current_step
"""


def make_due(n: int) -> None:
    Enrollment.objects.update(
        state=Enrollment.State.ACTIVE, next_action_at=timezone.now() - timedelta(minutes=5)
    )
    vacuum_analyze("campaigns_enrollment")


def raw_claim_all(n: int) -> float:
    now = timezone.now()
    claimed = 0
    started = time.perf_counter()
    while True:
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute(RAW_CLAIM, [now, BATCH])
            rows = cur.fetchall()
        if not rows:
            break
        claimed += len(rows)
    elapsed = time.perf_counter() - started
    assert claimed == n, (claimed, n)
    return n / elapsed


class DatabaseClock:
    """Wall time spent in our statements' round trips and in COMMIT: what materializing
    would cost if its Python took no time at all."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started

    @contextlib.contextmanager
    def counting_commits(self):
        # COMMIT does not pass through execute_wrapper: time the connection's own commit.
        commit = connection._commit

        def timed():
            started = time.perf_counter()
            try:
                return commit()
            finally:
                self.seconds += time.perf_counter() - started

        connection._commit = timed
        try:
            with connection.execute_wrapper(self):
                yield self
        finally:
            del connection._commit


def materialize_all(n: int) -> tuple[float, float]:
    """Rows per second, and the rate our SQL alone (no Python) would reach."""
    now = timezone.now()
    made = 0
    started = time.perf_counter()
    with DatabaseClock().counting_commits() as clock:
        while True:
            created, completed = enrollments_materialize(now=now, batch=BATCH)
            if not created + completed:
                break
            made += created
    elapsed = time.perf_counter() - started
    assert made == n == Message.objects.count(), (made, n)
    return n / elapsed, n / clock.seconds


def reset_materialized() -> None:
    """Forget what materializing made, so the next pass starts where the first one did."""
    with connection.cursor() as cur:
        cur.execute(
            "TRUNCATE campaigns_stepsend, outreach_messageevent, outreach_message,"
            " outreach_conversation CASCADE"
        )


def run():
    n = int(os.environ.get("BENCH_DISPATCH_ROWS", "100000"))
    with bench_database():
        started = time.monotonic()
        camp = data.campaign(data.senders(20))
        data.due_enrollments(camp, n)
        vacuum_analyze(
            "contacts_contact", "contacts_identity", "campaigns_enrollment", "outreach_message"
        )
        print(f"  built {n:,} due enrollments in {time.monotonic() - started:.1f} s", flush=True)
        baseline = raw_claim_all(n)
        make_due(n)
        ours, sql_only = materialize_all(n)
        reset_materialized()
        make_due(n)
        made, seconds = materialize_by_hand(camp, now=timezone.now(), batch=BATCH)
        assert made == n == Message.objects.count(), (made, n)
    yield Row(f"dispatch: materialize {n:,} due (vs raw claim)", ours, baseline, "r/s", target=0.5)
    # The same statements with Python's share taken out.
    yield Row("  its SQL alone, no Python (vs raw claim)", sql_only, baseline, "r/s")
    # Less work than ours, by hand in SQL: what this data model allows at best.
    yield Row("  by hand in SQL, no ORM (vs raw claim)", n / seconds, baseline, "r/s")
