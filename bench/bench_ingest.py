"""Inbound ingest: N replies from enrolled contacts, posted as signed inbound-email webhooks over
HTTP to gunicorn (4 connections at once), stored, queued and processed by 2 Celery workers
(the contact's sequence stopped, the reply stored in its thread, its intent labelled), per
second from the first POST to the last event processed; versus the same rows written by
plain INSERTs in the same run.

The baseline's rows are ours: every row our run added, in every table that grew (read back by
id), is deleted and inserted again with one INSERT per row and one transaction per reply (a
webhook's commit pattern), over one connection. So the baseline writes exactly what we wrote
and does none of the work around it: HTTP, parsing the mail, the signature, the broker, the
lookups that decide what to write. BENCH_INGEST_EVENTS sets N (default 5,000).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

from django.db import connection, transaction

from bench import data
from bench.common import BaselineMissing, Row, size
from bench.cpu import CpuMeter
from bench.db import bench_database, vacuum_analyze
from bench.inbound import engine, post_all, reply, wait_processed

TIMEOUT = float(os.environ.get("BENCH_INGEST_TIMEOUT", "1800"))
TARGET = 0.3


def run() -> Iterator[Row]:
    n = size("BENCH_INGEST_EVENTS", 5_000, 50)
    with bench_database() as url:
        sender = data.senders(1)[0]
        camp = data.campaign([sender])
        data.due_enrollments(camp, n)
        vacuum_analyze("contacts_contact", "contacts_identity", "campaigns_enrollment")
        bodies = [reply(f"lead{i}@bench.example.com", sender.handle) for i in range(n)]
        before = max_ids()
        with engine(url) as address, CpuMeter() as meter:
            started = time.perf_counter()
            post_all(address, bodies)
            posted = time.perf_counter() - started
            wait_processed(n, TIMEOUT)
            ours = time.perf_counter() - started
        print(f"  {n:,} posted in {posted:.1f} s, all processed at {ours:.1f} s", flush=True)
        print(f"  {meter.report(n)}", flush=True)
        written = rows_added(before)
        counts = {table: len(rows) for table, (_, rows) in written.items()}
        print(f"  rows ours added: {counts}", flush=True)
        baseline = raw_inserts(written, n)
    yield Row(
        f"ingest {n:,} signed webhooks (vs raw INSERTs)", n / ours, n / baseline, "e/s", TARGET
    )


def _tables_with_id() -> list[str]:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT table_name FROM information_schema.columns WHERE table_schema = 'public'"
            " AND column_name = 'id' AND table_name NOT LIKE 'django_%%'"
            " AND table_name NOT LIKE 'celery_%%' ORDER BY table_name"
        )
        return [row[0] for row in cur.fetchall()]


def max_ids() -> dict[str, int]:
    out = {}
    with connection.cursor() as cur:
        for table in _tables_with_id():
            cur.execute(f'SELECT coalesce(max(id), 0) FROM "{table}"')
            out[table] = cur.fetchone()[0]
    return out


def rows_added(before: dict[str, int]) -> dict[str, tuple[list[str], list[tuple]]]:
    """Every table that grew: its columns and the rows added, by id."""
    added = {}
    with connection.cursor() as cur:
        for table, last in before.items():
            cur.execute(f'SELECT * FROM "{table}" WHERE id > %s ORDER BY id', [last])
            rows = cur.fetchall()
            if rows:
                added[table] = ([c.name for c in cur.description], rows)
    if not added:
        raise BaselineMissing("ingest: our run added no rows, so there is nothing to compare")
    return added


def _adapt(value):
    from psycopg.types.json import Jsonb

    return Jsonb(value) if isinstance(value, dict | list) else value


def raw_inserts(written: dict[str, tuple[list[str], list[tuple]]], n: int) -> float:
    """Delete what ours added, then insert the same rows again in n transactions: reply k's
    holds the k-th slice of every table's rows (by id), moved later when a row refers to a
    row of a later slice (foreign keys are checked at commit). Seconds for the inserts; the
    row counts are checked after."""
    with transaction.atomic(), connection.cursor() as cur:
        for table, (_, rows) in written.items():
            cur.execute(f'DELETE FROM "{table}" WHERE id >= %s', [rows[0][0]])
    statements = {table: _insert(table, columns) for table, (columns, _) in written.items()}
    groups = _transactions(written, n)
    print(f"  raw INSERTs: {len(groups):,} transactions", flush=True)
    started = time.perf_counter()
    with connection.cursor() as cur:
        for group in groups:
            with transaction.atomic():
                for table, row in group:
                    cur.execute(statements[table], [_adapt(v) for v in row])
    seconds = time.perf_counter() - started
    again = rows_added({table: rows[0][0] - 1 for table, (_, rows) in written.items()})
    counts = {t: len(r) for t, (_, r) in written.items()}
    if {t: len(r) for t, (_, r) in again.items()} != counts:
        raise BaselineMissing("ingest: the raw INSERTs did not write what ours wrote")
    return seconds


def _foreign_keys() -> list[tuple[str, str, str]]:
    """(table, column, referenced table) of every single-column foreign key."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT c.conrelid::regclass::text, a.attname, c.confrelid::regclass::text"
            " FROM pg_constraint c JOIN pg_attribute a"
            " ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]"
            " WHERE c.contype = 'f' AND array_length(c.conkey, 1) = 1"
        )
        return [(t.strip('"'), col, ref.strip('"')) for t, col, ref in cur.fetchall()]


def _transactions(
    written: dict[str, tuple[list[str], list[tuple]]], n: int
) -> list[list[tuple[str, tuple]]]:
    slot: dict[str, dict[int, int]] = {
        table: {row[0]: len(rows) and i * n // len(rows) for i, row in enumerate(rows)}
        for table, (_, rows) in written.items()
    }
    links = [
        (table, written[table][0].index(column), ref)
        for table, column, ref in _foreign_keys()
        if table in written and ref in written
    ]
    for _ in range(len(written) + 1):  # a reference chain is at most that long
        moved = False
        for table, position, ref in links:
            for row in written[table][1]:
                target = slot[ref].get(row[position])
                if target is not None and target > slot[table][row[0]]:
                    slot[table][row[0]] = target
                    moved = True
        if not moved:
            break
    groups: dict[int, list[tuple[str, tuple]]] = {}
    for table, (_, rows) in written.items():
        for row in rows:
            groups.setdefault(slot[table][row[0]], []).append((table, row))
    return [groups[k] for k in sorted(groups)]


def _insert(table: str, columns: list[str]) -> str:
    names = ", ".join(f'"{c}"' for c in columns)
    return f'INSERT INTO "{table}" ({names}) VALUES ({", ".join(["%s"] * len(columns))})'
