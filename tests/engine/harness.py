"""A campaign run by real processes: dispatchers and Celery workers against the test
database, sending to the fake platform over HTTP. Used by the reliability tests."""

import random
import subprocess
import time
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

from django.db import connection
from django.utils import timezone

from campaigns.dispatch import enrollments_materialize
from campaigns.models import Enrollment
from campaigns.services import campaign_launch, enrollments_create
from contacts.models import Contact, Identity
from fakeplatform.server import FakePlatformServer
from outreach.models import Message, SenderAccount
from outreach.sending.deliver import message_send
from outreach.sending.offer import messages_offer
from tests import factories
from tests.processes import (
    Proc,
    celery_worker,
    child_env,
    dispatcher,
    free_port,
    stop_all,
    wait_for,
)


@dataclass
class Scenario:
    senders: int = 20
    contacts_per_sender: int = 25
    steps: int = 2
    cap: int = 50
    gap: tuple[float, float] = (0.2, 0.6)
    follow_up_delay: float = 1.0
    tz: str = "Europe/Berlin"

    @property
    def messages(self) -> int:
        return self.senders * self.contacts_per_sender * self.steps


def build_campaign(s: Scenario):
    # Senders' days end far from now: a run across their midnight would reset the caps.
    zone = factories.zone_at_midday()
    senders = [
        factories.sender(f"S{i:02d}", cap=s.cap, gap=s.gap, time_zone=zone)
        for i in range(s.senders)
    ]
    steps = tuple(("email", 0 if i == 0 else s.follow_up_delay) for i in range(s.steps))
    campaign = factories.campaign(senders=senders, steps=steps, name="Chaos")
    contacts = Contact.objects.bulk_create(
        [
            Contact(first_name=f"C{i}", time_zone=s.tz)
            for i in range(s.senders * s.contacts_per_sender)
        ]
    )
    Identity.objects.bulk_create(
        [Identity(contact=c, channel="email", value=f"c{c.id}@example.com") for c in contacts]
    )
    enrollments_create(campaign=campaign, contacts=contacts)
    # Pin each contact to a sender so every sender carries exactly contacts_per_sender.
    for i, e in enumerate(Enrollment.objects.filter(campaign=campaign).order_by("id")):
        e.sender = senders[i % s.senders]
        e.save(update_fields=["sender"])
    return campaign, senders


@dataclass
class Engine:
    """Real processes around one fake platform."""

    log_dir: Path
    env: dict[str, str]
    platform: FakePlatformServer
    workers: list[Proc] = field(default_factory=list)
    dispatchers: list[Proc] = field(default_factory=list)
    kills: list[str] = field(default_factory=list)
    _n: int = 0

    @classmethod
    def start(
        cls,
        log_dir: Path,
        *,
        workers: int = 3,
        dispatchers: int = 2,
        concurrency: int = 2,
        **env: str,
    ) -> "Engine":
        platform = FakePlatformServer().start()
        base = {
            "CHANNEL_BACKEND": "outreach.channels.fakeplatform.FakePlatformChannel",
            "FAKE_PLATFORM_URL": platform.url,
            "REQUEUE_AFTER": "3",
            "SEND_GRACE": "8",
            "DATABASE_CONN_MAX_AGE": "0",
        }
        engine = cls(log_dir=log_dir, env=child_env(**{**base, **env}), platform=platform)
        engine.concurrency = concurrency  # type: ignore[attr-defined]
        try:
            for _ in range(workers):
                engine.add_worker()
            for i in range(dispatchers):
                engine.dispatchers.append(dispatcher(f"dispatcher{i}", engine.env, log_dir))
        except BaseException:
            engine.stop()  # what did start must not outlive a failed start
            raise
        return engine

    def add_worker(self) -> Proc:
        self._n += 1
        proc = celery_worker(f"w{self._n}", self.env, self.log_dir, concurrency=self.concurrency)  # type: ignore[attr-defined]
        self.workers.append(proc)
        return proc

    def kill_random(self, rng: random.Random) -> None:
        """SIGKILL a whole worker (then start a new one) or one of its pool processes."""
        alive = [w for w in self.workers if w.alive()]
        victim = rng.choice(alive)
        children = victim.children()
        if children and rng.random() < 0.4:
            pid = rng.choice(children)
            subprocess.run(["kill", "-9", str(pid)], check=False)
            self.kills.append(f"child {pid} of {victim.name}")
        else:
            victim.kill()
            self.kills.append(f"worker {victim.name}")
            self._replace(victim)

    def restart_dead_workers(self) -> list[str]:
        """What a process supervisor (systemd's Restart=always) does in production: start a
        new worker for each one that exited. Returns the names of those that had died."""
        dead = [w for w in self.workers if not w.alive()]
        for proc in dead:
            self._replace(proc)
        return [p.name for p in dead]

    def _replace(self, worker) -> None:
        self.workers.remove(worker)
        self.add_worker()

    def stop(self) -> None:
        stop_all(self.dispatchers + self.workers)
        self.platform.stop()

    def logs(self) -> str:
        return "\n".join(
            f"==== {p.name} ({'running' if p.alive() else 'exited'})\n{p.log()[-4000:]}"
            for p in self.dispatchers + self.workers
        )


