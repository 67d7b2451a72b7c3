"""Dispatcher: claim and materialize N due enrollments on PostgreSQL (campaigns.dispatch),
versus the same job written by hand in SQL with no ORM (bench/dispatch_ceiling.py) on the
same rows, made due again, in the same run. Both claim, render the step and write the
conversation, queued message, its history event, the step link and the sticky sender, in
batches of 500, one transaction per batch; the run checks that both left the same rows.
BENCH_DISPATCH_ROWS sets N (default 100,000).

A second line times only our statements' round trips and commits during that run: the rate
the same SQL would reach if the Python around it took no time.
"""

import contextlib
import time
from datetime import timedelta

from django.db import connection
from django.utils import timezone

from bench import data
from bench.common import Row, size
from bench.db import bench_database, vacuum_analyze
from bench.dispatch_ceiling import materialize_by_hand
from campaigns.dispatch import enrollments_materialize
from campaigns.models import Enrollment
from outreach.models import Message

BATCH = 500


def make_due() -> None:
    """Every enrollment due again and without a sticky sender, as the data was built."""
    Enrollment.objects.update(
        state=Enrollment.State.ACTIVE,
        next_action_at=timezone.now() - timedelta(minutes=5),
        sender=None,
    )
    vacuum_analyze("campaigns_enrollment")


def rows_written() -> dict[str, int]:
    """What a materializing pass leaves, to check the baseline did the same work as ours."""
    with connection.cursor() as cur:
        cur.execute(
            """SELECT (SELECT count(*) FROM outreach_message WHERE status = 'queued'),
                (SELECT count(*) FROM outreach_messageevent),
                (SELECT count(*) FROM outreach_conversation),
                (SELECT count(*) FROM campaigns_stepsend WHERE template_version_id IS NOT NULL),
                (SELECT count(*) FROM campaigns_enrollment
                 WHERE state = 'waiting' AND sender_id IS NOT NULL)"""
        )
        names = ["messages", "events", "conversations", "step links", "claimed, sticky"]
        return dict(zip(names, cur.fetchone(), strict=True))


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
        commit = connection._commit  # type: ignore[attr-defined]

        def timed():
            started = time.perf_counter()
            try:
                return commit()
            finally:
                self.seconds += time.perf_counter() - started

        connection._commit = timed  # type: ignore[attr-defined]
        try:
            with connection.execute_wrapper(self):
                yield self
        finally:
            del connection._commit  # type: ignore[attr-defined]


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
    # DELETE, not TRUNCATE … CASCADE: a cascading truncate empties every table that may point
    # at a message (enrollments' replied_to among them), even where no row does.
    with connection.cursor() as cur:
        for table in (
            "campaigns_stepsend",
            "outreach_messageevent",
            "outreach_message",
            "outreach_conversation",
        ):
            cur.execute(f"DELETE FROM {table}")


def run():
    n = size("BENCH_DISPATCH_ROWS", 100_000, 200)
    with bench_database():
        started = time.monotonic()
        camp = data.campaign(data.senders(20))
        data.due_enrollments(camp, n)
        vacuum_analyze(
            "contacts_contact", "contacts_identity", "campaigns_enrollment", "outreach_message"
        )
        print(f"  built {n:,} due enrollments in {time.monotonic() - started:.1f} s", flush=True)
        ours, sql_only = materialize_all(n)
        ours_rows = rows_written()
        reset_materialized()
        make_due()
        made, seconds = materialize_by_hand(camp, now=timezone.now(), batch=BATCH)
        assert made == n == Message.objects.count(), (made, n)
        by_hand_rows = rows_written()
        print(f"  rows written, ours: {ours_rows}", flush=True)
        print(f"  rows written, by hand: {by_hand_rows}", flush=True)
        assert ours_rows == by_hand_rows, "the baseline did not write what ours wrote"
    baseline = n / seconds
    label = f"dispatch: materialize {n:,} due"
    yield Row(f"{label} (vs by hand in SQL)", ours, baseline, "r/s", target=0.5)
    # The same statements with Python's share taken out.
    yield Row("  its SQL alone, no Python (vs by hand in SQL)", sql_only, baseline, "r/s")
