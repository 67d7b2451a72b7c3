"""A stateful model of the sequence engine, in-process against the real models and database.

Hypothesis drives the real dispatcher and send path through duplicate, dropped and late task
deliveries, crashes after the claim and after the platform accepted, reconciler runs, replies,
campaign pause/resume and clock jumps. The "broker" is a plain list of message ids; the
platform is the in-memory outbox. After every step the promises users rely on are checked;
after a quiet period every due step must have ended sent, cancelled or flagged for review.

The clock is Django's `timezone.now`, replaced by a settable one for the test: the services
read the time there (the claim, recording and token release take no `now=` argument).
"""

from collections import Counter
from datetime import UTC, datetime, time, timedelta
from itertools import count
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings as django_settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from hypothesis import HealthCheck
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from campaigns.counters import FIELDS, live_day_stats
from campaigns.dispatch import dispatch_tick
from campaigns.models import CampaignDayStats, Enrollment, Step, StepSend
from campaigns.services import (
    campaign_launch,
    campaign_pause,
    campaign_resume,
    enrollments_create,
)
from contacts.models import Identity
from outreach import limits
from outreach.channels import get_channel, locmem
from outreach.channels.base import LookupResult, OutgoingMessage
from outreach.channels.locmem import LocmemChannel
from outreach.models import Message, MessageEvent, SenderAccount
from outreach.services import (
    _claim,
    _send_starting,
    inbound_message_record,
    message_send,
    outgoing,
)
from outreach.services import messages_reconcile as reconcile
from tests import factories

E = Enrollment.State
M = Message.Status
START = datetime(2025, 6, 6, 13, 0, tzinfo=UTC)  # a Friday afternoon in Europe
ZONES = ["Europe/Berlin", "America/New_York", "Asia/Tokyo", "Pacific/Auckland"]
TERMINAL = {E.COMPLETED, E.REPLIED, E.STOPPED, E.FAILED}

# Found by this model, fixed in campaigns.services.message_after_requeue: a send in flight
# (sending or unknown) when the contact replied or the campaign was paused went back to
# "queued" once the reconciler proved the platform never got it, and was then claimed and
# sent anyway. The named scenarios at the end pin it down; the switch below lets the random
# model tolerate exactly that case again should it ever need to (keep it False).
TOLERATE_INFLIGHT_REQUEUE_BUG = False


class LookupLocmemChannel(LocmemChannel):
    """The in-memory channel of a platform that can say whether a message arrived (like the
    fake HTTP platform): the reconciler can prove delivery or non-delivery."""

    def lookup(self, message: OutgoingMessage) -> LookupResult:
        for sent in locmem.outbox:
            if sent.idempotency_key == message.idempotency_key:
                return LookupResult(found=True, provider_message_id=f"locmem-{sent.message_id}")
        return LookupResult(found=False)


class Clock:
    def __init__(self) -> None:
        self.at = START

    def now(self) -> datetime:
        return self.at


CLOCK = Clock()
task_index = st.integers(min_value=0, max_value=10_000)


def _nonzero(counts: dict) -> dict:
    return {k: {f: n for f, n in c.items() if n} for k, c in counts.items() if any(c.values())}