def sent_count() -> int:
    return Message.objects.filter(status=Message.Status.SENT).count()


def wait_all_sent(expected: int, timeout: float, engine: Engine, supervised: bool = False) -> None:
    """supervised: restart any worker that exits while we wait, as systemd's Restart=always
    does in production (deploy/systemd/), for tests whose fault may end a worker late."""

    def done() -> bool:
        if supervised:
            engine.restart_dead_workers()
        return sent_count() >= expected

    try:
        wait_for(
            done,
            timeout,
            interval=0.5,
            message=f"{expected} messages sent",
        )
    except AssertionError:
        states = defaultdict(int)
        for status in Message.objects.values_list("status", flat=True):
            states[status] += 1
        raise AssertionError(
            f"only {dict(states)} after {timeout}s\n{stuck_state()}\n{engine.logs()}"
        ) from None


def stuck_state() -> str:
    """What a run that stopped moving left behind: its unsent messages, the senders, and on
    PostgreSQL every session's state (a lock held by an idle transaction shows there)."""
    fields = ("id", "status", "attempts", "send_started", "claimed_at", "enqueued_at")
    fields += ("not_before", "hold_reason", "sender_id")
    lines = ["==== unsent messages"]
    lines += [str(row) for row in Message.objects.exclude(status="sent").values_list(*fields)]
    lines.append("==== senders")
    lines += [
        str(row)
        for row in SenderAccount.objects.values_list(
            "id", "paused", "inflight_message_id", "next_send_at", "backoff_until", "sent_today"
        )
    ]
    if connection.vendor == "postgresql":
        lines.append("==== sessions")
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid, state, now() - xact_start, wait_event_type, wait_event,"
                " left(query, 120) FROM pg_stat_activity WHERE datname = current_database()"
            )
            lines += [str(row) for row in cursor.fetchall()]
    return "\n".join(lines)


def assert_delivered_exactly_once(platform: FakePlatformServer, expected: int) -> None:
    state = platform.state
    posted_twice = {k: n for k, n in state.posts_per_key.items() if n > 1}
    assert posted_twice == {}, f"idempotency keys POSTed more than once: {posted_twice}"
    delivered = {d.idempotency_key for d in state.deliveries}
    sent = {
        str(k)
        for k in Message.objects.filter(status="sent").values_list("idempotency_key", flat=True)
    }
    never_arrived = [
        (m.id, m.provider_message_id, [(e.status, e.detail) for e in m.events.all()])
        for m in Message.objects.filter(status="sent", idempotency_key__in=sent - delivered)
    ]
    assert (len(state.deliveries), delivered) == (expected, sent), (
        f"{len(state.deliveries)} deliveries for {expected} messages; marked sent but never "
        f"arrived: {never_arrived}; arrived but not marked sent: {delivered - sent}"
    )


def assert_limits_held(platform: FakePlatformServer, cap: int, min_gap: float) -> None:
    by_sender = defaultdict(list)
    for d in platform.state.deliveries:
        by_sender[d.sender].append(d)
    for handle, deliveries in by_sender.items():
        assert len(deliveries) <= cap, f"{handle} sent {len(deliveries)} > cap {cap}"
        deliveries.sort(key=lambda d: d.received_at)
        gaps = [b.received_at - a.finished_at for a, b in pairwise(deliveries)]
        if gaps:
            # Spacing counts from when the previous send finished; allow 5 ms of clock noise.
            assert min(gaps) >= min_gap - 0.005, f"{handle}: gap {min(gaps):.3f}s < {min_gap}s"
    for sender in SenderAccount.objects.all():
        assert sender.sent_today <= cap


def poll_until(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def dispatch_in_process(ticks: int) -> None:
    """The dispatcher's real batches, run in the test's process: the enrollments due
    materialized, then one offer per tick with every offered message sent, until nothing
    more is offered (at most `ticks` ticks)."""
    enrollments_materialize(now=timezone.now())
    for _ in range(ticks):
        offered = messages_offer(now=timezone.now())
        if not offered:
            break
        for mid in offered:
            message_send(message_id=mid)


__all__ = ["Engine", "Scenario", "build_campaign", "campaign_launch", "free_port"]
