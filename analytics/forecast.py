"""When will each step go out? A simulation of the engine with the engine's own rules.

The same functions decide here and in the engine: the sender is chosen by the dispatcher's
`_pick_sender`, the window is `outreach.windows.Window` in the contact's time zone (else the
sender's), the daily cap is `outreach.limits.effective_cap` per `local_day`, and the next
step is due `delay` after the previous one was sent (`campaigns.conditions.step_due`, with
business days), a step whose condition is not met is skipped with its reason
(`step_condition_unmet`), and a contact the policy gate would hold now (the Telegram bot not
started, no open WhatsApp window, an opt-out: `campaigns.held`) is counted as held, not
sent. Spacing uses the middle of the sender's random gap. Assumed: nobody replies from now
on (a reply already in stops what it stops), every message the forecast sends is delivered
and read, and manual steps (LinkedIn, TikTok, Snapchat) are done whenever a rep gets to
them, so the forecast stops at them. A paused campaign plans nothing.
A sender shared with other campaigns gives this one only what is left of today's cap once
the messages already queued on it for today by others are sent (their later steps are not
simulated: past today the forecast is optimistic for a shared sender). A WhatsApp sender's
messaging tier (unique users per 24 h) caps its day as well.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import ngettext

from analytics.tables import Table
from campaigns.conditions import StepFacts, step_condition_unmet, step_due, step_facts
from campaigns.dispatch import _pick_sender, last_sends
from campaigns.held import routes_held
from campaigns.models import Campaign, Enrollment, Step, StepSend
from campaigns.routes import Route, route_choose, routes_for_steps, skipped_reason
from contacts.models import Identity
from deliverability.models import WhatsAppAccount
from outreach import policy
from outreach.channels import get_channel
from outreach.limits import effective_cap, local_day
from outreach.models import Message, SenderAccount, SendingSwitch
from outreach.windows import Window

E = Enrollment.State
MAX_ENROLLMENTS = 5000
MAX_DAYS_SKIPPED = 366


@dataclass
class PlannedSend:
    enrollment_id: int
    step: int
    sender_id: int
    at: datetime
    route: Route | None = None  # the channel and template it goes out with


@dataclass
class StepForecast:
    position: int
    channel: str
    count: int = 0
    first_at: datetime | None = None
    last_at: datetime | None = None


@dataclass
class Forecast:
    now: datetime
    sends: list[PlannedSend]
    steps: list[StepForecast]
    blocked: dict[str, int] = field(default_factory=dict)  # reason -> messages that won't go
    # (step position, reason) -> contacts its channel cannot reach now (campaigns/held.py)
    held: dict[tuple[int, str], int] = field(default_factory=dict)
    # (step position, reason) -> contacts the step's condition skips
    skipped: dict[tuple[int, str], int] = field(default_factory=dict)
    manual: int = 0
    truncated: bool = False

    @property
    def days(self) -> list[date]:
        if not self.sends:
            return []
        first = timezone.localdate(self.now)
        last = max(timezone.localdate(s.at) for s in self.sends)
        return [first + timedelta(days=n) for n in range((last - first).days + 1)]

    def per_day(self) -> dict[int, list[int]]:
        days = self.days
        index = {d: i for i, d in enumerate(days)}
        out = {s.position: [0] * len(days) for s in self.steps}
        for s in self.sends:
            out[s.step][index[timezone.localdate(s.at)]] += 1
        return out

    def summary(self) -> list[str]:
        """The forecast in words, e.g. "All first messages out by Thu 14:00"."""
        lines = []
        planned = [s for s in self.steps if s.last_at]
        if planned:
            first = planned[0]
            lines.append(
                f"All {_ordinal(first.position)} messages out by {_when(first.last_at, self.now)}"
                f" ({first.count})."
            )
            if len(planned) > 1:
                last = planned[-1]
                lines.append(
                    f"Last follow-up (step {last.position}) by {_when(last.last_at, self.now)}."
                )
        elif not self.blocked and not self.held:
            lines.append("Nothing to send: no contact is waiting for a step.")
        for reason, n in self.blocked.items():
            lines.append(f"{n} {ngettext('message', 'messages', n)} will not go out: {reason}.")
        for (position, reason), n in sorted(self.held.items()):
            lines.append(
                f"Step {position}: {n} {ngettext('contact is', 'contacts are', n)} held, "
                f"not sent: {reason}."
            )
        for (position, reason), n in sorted(self.skipped.items()):
            lines.append(
                f"Step {position}: skipped for {n} {ngettext('contact', 'contacts', n)}: {reason}."
            )
        if self.manual:
            steps = ngettext(
                "manual step waits for a rep and is not timed",
                "manual steps wait for a rep and are not timed",
                self.manual,
            )
            lines.append(f"{self.manual} {steps}.")
        if self.truncated:
            lines.append(f"Forecast covers the first {MAX_ENROLLMENTS} enrollments.")
        return lines

    def table(self) -> Table:
        t = Table(
            "forecast",
            "Send forecast per day",
            ["day", *[f"step {s.position}" for s in self.steps]],
            empty="No sends planned.",
        )
        per_day = self.per_day()
        for i, d in enumerate(self.days):
            t.rows.append([d, *[per_day[s.position][i] for s in self.steps]])
        return t

    def held_table(self) -> Table:
        """Contacts a step will not reach now (held by the platform's rules, an opt-out) or
        skips (its condition, no identity), with the reason in words."""
        t = Table("forecast-held", "Held or skipped, not sent", ["step", "contacts", "why"])
        for (position, reason), n in sorted(self.held.items()):
            t.rows.append([f"step {position}", n, f"held: {reason}"])
        for (position, reason), n in sorted(self.skipped.items()):
            t.rows.append([f"step {position}", n, f"skipped: {reason}"])
        return t


def _ordinal(position: int) -> str:
    return {1: "first", 2: "second", 3: "third"}.get(position, f"step {position}")


def _when(at: datetime | None, now: datetime) -> str:
    local = timezone.localtime(at)
    if local.date() == timezone.localdate(now):
        return f"today {local:%H:%M}"
    if (local.date() - timezone.localdate(now)).days < 7:
        return f"{local:%a %H:%M}"
    return f"{local:%a %d %b %H:%M}"


@dataclass
class _Item:
    enrollment: Enrollment
    step_index: int
    window: Window
    route: Route


class _SenderSim:
    """One sender's limiter state and its queue, grouped by window (time zone)."""

    def __init__(
        self,
        sender: SenderAccount,
        now: datetime,
        queued_by_others: int = 0,
        per_day: int | None = None,
    ) -> None:
        self.sender = sender
        # WhatsApp's messaging tier: unique users per 24 h (deliverability.WhatsAppAccount),
        # read here as a daily cap on top of the sender's own.
        self.per_day = per_day
        tz = ZoneInfo(sender.time_zone or "UTC")
        self.tz = tz
        self.free_at = max(t for t in (now, sender.next_send_at, sender.backoff_until) if t)
        self.gap = timedelta(seconds=(sender.min_gap_seconds + sender.max_gap_seconds) / 2)
        self.counts: dict[date, int] = defaultdict(int)
        if sender.counter_day:
            self.counts[sender.counter_day] = sender.sent_today
        self.counts[local_day(sender, now)] += queued_by_others
        self.queues: dict[Window, list] = defaultdict(list)

    def push(self, ready: datetime, seq: int, item: _Item) -> None:
        heapq.heappush(self.queues[item.window], (ready, seq, id(item), item))

    def _slot(self, window: Window, ready: datetime) -> datetime | None:
        at = max(self.free_at, ready)
        for _ in range(MAX_DAYS_SKIPPED):
            at = window.next_open(at)
            day = local_day(self.sender, at)
            cap = effective_cap(self.sender, day)
            if self.counts[day] < (cap if self.per_day is None else min(cap, self.per_day)):
                return at
            at = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=self.tz)
        return None

    def next_send(self) -> tuple[datetime, int, Window] | None:
        best = None
        for window, heap in self.queues.items():
            if not heap:
                continue
            ready, seq, _, _ = heap[0]
            at = self._slot(window, ready)
            if at is not None and (best is None or (at, seq) < best[:2]):
                best = (at, seq, window)
        return best

    def take(self, window: Window, at: datetime) -> _Item:
        _, _, _, item = heapq.heappop(self.queues[window])
        self.counts[local_day(self.sender, at)] += 1
        self.free_at = at + self.gap
        return item