class SequenceEngine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        # Each example runs in its own savepoint, rolled back in teardown: fresh data, fast.
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        CLOCK.at = START
        locmem.outbox.clear()
        self.delivered_at: list[datetime] = []  # parallel to the outbox
        self.event_ids = count(1)
        self.tasks: list[int] = []  # the broker's queue: message ids
        self.seen_tasks: list[int] = []  # every id ever enqueued, for late deliveries
        self.replied: dict[int, tuple[int, int]] = {}  # contact -> (event watermark, outbox len)
        self.paused_since: int | None = None  # event watermark while the campaign is paused
        self.strict = not TOLERATE_INFLIGHT_REQUEUE_BUG
        self.in_flight_at_stop: set[int] = set()  # messages sending/unknown at a reply or pause
        self.liveness = True

        self.senders = [
            # Email: a platform that can confirm delivery; a capped, spaced account and one
            # with a weekday 09:00-17:00 window in the contact's time zone.
            factories.sender("E1", channel="email", cap=2, gap=(60, 120)),
            factories.sender(
                "E2",
                channel="email",
                cap=3,
                gap=(30, 30),
                window_days="01234",
                window_start=time(9),
                window_end=time(17),
            ),
            # Telegram: plain in-memory channel, which cannot confirm anything.
            factories.sender("T1", channel="telegram", cap=4, gap=(0, 0)),
        ]
        self.sender_ids = [s.id for s in self.senders]
        self.contacts = [
            factories.contact(n, channels=("email", "telegram"), tz=tz)
            for n, tz in enumerate(ZONES, start=1)
        ]
        self.campaign = factories.campaign(
            senders=self.senders, steps=(("email", 0), ("telegram", 3600))
        )
        self.steps = Step.objects.filter(sequence=self.campaign.sequence).count()
        enrollments_create(campaign=self.campaign, contacts=self.contacts)
        # Sticky senders pinned (rotation hashes the contact id, and PostgreSQL ids differ
        # between examples): two contacts write from E1, two from E2. Hypothesis replays
        # need the same data every time.
        for n, contact in enumerate(self.contacts):
            Enrollment.objects.filter(campaign=self.campaign, contact=contact).update(
                sender=self.senders[0] if n < 2 else self.senders[1]
            )
        campaign_launch(campaign=self.campaign)
        self._outbox_seen = 0

    # --- helpers ---------------------------------------------------------------------------

    def _stamp_deliveries(self) -> None:
        while len(self.delivered_at) < len(locmem.outbox):
            self.delivered_at.append(CLOCK.now())

    def _watermark(self) -> int:
        return MessageEvent.objects.aggregate(m=Max("id"))["m"] or 0

    def _campaign_messages(self):
        return Message.objects.filter(step_send__enrollment__campaign=self.campaign)

    def _tick(self) -> list[int]:
        now = CLOCK.now()
        before = dict(
            self._campaign_messages().filter(status=M.QUEUED).values_list("id", "enqueued_at")
        )
        dispatch_tick(now=now)
        offered = list(
            self._campaign_messages()
            .filter(status=M.QUEUED, enqueued_at=now)
            .exclude(id__in=[i for i, at in before.items() if at == now])
            .order_by("id")
            .values_list("id", flat=True)
        )
        self.tasks.extend(offered)
        self.seen_tasks.extend(offered)
        return offered

    def _send(self, message_id: int) -> str:
        status = message_send(message_id=message_id)
        self._stamp_deliveries()
        return status

    # --- rules -----------------------------------------------------------------------------

    @rule()
    def dispatcher_tick(self) -> None:
        self._tick()

    @precondition(lambda self: self.tasks)
    @rule(i=task_index)
    def deliver(self, i: int) -> None:
        self._send(self.tasks.pop(i % len(self.tasks)))

    @precondition(lambda self: self.tasks)
    @rule(i=task_index)
    def deliver_twice(self, i: int) -> None:
        mid = self.tasks.pop(i % len(self.tasks))
        self._send(mid)
        self._send(mid)

    @precondition(lambda self: self.tasks)
    @rule(i=task_index)
    def drop(self, i: int) -> None:
        self.tasks.pop(i % len(self.tasks))

    @precondition(lambda self: self.seen_tasks)
    @rule(i=task_index, late_by=st.sampled_from([1, 200, 4000]))
    def deliver_late(self, i: int, late_by: int) -> None:
        CLOCK.at += timedelta(seconds=late_by)
        self._send(self.seen_tasks[i % len(self.seen_tasks)])

    @precondition(lambda self: self.tasks)
    @rule(i=task_index, redelivered=st.booleans())
    def crash_after_claim(self, i: int, redelivered: bool) -> None:
        """The worker dies right after its claim committed; with acks_late the broker may
        hand the task to another worker."""
        mid = self.tasks.pop(i % len(self.tasks))
        _claim(mid)
        if redelivered:
            self.tasks.append(mid)

    @precondition(lambda self: self.tasks)
    @rule(i=task_index, redelivered=st.booleans())
    def crash_after_platform_accepted(self, i: int, redelivered: bool) -> None:
        mid = self.tasks.pop(i % len(self.tasks))
        claim = _claim(mid)
        if claim is not None and _send_starting(claim.message):
            get_channel(claim.message.channel).send(outgoing(claim.message))
            self._stamp_deliveries()
        if redelivered:
            self.tasks.append(mid)

    @rule()
    def reconciler_runs_after_the_grace_period(self) -> None:
        CLOCK.at += timedelta(seconds=django_settings.SEND_GRACE + 1)
        reconcile(now=CLOCK.now())
        self._stamp_deliveries()

    @rule(c=st.integers(0, len(ZONES) - 1), channel=st.sampled_from(["email", "telegram"]))
    def contact_replies(self, c: int, channel: str) -> None:
        contact = self.contacts[c]
        identity = Identity.objects.get(contact=contact, channel=channel)
        enrollment = Enrollment.objects.get(campaign=self.campaign, contact=contact)
        sender = next(
            (s for s in self.senders if s.id == enrollment.sender_id and s.channel == channel),
            next(s for s in self.senders if s.channel == channel),
        )
        inbound_message_record(
            provider="locmem",
            provider_event_id=f"reply-{next(self.event_ids)}",
            identity=identity,
            sender=sender,
            body="Thanks, but no thanks.",
        )
        if contact.id not in self.replied:
            self.replied[contact.id] = (self._watermark(), len(locmem.outbox))
            self._remember_in_flight(conversation__identity__contact=contact)

    def _remember_in_flight(self, **filters) -> None:
        self.in_flight_at_stop |= set(
            Message.objects.filter(
                direction=Message.Direction.OUTBOUND, status__in=[M.SENDING, M.UNKNOWN], **filters
            ).values_list("id", flat=True)
        )

    def _tolerated(self) -> set[int]:
        return set() if self.strict else self.in_flight_at_stop

    @rule(seconds=st.sampled_from([1, 45, 130, 700, 3600, 6 * 3600, 30 * 3600, 3 * 86400]))
    def clock_jumps(self, seconds: int) -> None:
        CLOCK.at += timedelta(seconds=seconds)

    @precondition(lambda self: self.paused_since is None)
    @rule()
    def pause_campaign(self) -> None:
        campaign_pause(campaign=self.campaign)
        self.paused_since = self._watermark()
        self._remember_in_flight(step_send__enrollment__campaign=self.campaign)

    @precondition(lambda self: self.paused_since is not None)
    @rule()
    def resume_campaign(self) -> None:
        campaign_resume(campaign=self.campaign)
        self.paused_since = None

    # --- invariants ------------------------------------------------------------------------

    @invariant()
    def at_most_one_delivery_per_enrollment_step(self) -> None:
        self._stamp_deliveries()
        per_message = Counter(m.message_id for m in locmem.outbox)
        per_key = Counter(m.idempotency_key for m in locmem.outbox)
        assert not [k for k, n in per_message.items() if n > 1], per_message
        assert not [k for k, n in per_key.items() if n > 1], per_key
        links = dict(
            StepSend.objects.filter(message_id__in=list(per_message)).values_list(
                "message_id", "enrollment_id"
            )
        )
        steps = Counter(
            (links[m.message_id], m.message_id) for m in locmem.outbox if m.message_id in links
        )
        assert all(n == 1 for n in steps.values())

    @invariant()
    def nothing_is_claimed_or_delivered_after_the_contact_replied(self) -> None:
        for contact_id, (watermark, outbox_len) in self.replied.items():
            late_claims = MessageEvent.objects.filter(
                id__gt=watermark,
                status=M.SENDING,
                message__direction=Message.Direction.OUTBOUND,
                message__conversation__identity__contact_id=contact_id,
            ).exclude(message_id__in=self._tolerated())
            assert not late_claims.exists(), (
                f"contact {contact_id} replied, then message(s) "
                f"{list(late_claims.values_list('message_id', 'detail'))} were claimed"
            )
            late = [
                m.message_id
                for m in locmem.outbox[outbox_len:]
                if m.message_id not in self._tolerated()
            ]
            assert not Message.objects.filter(
                id__in=late, conversation__identity__contact_id=contact_id
            ).exists(), f"contact {contact_id} replied, then got message(s) {late}"

    @invariant()
    def nothing_is_claimed_while_the_campaign_is_paused(self) -> None:
        if self.paused_since is None:
            return
        claims = MessageEvent.objects.filter(
            id__gt=self.paused_since,
            status=M.SENDING,
            message__step_send__enrollment__campaign=self.campaign,
        ).exclude(message_id__in=self._tolerated())
        assert not claims.exists(), list(claims.values_list("message_id", "detail"))

    @invariant()
    def senders_stay_within_their_limits(self) -> None:
        by_message = {
            m.message_id: (m, at) for m, at in zip(locmem.outbox, self.delivered_at, strict=True)
        }
        sender_of = dict(
            Message.objects.filter(id__in=list(by_message)).values_list("id", "sender_id")
        )
        for sender in SenderAccount.objects.filter(id__in=self.sender_ids):
            if sender.counter_day is not None:
                assert sender.sent_today <= limits.effective_cap(sender, sender.counter_day)
            if sender.inflight_message_id is not None:
                status = Message.objects.get(id=sender.inflight_message_id).status
                assert status in (M.SENDING, M.UNKNOWN), (
                    f"sender {sender.name} holds its in-flight slot for a {status} message"
                )
            times = sorted(at for mid, (_, at) in by_message.items() if sender_of[mid] == sender.id)
            per_day = Counter(limits.local_day(sender, at) for at in times)
            assert all(n <= sender.daily_cap for n in per_day.values()), per_day
            gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
            assert all(g >= sender.min_gap_seconds for g in gaps), (sender.name, gaps)

    @invariant()
    def enrollment_states_match_their_messages(self) -> None:
        sends: dict[int, dict[int, str]] = {}
        tolerated = self._tolerated()
        for enrollment_id, position, status, mid in StepSend.objects.filter(
            enrollment__campaign=self.campaign
        ).values_list("enrollment_id", "step__position", "message__status", "message_id"):
            if mid in tolerated and status in (M.QUEUED, M.SENDING):
                status = M.UNKNOWN  # the known bug's requeue: treat as still unresolved
            sends.setdefault(enrollment_id, {})[position] = status
        for e in Enrollment.objects.filter(campaign=self.campaign):
            mine = sends.get(e.id, {})
            where = f"enrollment {e.id} ({e.state}, step {e.current_step}): {mine}"
            assert all(p <= e.current_step for p in mine), where
            assert all(mine.get(p) == M.SENT for p in range(1, e.current_step)), where
            current = mine.get(e.current_step)
            if e.state == E.ACTIVE:
                assert e.next_action_at is not None and current is None, where
            elif e.state == E.WAITING:
                assert current in (M.QUEUED, M.PAUSED, M.SENDING, M.UNKNOWN), where
            elif e.state == E.COMPLETED:
                assert len(mine) == self.steps and set(mine.values()) == {M.SENT}, where
            elif e.state == E.REPLIED:
                assert e.replied_at is not None and e.next_action_at is None, where
                assert current not in (M.QUEUED, M.PAUSED), where
            if self.paused_since is None:
                assert current != M.PAUSED, where

    # --- liveness --------------------------------------------------------------------------

    def _next_interesting_time(self) -> datetime:
        """The next instant anything can change: a hold ends, a follow-up falls due, a sender's
        gap ends, a lost task may be offered again, or a stuck send is due for reconciling."""
        now = CLOCK.now()
        mine = self._campaign_messages()
        requeue = timedelta(seconds=django_settings.REQUEUE_AFTER + 1)
        grace = timedelta(seconds=django_settings.SEND_GRACE + 1)
        candidates = [now + timedelta(hours=6)]
        candidates += [
            t for t in mine.filter(status=M.QUEUED).values_list("not_before", flat=True) if t
        ]
        candidates += [
            t + requeue
            for t in mine.filter(status=M.QUEUED).values_list("enqueued_at", flat=True)
            if t
        ]
        candidates += [
            t + grace
            for t in mine.filter(status__in=[M.SENDING, M.UNKNOWN]).values_list(
                "claimed_at", flat=True
            )
            if t
        ]
        candidates += Enrollment.objects.filter(campaign=self.campaign, state=E.ACTIVE).values_list(
            "next_action_at", flat=True
        )
        candidates += [
            t
            for t in SenderAccount.objects.filter(id__in=self.sender_ids).values_list(
                "next_send_at", flat=True
            )
            if t
        ]
        return max(now + timedelta(seconds=1), min(t for t in candidates if t > now))

    def _settled(self) -> bool:
        if Enrollment.objects.filter(campaign=self.campaign, state=E.ACTIVE).exists():
            return False
        open_ = self._campaign_messages().filter(status__in=[M.QUEUED, M.PAUSED, M.SENDING])
        if open_.exists():
            return False
        unresolved = (
            self._campaign_messages()
            .filter(status=M.UNKNOWN)
            .exclude(hold_reason__startswith="needs review")
        )
        return not unresolved.exists()

    def _quiet_period(self) -> None:
        if self.paused_since is not None:
            self.resume_campaign()
        for _ in range(150):
            if self._settled():
                return
            offered = self._tick()
            while self.tasks:
                self._send(self.tasks.pop(0))
            reconcile(now=CLOCK.now())
            self._stamp_deliveries()
            self.check_all()
            if not offered:
                CLOCK.at = self._next_interesting_time()
        raise AssertionError("the campaign did not settle in the quiet period")

    def check_all(self) -> None:
        self.at_most_one_delivery_per_enrollment_step()
        self.nothing_is_claimed_or_delivered_after_the_contact_replied()
        self.senders_stay_within_their_limits()
        self.enrollment_states_match_their_messages()

    def teardown(self) -> None:
        try:
            if not self.liveness:
                return
            self._quiet_period()
            for e in Enrollment.objects.filter(campaign=self.campaign):
                link = StepSend.objects.filter(enrollment=e, step__position=e.current_step)
                statuses = set(link.values_list("message__status", flat=True))
                assert e.state in TERMINAL or (e.state == E.WAITING and statuses == {M.UNKNOWN})
            final = set(self._campaign_messages().values_list("status", flat=True))
            assert final <= {M.SENT, M.CANCELLED, M.UNKNOWN}, final
            # The dashboards' counters followed every send, retry, crash and reply exactly.
            ids = list(Enrollment.objects.filter(campaign=self.campaign).values_list("id"))
            recount = live_day_stats([i for (i,) in ids])
            kept = {
                (s.campaign_id, s.day, s.step, s.variant): {f: getattr(s, f) for f in FIELDS}
                for s in CampaignDayStats.objects.filter(campaign=self.campaign)
            }
            assert _nonzero(kept) == _nonzero(recount)
        finally:
            transaction.set_rollback(True)
            self._atomic.__exit__(None, None, None)
            locmem.outbox.clear()


