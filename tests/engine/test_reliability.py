"""The sequence engine keeps its promises under crashes, broker loss and contention.

Real processes throughout: Celery workers and dispatchers run as separate OS processes
against the test database and send over HTTP to the fake platform. On SQLite (the embedded
default) the same tests run scaled down.
"""

import random
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone

from campaigns.dispatch import enrollments_materialize
from campaigns.models import Enrollment
from campaigns.services import campaign_launch, enrollments_create
from outreach.models import InboundEvent, Message, SenderAccount
from outreach.tasks import send_message
from tests import factories
from tests.channels.helpers import deliver, email_reply, receiving
from tests.engine.harness import (
    Engine,
    Scenario,
    assert_delivered_exactly_once,
    assert_limits_held,
    build_campaign,
    sent_count,
    stuck_state,
    wait_all_sent,
)
from tests.processes import RedisServer, wait_for

pytestmark = [pytest.mark.live_worker, pytest.mark.chaos, pytest.mark.django_db(transaction=True)]
SQLITE = settings.DATABASES["default"]["ENGINE"].endswith("sqlite3")


def scaled(full: Scenario) -> Scenario:
    if not SQLITE:
        return full
    full.senders = max(full.senders // 4, 2)
    full.contacts_per_sender = max(full.contacts_per_sender // 2, 5)
    full.cap = full.contacts_per_sender * full.steps
    return full


@pytest.fixture
def engine_factory(log_dir, clean_broker):
    engines: list[Engine] = []

    def start(**kwargs) -> Engine:
        engine = Engine.start(log_dir, **kwargs)
        engines.append(engine)
        return engine

    yield start
    for engine in engines:
        engine.stop()


def test_twenty_worker_kills_lose_nothing_and_send_nothing_twice(engine_factory):
    s = scaled(Scenario())
    campaign, _ = build_campaign(s)
    engine = engine_factory(workers=3, dispatchers=1 if SQLITE else 2)
    campaign_launch(campaign=campaign)
    rng = random.Random(20261128)
    kills = 20 if not SQLITE else 8
    for _ in range(kills):
        time.sleep(rng.uniform(0.8, 2.0))
        engine.kill_random(rng)
    wait_all_sent(s.messages, 300, engine)
    assert len(engine.kills) == kills
    assert_delivered_exactly_once(engine.platform, s.messages)
    assert_limits_held(engine.platform, s.cap, s.gap[0])
    assert Enrollment.objects.exclude(state=Enrollment.State.COMPLETED).count() == 0


def test_crash_after_claim_resends_once_and_crash_after_accept_never_resends(
    engine_factory, tmp_path
):
    crash_dir = tmp_path / "crashes"
    crash_dir.mkdir()
    # Enough messages that ids ending in 3 and in 7 give at least 20 crashes of each kind
    # (8 on SQLite, where the suite runs scaled down). Contact i goes to sender i % senders
    # and its messages' ids follow, so the number of senders shares no factor with 10: with
    # 10, every message of two senders would crash, one after another, while the rest idle.
    s = (
        Scenario(senders=11, contacts_per_sender=10, cap=20)
        if not SQLITE
        else Scenario(senders=7, contacts_per_sender=6, cap=20)
    )
    campaign, _ = build_campaign(s)
    engine = engine_factory(
        workers=2,
        dispatchers=1,
        CHANNEL_BACKEND="tests.engine.crashing_channel.CrashingChannel",
        CRASH_DIR=str(crash_dir),
        CRASH_AFTER_CLAIM_MOD="3",
        CRASH_AFTER_ACCEPT_MOD="7",
    )
    campaign_launch(campaign=campaign)
    wait_all_sent(s.messages, 300, engine)

    def crashed(kind: str) -> dict[int, int]:
        """Message id -> the attempt that crashed."""
        names = [p.name.split("-") for p in crash_dir.glob(f"{kind}-*")]
        return {int(mid): int(attempt) for _, mid, attempt in names}

    after_claim, after_accept = crashed("after_claim"), crashed("after_accept")
    assert len(after_claim) >= (20 if not SQLITE else 8)
    assert len(after_accept) >= (20 if not SQLITE else 8)
    posts = engine.platform.state.posts_per_key
    for message in Message.objects.filter(id__in=after_claim):
        # The attempt died before the request left: sent by a later one, exactly once (a
        # batch-mate's crash may strand that later attempt too).
        assert message.status == "sent"
        assert message.attempts > after_claim[message.id]
        assert posts[str(message.idempotency_key)] == 1
    for message in Message.objects.filter(id__in=after_accept):
        # The platform had it: the reconciler found it, no second request.
        assert (message.status, message.attempts) == ("sent", after_accept[message.id])
        assert posts[str(message.idempotency_key)] == 1
    assert_delivered_exactly_once(engine.platform, s.messages)
    # Crashed attempts gave their daily-cap units back: every sender sent all of its share.
    assert set(SenderAccount.objects.values_list("sent_today", flat=True)) == {
        s.contacts_per_sender * s.steps
    }


def test_redis_restart_without_saving_mid_campaign_loses_nothing(engine_factory, tmp_path):
    broker = RedisServer(tmp_path / "redis").start()
    try:
        s = scaled(Scenario(senders=10, contacts_per_sender=10, cap=20))
        campaign, _ = build_campaign(s)
        engine = engine_factory(workers=2, dispatchers=1, CELERY_BROKER_URL=broker.url)
        campaign_launch(campaign=campaign)
        wait_for(lambda: sent_count() >= s.messages // 3, 120, message="a third sent")
        broker.stop()
        time.sleep(2)
        sent_while_down = sent_count()
        broker.start()
        # kombu's Redis transport sometimes exits a worker on the lost connection
        # ("Unrecoverable error: 'NoneType' object has no attribute 'hostname'", the class
        # of celery/kombu#582) instead of reconnecting. Production runs workers under a
        # supervisor that restarts them (deploy/systemd/), so this test does the same, for as
        # long as it waits: a worker consuming several queues may hit it on a later reconnect.
        wait_all_sent(s.messages, 240, engine, supervised=True)
        assert sent_while_down < s.messages
        assert_delivered_exactly_once(engine.platform, s.messages)
        assert_limits_held(engine.platform, s.cap, s.gap[0])
    finally:
        broker.stop()


def test_sixteen_workers_on_one_sender_send_exactly_the_daily_cap(engine_factory):
    cap, min_gap = 8, 0.2
    now = datetime.now(UTC)
    # A two-hour window around the current UTC time: open for contacts in UTC, closed for
    # contacts in Asia/Kolkata (UTC+05:30), whatever the workers do.
    sender = factories.sender(
        "Solo",
        cap=cap,
        gap=(min_gap, 0.3),
        window_days="0123456",
        window_start=(now - timedelta(hours=1)).time().replace(second=0, microsecond=0),
        window_end=(now + timedelta(hours=1)).time().replace(second=0, microsecond=0),
        time_zone=factories.zone_at_midday(),  # the cap's day does not end mid-test
    )
    campaign = factories.campaign(senders=[sender], steps=(("email", 0),), name="Contention")
    open_now = [factories.contact(i, tz="UTC") for i in range(20)]
    closed = [factories.contact(100 + i, tz="Asia/Kolkata") for i in range(5)]
    enrollments_create(campaign=campaign, contacts=open_now + closed)
    engine = engine_factory(workers=4 if not SQLITE else 2, concurrency=4, dispatchers=0)
    campaign_launch(campaign=campaign)
    enrollments_materialize(now=timezone.now())
    ids = list(Message.objects.values_list("id", flat=True))
    # Every worker process gets send tasks for every queued message, over and over: far more
    # contention than the dispatcher's one offer per free sender would ever create.
    # Until the cap is used up, however slow the machine, and then 3 s more of the same.
    deadline, capped_at = time.monotonic() + 120, None
    while time.monotonic() < deadline:
        for mid in ids:
            send_message.delay(mid)
        time.sleep(0.1)
        if capped_at is None and sent_count() >= cap:
            capped_at = time.monotonic()
        if capped_at is not None and time.monotonic() - capped_at > 3:
            break
    wait_for(lambda: not Message.objects.filter(status="sending").exists(), 30, 0.1, "in flight")
    time.sleep(1)

    assert sent_count() == cap
    assert len(engine.platform.state.deliveries) == cap
    assert_limits_held(engine.platform, cap, min_gap)
    sender.refresh_from_db()
    assert sender.sent_today == cap
    held = Message.objects.filter(status="queued", conversation__identity__contact__in=open_now)
    assert {m.hold_reason for m in held} == {f"sender daily cap reached ({cap}/{cap})"}
    closed_msgs = Message.objects.filter(conversation__identity__contact__in=closed)
    assert set(closed_msgs.values_list("status", flat=True)) == {"queued"}
    assert all(
        m.hold_reason.startswith("sending window opens") and "Asia/Kolkata" in m.hold_reason
        for m in closed_msgs
    )


def test_replies_during_sending_stop_follow_ups_before_they_are_claimed(engine_factory):
    """Replies arrive as signed inbound-email webhooks while the dispatchers send their
    batches; the real workers process them. No follow-up is claimed after the reply that
    stops it is applied."""
    s = scaled(
        Scenario(senders=10, contacts_per_sender=20, cap=40, gap=(0.05, 0.15), follow_up_delay=1.5)
    )
    campaign, _ = build_campaign(s)
    engine = engine_factory(workers=2, dispatchers=1 if SQLITE else 2)
    enrollments = list(
        Enrollment.objects.filter(campaign=campaign).select_related("sender", "contact")
    )
    rng = random.Random(7)
    repliers = rng.sample(enrollments, k=int(len(enrollments) * 0.3))
    statuses: list[int] = []
    campaign_launch(campaign=campaign)

    def reply_worker() -> None:
        client = Client()
        for e in repliers:
            time.sleep(rng.uniform(0.0, 0.05))
            mail = email_reply(
                frm=e.contact.identities.get().value, to=e.sender.handle, text="Thanks, call me"
            )
            statuses.append(deliver(client, "email", mail))
        connection.close()

    with receiving("email"):  # this process's endpoint checks the inbound-email secret
        thread = threading.Thread(target=reply_worker)
        thread.start()
        thread.join(timeout=120)
    assert statuses == [200] * len(repliers)
    try:
        wait_for(
            lambda: (
                InboundEvent.objects.filter(processed_at__isnull=False).count() == len(repliers)
            ),
            240,
            interval=0.5,
            message="the workers to process every stored reply",
        )
    except AssertionError:
        waiting = InboundEvent.objects.filter(processed_at=None)
        states = list(waiting.values_list("id", "attempts", "error", "quarantined_at")[:5])
        raise AssertionError(f"{waiting.count()} replies not applied: {states}") from None
    events = list(InboundEvent.objects.all())
    # When each reply was applied: the worker's transaction that stopped the sequence.
    applied = {ev.payload["from_handle"]: ev.processed_at for ev in events}
    waits = sorted((ev.processed_at - ev.received_at).total_seconds() for ev in events)
    print(f"replies applied {waits[len(waits) // 2]:.2f} s (median), {waits[-1]:.2f} s (max)")
    expected_stop = {e.id for e in repliers}
    try:
        wait_for(
            lambda: not Message.objects.filter(status__in=["queued", "sending"]).exists(),
            240,
            interval=0.5,
            message="the queue to drain",
        )
    except AssertionError:
        stuck = Message.objects.filter(status__in=["queued", "sending"])
        fields = ("id", "status", "hold_reason", "not_before", "enqueued_at", "claimed_at")
        rows = list(stuck.values_list(*fields, "step_send__enrollment__state")[:5])
        raise AssertionError(
            f"{stuck.count()} messages never left the queue: {rows}\n{stuck_state()}\n"
            f"{engine.logs()}"
        ) from None
    late = []
    for e in repliers:
        reply_at = applied[e.contact.identities.get().value]
        for m in Message.objects.filter(step_send__enrollment_id=e.id, claimed_at__isnull=False):
            if m.claimed_at > reply_at:
                late.append((e.id, m.id))
    assert late == [], f"messages claimed after the contact's reply was applied: {late}"
    states = dict(Enrollment.objects.filter(id__in=expected_stop).values_list("id", "state"))
    bad = [i for i, st in states.items() if st != "replied"]
    detail = [
        (
            e.id,
            e.state,
            e.current_step,
            e.hold_reason,
            e.replied_at,
            list(
                Message.objects.filter(conversation__identity__contact_id=e.contact_id).values_list(
                    "direction", "status", "sent_at", "claimed_at"
                )
            ),
        )
        for e in Enrollment.objects.filter(id__in=bad[:3])
    ]
    assert bad == [], detail
    assert Enrollment.objects.filter(state="replied").count() == len(expected_stop)
    assert Message.objects.filter(direction="in").count() == len(repliers)
    assert_delivered_exactly_once(engine.platform, sent_count())