PAUSED = "campaign paused: nothing is sent until it is resumed"


def _policy_refuses(route: Route, identity: Identity | None) -> bool:
    """The policy gate's refusal that depends on the contact, not on time: a marketing
    WhatsApp template to a +1 number (outreach/policy.py)."""
    template = policy.template_of(route.attachments)
    if route.channel != "whatsapp" or template is None or identity is None:
        return False
    return policy.us_marketing(template, identity.value)


def _queued_by_others(sender: SenderAccount, campaign: Campaign, now: datetime) -> int:
    """Messages queued on this sender by anything but this campaign (other running
    campaigns, triggers, the inbox), due before the sender's midnight: today's cap they will
    take. A paused campaign's messages are "paused", not queued, so they are left out."""
    tz = ZoneInfo(sender.time_zone or "UTC")
    midnight = datetime.combine(
        local_day(sender, now) + timedelta(days=1), datetime.min.time(), tzinfo=tz
    )
    return (
        Message.objects.filter(sender=sender, status=Message.Status.QUEUED)
        .filter(Q(not_before=None) | Q(not_before__lt=midnight))
        .exclude(step_send__enrollment__campaign=campaign)
        .count()
    )


def campaign_forecast(*, campaign: Campaign, now: datetime | None = None) -> Forecast:
    now = now or timezone.now()
    steps = list(
        Step.objects.filter(sequence_id=campaign.sequence_id)
        .select_related("template")
        .order_by("position")
    )
    result = Forecast(
        now=now, sends=[], steps=[StepForecast(s.position, s.get_channel_display()) for s in steps]
    )
    live = Enrollment.objects.filter(campaign=campaign, state__in=[E.ACTIVE, E.WAITING])
    enrollments = list(
        live.select_related("contact").order_by("next_action_at", "id")[: MAX_ENROLLMENTS + 1]
    )
    result.truncated = len(enrollments) > MAX_ENROLLMENTS
    enrollments = enrollments[:MAX_ENROLLMENTS]
    if not steps or not enrollments:
        return result
    if campaign.status == Campaign.Status.PAUSED:
        # The dispatcher materializes nothing and the outbox offers nothing of a paused
        # campaign: every live enrollment waits for a resume.
        positions = {s.position for s in steps}
        result.blocked[PAUSED] = sum(e.current_step in positions for e in enrollments)
        return result
    senders = list(campaign.senders.order_by("id"))
    tiers = dict(
        WhatsAppAccount.objects.filter(sender__in=senders).values_list(
            "sender_id", "unique_users_per_day"
        )
    )
    sims = {
        s.id: _SenderSim(s, now, _queued_by_others(s, campaign, now), tiers.get(s.id))
        for s in senders
    }
    identities: dict[int, dict[str, Identity]] = defaultdict(dict)
    for ident in (
        Identity.objects.filter(contact_id__in={e.contact_id for e in enrollments})
        .only("contact_id", "channel", "value", "opted_out_at")
        .order_by("-id")
    ):
        identities[ident.contact_id][ident.channel] = ident  # oldest wins, as in the dispatcher
    routes = routes_for_steps(steps)
    sender_channels = {s.channel for s in senders}
    # A waiting enrollment's message is already queued; it may be held until not_before.
    held_until = dict(
        StepSend.objects.filter(
            enrollment__in=[e for e in enrollments if e.state == E.WAITING],
            step__position=F("enrollment__current_step"),
            message__status=Message.Status.QUEUED,
        ).values_list("enrollment_id", "message__not_before")
    )
    kill_switch = SendingSwitch.is_paused()
    index = {s.position: i for i, s in enumerate(steps)}
    seq = 0

    def tally(counts: dict[tuple[int, str], int], key: tuple[int, str]) -> None:
        counts[key] = counts.get(key, 0) + 1

    def block(reason: str) -> None:
        result.blocked[reason] = result.blocked.get(reason, 0) + 1

    def skip(e: Enrollment, i: int, last_sent: datetime) -> tuple[int, datetime | None]:
        # The dispatcher skips a step the contact cannot get; the next one is due its own
        # delay after the last real send (campaigns/dispatch.py).
        i += 1
        return i, (step_due(steps[i], last_sent) if i < len(steps) else None)

    def schedule(
        e: Enrollment, i: int, ready: datetime, last_sent: datetime, queued: bool = False
    ) -> None:
        """Queue step i of e at `ready`, skipping steps the contact cannot get or whose
        condition is not met, like the dispatcher does; `last_sent` is when e last really
        sent a message (or enrolled); `queued`: step i's message exists already (its
        condition was met when the dispatcher made it)."""
        nonlocal seq
        while i < len(steps):
            step = steps[i]
            unmet = "" if queued else step_condition_unmet(step, facts[e.id])
            if unmet:
                tally(result.skipped, (step.position, unmet))
                i, ready = skip(e, i, last_sent)  # type: ignore[assignment]
                continue
            # The step's own channel or an alternative, as the dispatcher chooses it.
            route = route_choose(
                routes[step.id],
                identities=identities[e.contact_id],
                sender_channels=sender_channels,
            )
            if route is None:
                none = skipped_reason(step, routes[step.id]).split(": ", 1)[1]
                tally(result.skipped, (step.position, none))
                i, ready = skip(e, i, last_sent)  # type: ignore[assignment]
                continue
            if not get_channel(route.channel).automated:
                result.manual += 1
                return
            sender = _pick_sender(senders, e, route.channel)
            if sender is None:
                block(f"no {route.channel_name} sender")
                return
            if kill_switch:
                block("all sending is stopped (kill switch)")
                return
            if sender.paused:
                block(f"{sender.name} is paused")
                return
            if _policy_refuses(route, identities[e.contact_id].get(route.channel)):
                block(policy.US_MARKETING_PAUSED)
                return
            why = held.get((step.id, route.position), {}).get(e.contact_id, "")
            if why:
                # The gate would hold (or cancel) it: not a send today, a contact held.
                tally(result.held, (step.position, why))
                return
            if e.sender_id is None:
                e.sender_id = sender.id  # sticky, as the dispatcher makes it
            tz = ZoneInfo(e.contact.time_zone or sender.time_zone or "UTC")
            window = Window(sender.window_days, sender.window_start, sender.window_end, tz)
            seq += 1
            sims[sender.id].push(max(ready, now), seq, _Item(e, i, window, route))
            return

    flat = {(cid, ch): i for cid, chans in identities.items() for ch, i in chans.items()}
    facts = step_facts(enrollments, flat)
    held = routes_held(campaign=campaign, steps=steps, routes=routes, identities=flat, now=now)
    sent_last = last_sends([e.id for e in enrollments])
    for e in enrollments:
        if e.current_step not in index:
            continue
        waiting = e.state == E.WAITING
        ready = (held_until.get(e.id) if waiting else e.next_action_at) or now
        schedule(e, index[e.current_step], ready, sent_last.get(e.id, e.created_at), waiting)

    while True:
        best = None
        for sim in sims.values():
            nxt = sim.next_send()
            if nxt and (best is None or nxt[:2] < best[0][:2]):
                best = (nxt, sim)
        if best is None:
            break
        (at, _, window), sim = best
        item = sim.take(window, at)
        step = steps[item.step_index]
        result.sends.append(
            PlannedSend(item.enrollment.id, step.position, sim.sender.id, at, item.route)
        )
        sf = result.steps[item.step_index]
        sf.count += 1
        sf.first_at = sf.first_at or at
        sf.last_at = at
        if item.step_index + 1 < len(steps):
            nxt_step = steps[item.step_index + 1]
            # What the forecast sends it assumes delivered and read, and not replied to.
            facts[item.enrollment.id] = StepFacts(
                replied=facts[item.enrollment.id].replied,
                last_status=Message.Status.READ,
                channels=facts[item.enrollment.id].channels,
            )
            schedule(item.enrollment, item.step_index + 1, step_due(nxt_step, at), at)
    # Messages stuck in a queue no slot ever opens for (a cap of 0, no window days).
    for sim in sims.values():
        for heap in sim.queues.values():
            for _ in heap:
                block(f"{sim.sender.name} has no sending slot within a year")
    return result
