"""Inbound under load: how long a reply waits before it stops its contact's follow-ups while
the engine is busy, against the same on the same engine idle, in the same run.

One engine as production runs it (bench/inbound.py: gunicorn, a dispatcher, and the README's
workers per queue on one machine: `inbound,human` with 2 processes, `send,dispatch` with 1,
`bulk` with 1), two phases:

1. idle: K enrolled contacts (a two-step campaign, nothing due) reply, K signed inbound-email
   webhooks posted over 4 connections, BENCH_LOAD_RATE a second (10; 0: all at once);
2. loaded: an import of N rows is started (a worker task), a campaign of M contacts is launched
   and the dispatcher has queued its M first messages, then K of those contacts reply the
   same way.

Each reply's time runs from webhook receipt (its event stored) to the worker's transaction
that applied it (the enrollment stopped, its follow-up cancelled: the event's processed_at).
The line compares the loaded p99 with the idle p99 (at most 2x), and the loaded p99 with the
fixed 2 s of issue #21. The run checks every replier's enrollment ended "replied" with no
message left queued. BENCH_LOAD_IMPORT_ROWS, BENCH_LOAD_MESSAGES, BENCH_LOAD_REPLIES set N, M
and K (200,000 / 10,000 / 1,000).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

from django.db import connection
from django.utils import timezone

from bench import data
from bench.bench_import import generate
from bench.common import Row, Target, size
from bench.db import bench_database, vacuum_analyze
from bench.inbound import (
    BY_URGENCY,
    engine,
    latencies,
    median_p99,
    post_all,
    reply,
    wait_processed,
)
from campaigns.models import Campaign, Enrollment, Step, Template
from campaigns.services import campaign_launch
from contacts.imports import contact_import_create, contact_import_start
from contacts.models import ContactImport
from outreach.models import InboundEvent, Message
from tests.processes import wait_for

TIMEOUT = float(os.environ.get("BENCH_LOAD_TIMEOUT", "1800"))
# Replies per second, one after another (0: all at once). 10 a second is 36,000 an hour, far
# past any team's inbox, and under what the engine applies at once, so the figure is the
# wait for one reply under load; at 0 it is the time a burst takes to drain.
RATE = float(os.environ.get("BENCH_LOAD_RATE", "10"))
TARGET_P99_S = 2.0
TARGET_RATIO = 2.0


def two_step_campaign(name: str, senders: int, status: str) -> Campaign:
    camp = data.campaign(data.senders(senders), name=name, status=status)
    template = Template.objects.create(
        name=f"{name} follow-up", channel="email", subject="Re: Quick question", body="Any news?"
    )
    Step.objects.create(
        sequence=camp.sequence, position=2, channel="email", template=template, delay=timedelta(1)
    )
    return camp


def replies_from(camp: Campaign, k: int) -> list[bytes]:
    """K replies from the campaign's first contacts, each to the sender that wrote to them
    (the first configured sender when none has yet)."""
    default = camp.senders.order_by("id").first()
    assert default is not None
    enrollments = (
        Enrollment.objects.filter(campaign=camp)
        .order_by("id")
        .select_related("sender")
        .values_list("contact__identities__value", "sender__handle")[:k]
    )
    return [reply(frm, handle or default.handle) for frm, handle in enrollments]


def replied_cleanly(camp: Campaign, k: int) -> None:
    """Every replier stopped, none of their messages left queued: the follow-ups cancelled.

    A replier's first message may have been on its way when the reply came (the loaded
    phase's campaign is sending): a send already claimed is not recalled, so it is waited
    for until it settles (sent, or recorded otherwise), and then nothing may be queued."""
    repliers = Enrollment.objects.filter(campaign=camp).order_by("id")[:k]
    states = list(Enrollment.objects.filter(id__in=repliers).values_list("state", flat=True))
    theirs = Message.objects.filter(step_send__enrollment__in=repliers)
    wait_for(
        lambda: not theirs.filter(status__in=["sending", "unknown"]).exists(),
        60,
        0.1,
        "the repliers' sends in flight to settle",
    )
    queued = theirs.filter(status__in=["queued", "paused"]).count()
    if states.count("replied") != k or queued:
        raise RuntimeError(f"repliers not all stopped: {sorted(set(states))}, {queued} queued")


def phase(
    address: str, camp: Campaign, k: int, busy: Callable[[], str] = lambda: ""
) -> list[float]:
    """Post K replies; their latencies. busy: what else was running, said once the last reply
    is posted."""
    before = list(InboundEvent.objects.values_list("id", flat=True))
    started = time.perf_counter()
    post_all(address, replies_from(camp, k), rate=RATE)
    print(f"    {k:,} posted in {time.perf_counter() - started:.1f} s{busy()}", flush=True)
    wait_processed(len(before) + k, TIMEOUT)
    print(f"    {k:,} replies applied in {time.perf_counter() - started:.1f} s", flush=True)
    replied_cleanly(camp, k)
    ids = list(InboundEvent.objects.exclude(id__in=before).values_list("id", flat=True))
    return latencies(ids)


def run() -> Iterator[Row | Target]:
    n = size("BENCH_LOAD_IMPORT_ROWS", 200_000, 2_000)
    m = size("BENCH_LOAD_MESSAGES", 10_000, 100)
    k = min(size("BENCH_LOAD_REPLIES", 1_000, 20), m)
    with tempfile.TemporaryDirectory() as tmp, bench_database() as url:
        idle_camp = two_step_campaign("Idle", 1, Campaign.Status.RUNNING)
        data.due_enrollments(idle_camp, k, due_in=timedelta(days=1))
        busy_camp = two_step_campaign("Busy", 20, Campaign.Status.DRAFT)
        data.due_enrollments(busy_camp, m, first=k)
        vacuum_analyze("contacts_contact", "contacts_identity", "campaigns_enrollment")
        path = Path(tmp) / "leads.csv"
        generate(path, n)
        with engine(url, workers=BY_URGENCY, dispatcher=True) as address:
            print("  idle engine:", flush=True)
            idle = phase(address, idle_camp, k)
            print(f"  loaded engine: import of {n:,} rows, {m:,} messages:", flush=True)
            with open(path, "rb") as f:
                imp = contact_import_create(
                    name=path.name, chunks=iter(lambda: f.read(1 << 20), b""), default_country="DE"
                )
            contact_import_start(contact_import=imp, mapping=imp.mapping)
            campaign_launch(campaign=busy_camp)
            queued = Message.objects.filter(step_send__enrollment__campaign=busy_camp)
            wait_for(lambda: queued.count() >= m, TIMEOUT, 0.2, f"{m:,} messages queued")
            import_state = ContactImport.objects.values_list("status", "records_done")
            print(f"    import when replies start: {tuple(import_state.get(pk=imp.pk))}")
            connection.close()

            def busy() -> str:
                status, done = import_state.get(pk=imp.pk)
                sent = queued.filter(status="sent").count()
                return f"; import {status} ({done:,} rows), {sent:,}/{m:,} sent"

            posting = timezone.now()
            loaded = phase(address, busy_camp, k, busy)
            print(f"    after:{busy()[1:]}", flush=True)
            # The import may end before the last reply comes: say what the replies received
            # while it still ran waited.
            ended = ContactImport.objects.values_list("finished_at", flat=True).get(pk=imp.pk)
            during = InboundEvent.objects.filter(received_at__gte=posting)
            if ended is not None:
                during = during.filter(received_at__lt=ended)
            waits = latencies(list(during.values_list("id", flat=True)))
            if waits:
                print(
                    f"    {len(waits):,} replies received while the import ran:"
                    " median {:.2f} s, p99 {:.2f} s".format(*median_p99(waits)),
                    flush=True,
                )
    idle_median, idle_p99 = median_p99(idle)
    median, p99 = median_p99(loaded)
    print(f"  idle: median {idle_median:.2f} s, p99 {idle_p99:.2f} s", flush=True)
    print(f"  loaded: median {median:.2f} s, p99 {p99:.2f} s", flush=True)
    arriving = f"{RATE:g}/s" if RATE else "at once"
    label = f"reply→stop p99, {k:,} replies {arriving} under load (vs idle)"
    yield Row(label, p99, idle_p99, "s", TARGET_RATIO, better="lower")
    yield Row("  median under load (vs idle)", median, idle_median, "s")
    yield Target(
        f"reply→stop p99, replies {arriving} under load ({n:,} import, {m:,} sends)",
        p99,
        TARGET_P99_S,
        "s",
        "lower",
    )