def channels_for_the_model() -> dict:
    channels = {name: dict(conf) for name, conf in django_settings.OUTREACH_CHANNELS.items()}
    channels["email"] = {"BACKEND": f"{__name__}.LookupLocmemChannel"}
    channels["telegram"] = {"BACKEND": "outreach.channels.locmem.LocmemChannel"}
    return channels


@pytest.mark.django_db
def test_sequence_engine_sends_each_step_once_within_limits_and_stops_on_reply(
    settings, monkeypatch
):
    settings.OUTREACH_CHANNELS = channels_for_the_model()
    settings.CONTACT_DAILY_MESSAGE_CAP = 0
    monkeypatch.setattr(timezone, "now", CLOCK.now)
    run_state_machine_as_test(
        SequenceEngine,
        settings=hsettings(
            max_examples=int(__import__("os").environ.get("STATEFUL_EXAMPLES", "25")),
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )


def test_the_model_clock_starts_on_a_friday_afternoon_in_europe():
    assert START.astimezone(ZoneInfo("Europe/Berlin")).strftime("%A %H:%M") == "Friday 15:00"


# --- named scenarios, replayed through the same model ----------------------------------------


@pytest.fixture
def engine(settings, monkeypatch):
    settings.OUTREACH_CHANNELS = channels_for_the_model()
    settings.CONTACT_DAILY_MESSAGE_CAP = 0
    monkeypatch.setattr(timezone, "now", CLOCK.now)
    machine = SequenceEngine()
    # Pin every contact's email to the always-open E1 (rotation is sticky per contact id,
    # and ids differ between runs), so the scenarios below do not depend on the database.
    Enrollment.objects.filter(campaign=machine.campaign).update(sender=machine.senders[0])
    yield machine
    machine.teardown()


def first_task_for(machine: SequenceEngine, channel: str) -> tuple[int, int]:
    """(index in the broker queue, index of the contact) of the first queued task on a
    channel, from an always-open sender (E1 or T1), so its claim cannot be held."""
    for i, mid in enumerate(machine.tasks):
        message = Message.objects.select_related("conversation__identity", "sender").get(id=mid)
        if message.channel == channel and message.sender.name in ("E1", "T1"):
            contact_id = message.conversation.identity.contact_id
            return i, [c.id for c in machine.contacts].index(contact_id)
    raise AssertionError(f"no {channel} task queued for an always-open sender")


@pytest.mark.django_db
def test_a_send_that_crashed_before_the_platform_saw_it_is_resent_exactly_once(engine):
    engine.dispatcher_tick()
    i, _ = first_task_for(engine, "email")
    mid = engine.tasks[i]
    engine.crash_after_claim(i=i, redelivered=True)
    engine.deliver(i=len(engine.tasks) - 1)  # the redelivered task finds it "sending": no-op
    assert not locmem.outbox
    engine.reconciler_runs_after_the_grace_period()  # the platform never saw it: requeued
    assert Message.objects.get(id=mid).status == M.QUEUED
    engine.clock_jumps(seconds=130)  # the sender's gap after the refund
    engine._tick()
    engine.deliver(i=engine.tasks.index(mid))
    message = Message.objects.get(id=mid)
    assert (message.status, message.attempts) == (M.SENT, 2)
    assert [m.message_id for m in locmem.outbox] == [mid]


@pytest.mark.django_db
def test_a_send_the_platform_accepted_before_the_crash_is_recorded_without_a_second_call(engine):
    engine.dispatcher_tick()
    i, _ = first_task_for(engine, "email")
    mid = engine.tasks[i]
    engine.crash_after_platform_accepted(i=i, redelivered=True)
    engine.deliver(i=len(engine.tasks) - 1)
    engine.reconciler_runs_after_the_grace_period()
    message = Message.objects.get(id=mid)
    assert (message.status, message.attempts) == (M.SENT, 1)
    assert [m.message_id for m in locmem.outbox] == [mid]


def first_telegram_task(engine) -> int:
    """Deliver tasks until a telegram step's (a platform that cannot look a send up) is due."""
    engine.clock_jumps(seconds=3600)  # step 2 (telegram) falls due after step 1
    for _ in range(6):
        engine.dispatcher_tick()
        while engine.tasks and not any(
            Message.objects.filter(id=t, channel="telegram").exists() for t in engine.tasks
        ):
            engine.deliver(i=0)
        engine.clock_jumps(seconds=3600)
    i, _ = first_task_for(engine, "telegram")
    return i


@pytest.mark.django_db
def test_a_platform_that_cannot_confirm_a_crashed_send_puts_it_up_for_review_not_resend(engine):
    i = first_telegram_task(engine)
    mid = engine.tasks[i]
    engine.crash_after_platform_accepted(i=i, redelivered=False)
    engine.reconciler_runs_after_the_grace_period()
    message = Message.objects.get(id=mid)
    assert message.status == M.UNKNOWN
    assert message.hold_reason.startswith("needs review")
    assert [m.message_id for m in locmem.outbox].count(mid) == 1


@pytest.mark.django_db
def test_a_crash_before_calling_a_platform_that_cannot_confirm_resends_without_review(engine):
    i = first_telegram_task(engine)
    mid = engine.tasks[i]
    engine.crash_after_claim(i=i, redelivered=False)
    engine.reconciler_runs_after_the_grace_period()  # it never called the platform
    message = Message.objects.get(id=mid)
    assert (message.status, message.hold_reason) == (M.QUEUED, "worker stopped before sending it")
    engine.clock_jumps(seconds=130)
    engine._tick()
    engine.deliver(i=engine.tasks.index(mid))
    assert Message.objects.get(id=mid).status == M.SENT
    assert [m.message_id for m in locmem.outbox].count(mid) == 1


@pytest.mark.django_db
def test_a_reply_while_a_crashed_send_awaits_the_reconciler_stops_the_resend(engine):
    """The contact replies while step 1's send is stuck in "sending" (worker died after the
    claim). The reconciler then proves the platform never got it and requeues it. It must
    not go out: the contact already replied."""
    engine.strict, engine.liveness = True, False
    engine.dispatcher_tick()
    i, contact = first_task_for(engine, "email")
    mid = engine.tasks[i]
    engine.crash_after_claim(i=i, redelivered=False)
    engine.contact_replies(c=contact, channel="email")
    engine.reconciler_runs_after_the_grace_period()
    engine.clock_jumps(seconds=130)
    engine.dispatcher_tick()
    while engine.tasks:
        engine.deliver(i=0)
    engine.nothing_is_claimed_or_delivered_after_the_contact_replied()
    assert Message.objects.get(id=mid).status != M.SENT


@pytest.mark.django_db
def test_pausing_the_campaign_while_a_crashed_send_awaits_the_reconciler_holds_the_resend(
    engine,
):
    engine.strict, engine.liveness = True, False
    engine.dispatcher_tick()
    i, _ = first_task_for(engine, "email")
    engine.crash_after_claim(i=i, redelivered=False)
    engine.pause_campaign()
    engine.reconciler_runs_after_the_grace_period()
    engine.clock_jumps(seconds=130)
    engine.dispatcher_tick()
    while engine.tasks:
        engine.deliver(i=0)
    engine.nothing_is_claimed_while_the_campaign_is_paused()
