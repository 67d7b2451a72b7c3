"""Dashboard reads: a fixed number of small queries, whatever the number of campaigns,
steps, variants, senders or messages, each returning a small dataclass the templates render
directly. The counts come from the exact counter tables (campaigns/counters.py keeps them in
step with every change, in the same transaction); only what must be live is read live: the
held messages, the senders' health, won deals (a small table) and the audit trail.

Definitions used everywhere (and in the tests):
- sent: an outbound campaign message that left (it has sent_at), bounced ones included;
- delivered: the platform confirmed delivery or a read;
- contacted: an enrollment with at least one sent message;
- replied: an enrollment stopped by a reply, or whose ended sequence (completed, failed) a
  reply answered (campaigns/services.py ANSWERABLE); once per enrollment; a reply belongs
  to the step message it quotes (an email's In-Reply-To, a quoted DM, a pressed button),
  else to the last step sent before it;
- bounced: a sent message that failed with a bounce; opted out: the contact opted out;
- won: a deal from the campaign in a "won" stage;
- interested / positive: an enrollment whose contact replied, after enrolling, with a reply
  labelled interested (outreach's MessageIntent; a rep's correction wins). Without intent
  labels installed the figure is None and shown as "n/a", never guessed.
Days are local days in TIME_ZONE, fixed when the counters are written (rebuild the counters
after changing TIME_ZONE: `manage.py rebuild_dashboard_stats`).
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from campaigns.access import campaigns_visible_to
from campaigns.counters import intent_model
from campaigns.models import (
    Campaign,
    CampaignDayStats,
    CampaignIntentStats,
    CampaignStats,
    Deal,
    Enrollment,
    Stage,
    Step,
    TemplateVariant,
)
from outreach.limits import cap_reached, effective_cap, local_day
from outreach.models import AuditEntry, Message, MessageEvent, SenderAccount, SendingSwitch
from outreach.windows import Window, describe_wait

E = Enrollment.State
M = Message.Status
SPARK_DAYS = 14
SERIES_DAYS = 60
HELD_LIMIT = 100
HELD_STATUSES = [M.QUEUED, M.PAUSED, M.UNKNOWN]
FREE_SLOT = "waiting for a free sender slot"
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def rate(part: int | None, whole: int | None) -> float | None:
    if part is None or not whole:
        return None
    return part / whole


@dataclass
class Table:
    """A table as shown on a page and exported to CSV: same columns, same cells."""

    name: str
    title: str
    columns: list[str]
    rows: list[list] = field(default_factory=list)


# --- overview --------------------------------------------------------------------------------


@dataclass
class CampaignRow:
    id: int
    name: str
    status: str
    status_label: str
    owner: str
    channels: list[str]
    enrolled: int = 0
    contacted: int = 0
    sent: int = 0
    replied: int = 0
    positive: int | None = None
    won: int = 0
    sparkline: list[int] = field(default_factory=list)

    @property
    def reply_rate(self) -> float | None:
        return rate(self.replied, self.contacted)


@dataclass
class Overview:
    rows: list[CampaignRow]
    days: list[date]
    intent_available: bool

    def table(self) -> Table:
        t = Table(
            "campaigns",
            "Campaigns",
            [
                "campaign",
                "status",
                "owner",
                "channels",
                "enrolled",
                "sent",
                "replied",
                "positive",
                "won",
                "reply rate",
                f"sends per day (last {len(self.days)} days)",
            ],
        )
        for r in self.rows:
            t.rows.append(
                [
                    r.name,
                    r.status_label,
                    r.owner,
                    " ".join(r.channels),
                    r.enrolled,
                    r.sent,
                    r.replied,
                    "n/a" if r.positive is None else r.positive,
                    r.won,
                    _pct(r.reply_rate),
                    " ".join(str(n) for n in r.sparkline),
                ]
            )
        return t


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def campaigns_filtered(
    *, user=None, owner_id: int | None = None, status: str = "", channel: str = ""
) -> QuerySet[Campaign]:
    """Campaigns the user may see (every campaign when ``user`` is None: internal callers)."""
    qs = Campaign.objects.all() if user is None else campaigns_visible_to(user)
    qs = qs.select_related("owner").order_by("-created_at", "-id")
    if owner_id:
        qs = qs.filter(owner_id=owner_id)
    if status:
        qs = qs.filter(status=status)
    if channel:
        qs = qs.filter(sequence__steps__channel=channel).distinct()
    return qs


def campaigns_overview(
    *,
    user=None,
    owner_id: int | None = None,
    status: str = "",
    channel: str = "",
    today: date | None = None,
) -> Overview:
    """Five queries for any number of campaigns, read from the counters."""
    today = today or timezone.localdate()
    days = [today - timedelta(days=n) for n in range(SPARK_DAYS - 1, -1, -1)]
    campaigns = list(
        campaigns_filtered(user=user, owner_id=owner_id, status=status, channel=channel)
    )
    ids = [c.id for c in campaigns]
    channels: dict[int, list[str]] = defaultdict(list)
    for seq_id, ch in (
        Step.objects.filter(sequence_id__in={c.sequence_id for c in campaigns})
        .order_by("sequence_id", "position")
        .values_list("sequence_id", "channel")
    ):
        if ch not in channels[seq_id]:
            channels[seq_id].append(ch)
    rows = {
        c.id: CampaignRow(
            id=c.id,
            name=c.name,
            status=c.status,
            status_label=c.get_status_display(),
            owner=c.owner.get_username() if c.owner else "",
            channels=channels[c.sequence_id],
            sparkline=[0] * SPARK_DAYS,
        )
        for c in campaigns
    }
    intent_available = intent_model() is not None
    for r in CampaignStats.objects.filter(campaign_id__in=ids).values(
        "campaign_id", "enrolled", "contacted", "sent", "replied", "positive"
    ):
        row = rows[r["campaign_id"]]
        row.enrolled, row.contacted, row.sent = r["enrolled"], r["contacted"], r["sent"]
        row.replied = r["replied"]
        row.positive = r["positive"] if intent_available else None
    for day in (
        CampaignDayStats.objects.filter(
            campaign_id__in=ids, day__gte=days[0], day__lte=today, sent__gt=0
        )
        .values("campaign_id", "day")
        .annotate(n=Sum("sent"))
        .order_by()
    ):
        rows[day["campaign_id"]].sparkline[days.index(day["day"])] = day["n"]
    for won in (
        Deal.objects.filter(campaign_id__in=ids, stage__kind=Stage.Kind.WON)
        .values("campaign_id")
        .annotate(n=Count("id"))
    ):
        rows[won["campaign_id"]].won = won["n"]
    return Overview(rows=list(rows.values()), days=days, intent_available=intent_available)


# --- one campaign ----------------------------------------------------------------------------


@dataclass
class FunnelStage:
    label: str
    count: int | None  # None: not available (no data source yet)


@dataclass
class StepStats:
    label: str
    channel: str
    sent: int = 0
    delivered: int = 0
    replied: int = 0
    positive: int | None = None
    bounced: int = 0
    opted_out: int = 0
    waiting: int = 0

    def cells(self) -> list:
        return [
            self.label,
            self.channel,
            self.waiting,
            self.sent,
            self.delivered,
            _pct(rate(self.delivered, self.sent)),
            self.replied,
            _pct(rate(self.replied, self.sent)),
            "n/a" if self.positive is None else self.positive,
            self.bounced,
            _pct(rate(self.bounced, self.sent)),
            self.opted_out,
            _pct(rate(self.opted_out, self.sent)),
        ]


STEP_COLUMNS = [
    "waiting",
    "sent",
    "delivered",
    "delivery rate",
    "replied",
    "reply rate",
    "positive",
    "bounced",
    "bounce rate",
    "opted out",
    "opt-out rate",
]


@dataclass
class SenderHealth:
    id: int
    name: str
    channel: str
    sent_today: int
    cap: int
    next_slot: datetime | None
    next_slot_note: str
    errors_24h: int
    last_error: str
    # The last 7 and 30 days: bounces (reported, hard or soft, or refused at send) and spam
    # complaints.
    bounces_7d: int
    bounces_30d: int
    complaints_7d: int
    complaints_30d: int
    paused: bool
    paused_reason: str
    health: str
    queued: int


HELD_COLUMNS = [
    "message",
    "contact",
    "step",
    "template",
    "channel",
    "status",
    "why not sent",
    "not before",
]


@dataclass
class HeldMessage:
    id: int
    contact: str
    step: int
    channel: str
    status: str
    reason: str
    not_before: datetime | None
    version: str = ""  # the template version it was rendered from, "v3"

    def cells(self) -> list:
        return [
            self.id,
            self.contact,
            self.step,
            self.version,
            self.channel,
            self.status,
            self.reason,
            self.not_before.isoformat() if self.not_before else "",
        ]


@dataclass
class Dashboard:
    campaign: Campaign
    funnel: list[FunnelStage]
    steps: list[StepStats]
    variants: list[StepStats]
    days: list[date]
    sends_per_day: list[int]
    replies_per_day: list[int]
    intents: list[tuple[str, int]]
    intent_available: bool
    senders: list[SenderHealth]
    held: list[HeldMessage]
    held_total: int
    held_reasons: list[tuple[str, int]]
    history: list[AuditEntry]

    def tables(self) -> dict[str, Table]:
        funnel = Table("funnel", "Funnel", ["stage", "contacts", "of enrolled"])
        enrolled = self.funnel[0].count
        for f in self.funnel:
            funnel.rows.append(
                [f.label, "n/a" if f.count is None else f.count, _pct(rate(f.count, enrolled))]
            )
        steps = Table("steps", "Per step", ["step", "channel", *STEP_COLUMNS])
        steps.rows = [s.cells() for s in self.steps]
        variants = Table("variants", "Per variant", ["variant", "channel", *STEP_COLUMNS])
        variants.rows = [s.cells() for s in self.variants]
        series = Table("series", "Sends and replies per day", ["day", "sends", "replies"])
        series.rows = [
            [d.isoformat(), s, r]
            for d, s, r in zip(self.days, self.sends_per_day, self.replies_per_day, strict=True)
        ]
        intents = Table(
            "intents",
            "Replies by intent" if self.intent_available else "Replies by outcome",
            ["intent" if self.intent_available else "outcome", "count"],
        )
        intents.rows = [[k, n] for k, n in self.intents]
        senders = Table(
            "senders",
            "Sender health",
            [
                "sender",
                "channel",
                "sent today",
                "cap",
                "next slot",
                "queued",
                "errors (24 h)",
                "last error",
                "bounces (7 d)",
                "bounces (30 d)",
                "complaints (7 d)",
                "complaints (30 d)",
                "paused",
                "why paused",
            ],
        )
        senders.rows = [
            [
                s.name,
                s.channel,
                s.sent_today,
                s.cap,
                s.next_slot_note,
                s.queued,
                s.errors_24h,
                s.last_error,
                s.bounces_7d,
                s.bounces_30d,
                s.complaints_7d,
                s.complaints_30d,
                "yes" if s.paused else "no",
                s.paused_reason,
            ]
            for s in self.senders
        ]
        held = Table("held", "Held messages (why not sent)", HELD_COLUMNS)
        held.rows = [h.cells() for h in self.held]
        return {t.name: t for t in (funnel, steps, variants, series, intents, senders, held)}


def _held(campaign: Campaign) -> list[QuerySet[Message]]:
    """The campaign's held messages (queued, paused, unknown), as two small querysets.

    A queued or paused campaign message always belongs to a waiting or paused enrollment
    (the dispatcher, pause, resume, stop and unenrol keep it so), found through the
    `enrollment_held` index; an unknown one can outlive its enrollment's stop, and unknown
    messages are few, so those are found by status. Never a scan of every message."""
    held = Message.objects.filter(status__in=HELD_STATUSES)
    live = [E.WAITING, E.PAUSED]
    return [
        held.filter(
            step_send__enrollment__campaign=campaign, step_send__enrollment__state__in=live
        ),
        held.filter(status=M.UNKNOWN, step_send__enrollment__campaign=campaign).exclude(
            step_send__enrollment__state__in=live
        ),
    ]


def _held_counts(campaign: Campaign) -> list[Mapping[str, Any]]:
    """Held messages per (step, variant, reason, status, sender, contact time zone): the last
    three let a queued message without a reason of its own get one (`_waiting_reason`)."""
    return [
        r
        for qs in _held(campaign)
        for r in qs.values(
            "hold_reason",
            "status",
            "sender_id",
            step=F("step_send__step_id"),
            variant=F("step_send__variant_id"),
            tz=F("conversation__identity__contact__time_zone"),
        )
        .annotate(n=Count("id"))
        .order_by()
    ]


def _waiting_reason(
    sender: SenderAccount | None, contact_tz: str, now: datetime, kill_switch: bool
) -> tuple[str, datetime | None]:
    """Why a queued message with no reason of its own has not gone, and until when.

    The send path writes a reason only when it tries to send, and the outbox offers nothing
    while the kill switch is on, nothing of a paused sender and one message per free sender
    at a time: the rest of the queue would read "free sender slot" while the real reason is
    the switch, the sender or the window. So it is derived here from the same state, in the
    order the send path checks it (outreach.services._refusal, outreach.limits.why_no_token).
    """
    if kill_switch:
        return "all sending paused (kill switch)", None
    if sender is None:
        return FREE_SLOT, None
    if sender.paused:
        return f"sender paused: {sender.paused_reason or 'by a user'}", None
    capped = cap_reached(sender, now)
    if capped:
        return capped
    if sender.backoff_until and sender.backoff_until > now:
        return "platform asked us to slow down", sender.backoff_until
    if not sender.window_days:
        return "sender has no sending days", None
    # The window in the contact's time zone, else the sender's, as the send path reads it.
    tz = ZoneInfo(contact_tz or sender.time_zone or "UTC")
    window = Window(sender.window_days, sender.window_start, sender.window_end, tz)
    opens = window.next_open(now)
    if opens > now:
        return describe_wait(opens, tz), opens
    return FREE_SLOT, None


class _Reasons:
    """Each held message's reason: its own, else derived once per (sender, time zone)."""

    def __init__(self, senders: Sequence[SenderAccount], now: datetime) -> None:
        self.senders: dict[int, SenderAccount | None] = {s.id: s for s in senders}
        self.now = now
        self.kill_switch = SendingSwitch.is_paused()
        self.derived: dict[tuple[int | None, str], tuple[str, datetime | None]] = {}

    def __call__(self, m: Mapping[str, Any]) -> tuple[str, datetime | None]:
        if m["hold_reason"] or m["status"] != M.QUEUED:
            return m["hold_reason"] or FREE_SLOT, m.get("not_before")
        key = (m["sender_id"], m["tz"] or "")
        if key not in self.derived:
            sender = self.senders.get(m["sender_id"])
            if m["sender_id"] not in self.senders:  # since removed from the campaign
                sender = SenderAccount.objects.filter(id=m["sender_id"]).first()
                self.senders[m["sender_id"]] = sender
            self.derived[key] = _waiting_reason(sender, key[1], self.now, self.kill_switch)
        reason, until = self.derived[key]
        return reason, m.get("not_before") or until


def _step_rows(campaign: Campaign, held: list[Mapping[str, Any]]) -> list[dict]:
    """Counts per (step, variant) from the counters, plus the messages waiting (held) right
    now, read live. Step 0 holds what belongs to no step (enrolled, contacted, reached, and
    replies, positive replies or opt-outs of enrollments nothing was sent to)."""
    figures = ("enrolled", "contacted", "reached", *STEP_FIGURES[1:], "positive")
    rows = {
        (r["step"], r["variant"]): r | {"waiting": 0}
        for r in CampaignDayStats.objects.filter(campaign=campaign)
        .values("step", "variant")
        .annotate(**{f: Sum(f) for f in figures})
        .order_by()
    }
    for r in held:
        key = (r["step"], r["variant"] or 0)
        empty = dict.fromkeys((*figures, "waiting"), 0) | {"step": key[0], "variant": key[1]}
        rows.setdefault(key, empty)
        rows[key]["waiting"] += r["n"]
    return [rows[k] for k in sorted(rows)]


STEP_FIGURES = ("waiting", "sent", "delivered", "replied", "bounced", "opted_out")


def _stats(label: str, channel: str, r: dict | None) -> StepStats:
    s = StepStats(label=label, channel=channel)
    if r:
        for k in STEP_FIGURES:
            setattr(s, k, r[k])
        s.positive = r.get("positive")
    return s


def _bounces(since: datetime) -> QuerySet:
    """The sender's bounces since then, one per bounce (a message soft-bounced twice, then
    hard, is three): the events outreach records for them (outreach.inbound.apply._fail and
    outreach.suppress.soft_bounce_retry for reported ones, outreach.services._record_failed
    for refusals at send, "bounce_…" or "soft_bounce_…" once retrying gave up)."""
    return MessageEvent.objects.filter(
        Q(status=M.FAILED, detail__startswith="bounce_")
        | Q(status=M.FAILED, detail__startswith="soft_bounce_")
        | Q(status=M.QUEUED, detail__startswith="soft bounce ("),
        message__sender_id=OuterRef("id"),
        message__direction=Message.Direction.OUTBOUND,
        at__gte=since,
    )


def _complaints(since: datetime) -> QuerySet:
    # outreach.inbound.apply leaves each complaint as an inbound message with this event.
    return Message.objects.filter(
        sender_id=OuterRef("id"),
        direction=Message.Direction.INBOUND,
        events__detail="complaint",
        created_at__gte=since,
    )


def _count_of(qs: QuerySet, by: str = "sender_id") -> Coalesce:
    """COUNT(*) of a correlated queryset as a subquery: each sender's count comes from the
    (sender, status, id) index instead of joining every message the sender ever sent."""
    count = qs.order_by().values(by).annotate(n=Count("id")).values("n")
    return Coalesce(Subquery(count), 0)


def _window_words(sender: SenderAccount) -> str:
    days = [WEEKDAYS[int(d)] for d in sorted(sender.window_days)]
    span = f"{sender.window_start:%H:%M}-{sender.window_end:%H:%M}"
    if sender.window_start == sender.window_end:
        span = "all day"
    return f"{' '.join(days) or 'no days'} {span} in each contact's time zone"


def sender_next_slot(sender: SenderAccount, now: datetime) -> tuple[datetime | None, str]:
    """When this sender's own limits (pause, backoff, spacing, daily cap) next let it send,
    in words. The sending window is not folded in: it is read in each contact's time zone
    (the sender's only for contacts without one), so no single time would be true for every
    queued message; it is named instead."""
    if sender.paused:
        return None, f"paused: {sender.paused_reason or 'by a user'}"
    tz = ZoneInfo(sender.time_zone or "UTC")
    at = max(t for t in (now, sender.next_send_at, sender.backoff_until) if t is not None)
    day = local_day(sender, at)
    if sender.counter_day == day and sender.sent_today >= effective_cap(sender, day):
        at = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    window = _window_words(sender)
    if at <= now:
        return now, f"now, within the window ({window})"
    return at, f"{at.astimezone(tz):%a %d %b %H:%M} {tz.key}, then within the window ({window})"


def campaign_dashboard(*, campaign: Campaign, now: datetime | None = None) -> Dashboard:
    """Thirteen queries, whatever the size of the campaign."""
    now = now or timezone.now()
    intent_available = intent_model() is not None
    steps = list(
        Step.objects.filter(sequence_id=campaign.sequence_id)
        .select_related("template")
        .order_by("position")
    )
    step_by_id = {s.id: s for s in steps}
    held_counts = _held_counts(campaign)
    rows = _step_rows(campaign, held_counts)
    total: dict = {k: sum(r[k] for r in rows) for k in ("enrolled", "contacted", "reached")}
    total |= {k: sum(r[k] for r in rows) for k in ("replied", "positive", "opted_out", "bounced")}
    # A step's figures are the sums of its variants' (every figure is a plain count).
    by_step: dict[int, dict] = {}
    for r in rows:
        if r["step"] in step_by_id:
            t = by_step.setdefault(r["step"], dict.fromkeys((*STEP_FIGURES, "positive"), 0))
            for k in t:
                t[k] += r[k]
    if not intent_available:
        for r in (*rows, *by_step.values()):
            r.pop("positive", None)
    step_stats = [
        _stats(f"{s.position}. {s.template.name}", s.get_channel_display(), by_step.get(s.id))
        for s in steps
    ]
    labels = dict(
        TemplateVariant.objects.filter(
            id__in=[r["variant"] for r in rows if r["variant"] and r["step"] in step_by_id]
        ).values_list("id", "label")
    )
    variant_stats = [
        _stats(
            f"step {step_by_id[r['step']].position} / {labels[r['variant']]}",
            step_by_id[r["step"]].get_channel_display(),
            r,
        )
        for r in rows
        # A deleted variant's counts stay in its step's figures, not in this table.
        if r["variant"] in labels and r["step"] in step_by_id
    ]
    won = Deal.objects.filter(campaign=campaign, stage__kind=Stage.Kind.WON).count()
    funnel = [
        FunnelStage("Enrolled", total["enrolled"]),
        FunnelStage("Contacted", total["contacted"]),
        FunnelStage("Delivered", total["reached"]),
        FunnelStage("Replied", total["replied"]),
        FunnelStage("Interested", total["positive"] if intent_available else None),
        FunnelStage("Won", won),
    ]

    today = timezone.localdate(now)
    first = today - timedelta(days=SERIES_DAYS - 1)
    start = max(first, timezone.localdate(campaign.launched_at or campaign.created_at))
    days = [start + timedelta(days=n) for n in range((today - start).days + 1)]
    per_day = {
        r["day"]: r
        for r in CampaignDayStats.objects.filter(campaign=campaign, day__gte=start)
        .values("day")
        .annotate(sent=Sum("sent"), replied=Sum("replied"))
        .order_by()
    }
    if intent_available:
        intents = list(
            CampaignIntentStats.objects.filter(campaign=campaign, n__gt=0)
            .order_by("-n", "intent")
            .values_list("intent", "n")
        )
    else:
        # No intent labels: break replies down by the outcome the engine records.
        intents = [
            ("replied", total["replied"]),
            ("opted out", total["opted_out"]),
            ("bounced", total["bounced"]),
        ]

    senders = []
    sender_rows = []
    day_ago = now - timedelta(hours=24)
    week_ago, month_ago = now - timedelta(days=7), now - timedelta(days=30)
    for s in campaign.senders.annotate(
        _errors=_count_of(
            Message.objects.filter(
                sender_id=OuterRef("id"), status=M.FAILED, created_at__gte=day_ago
            )
        ),
        _queued=_count_of(Message.objects.filter(sender_id=OuterRef("id"), status=M.QUEUED)),
        _bounces_7=_count_of(_bounces(week_ago), by="message__sender_id"),
        _bounces_30=_count_of(_bounces(month_ago), by="message__sender_id"),
        _complaints_7=_count_of(_complaints(week_ago)),
        _complaints_30=_count_of(_complaints(month_ago)),
    ).order_by("name"):
        sender_rows.append(s)
        day = local_day(s, now)
        slot, note = sender_next_slot(s, now)
        senders.append(
            SenderHealth(
                id=s.id,
                name=s.name,
                channel=s.get_channel_display(),
                sent_today=s.sent_today if s.counter_day == day else 0,
                cap=effective_cap(s, day),
                next_slot=slot,
                next_slot_note=note,
                errors_24h=s._errors,  # type: ignore[attr-defined]
                last_error=s.last_error,
                bounces_7d=s._bounces_7,  # type: ignore[attr-defined]
                bounces_30d=s._bounces_30,  # type: ignore[attr-defined]
                complaints_7d=s._complaints_7,  # type: ignore[attr-defined]
                complaints_30d=s._complaints_30,  # type: ignore[attr-defined]
                paused=s.paused,
                paused_reason=s.paused_reason,
                health=s.get_health_display(),
                queued=s._queued,  # type: ignore[attr-defined]
            )
        )

    reasons = _Reasons(sender_rows, now)
    held = list(held_messages(campaign=campaign, reasons=reasons, limit=HELD_LIMIT))
    by_reason: Counter[str] = Counter()
    for h in held_counts:
        by_reason[reasons(h)[0]] += h["n"]
    held_reasons = sorted(by_reason.items(), key=lambda x: -x[1])[:10]
    return Dashboard(
        campaign=campaign,
        funnel=funnel,
        steps=step_stats,
        variants=variant_stats,
        days=days,
        sends_per_day=[per_day[d]["sent"] if d in per_day else 0 for d in days],
        replies_per_day=[per_day[d]["replied"] if d in per_day else 0 for d in days],
        intents=intents,
        intent_available=intent_available,
        senders=senders,
        held=held,
        held_total=sum(by_reason.values()),
        held_reasons=held_reasons,
        history=list(
            AuditEntry.objects.filter(target_type="campaign", target_id=campaign.id)
            .select_related("actor")
            .order_by("-at")[:10]
        ),
    )


def held_messages(
    *,
    campaign: Campaign,
    now: datetime | None = None,
    reasons: _Reasons | None = None,
    limit: int | None = None,
) -> Iterator[HeldMessage]:
    """The campaign's held messages, longest-waiting first, each with why it is not sent.
    Without a limit every one, read in chunks (the CSV export streams them)."""
    now = now or timezone.now()
    first_held = F("not_before").asc(nulls_first=True), "id"
    queries = [
        qs.order_by(*first_held).values(
            "id",
            "channel",
            "status",
            "hold_reason",
            "not_before",
            "sender_id",
            step=F("step_send__step__position"),
            version=F("step_send__template_version__number"),
            cid=F("conversation__identity__contact_id"),
            first=F("conversation__identity__contact__first_name"),
            last=F("conversation__identity__contact__last_name"),
            tz=F("conversation__identity__contact__time_zone"),
        )
        for qs in _held(campaign)
    ]
    if limit is None:
        rows = [q.iterator(chunk_size=2000) for q in queries]
    else:
        rows = [iter(q[:limit]) for q in queries]
    merged = heapq.merge(
        *rows, key=lambda m: (m["not_before"] is not None, m["not_before"] or now, m["id"])
    )
    if reasons is None:
        reasons = _Reasons(list(campaign.senders.all()), now)
    for n, m in enumerate(merged):
        if limit is not None and n >= limit:
            return
        reason, not_before = reasons(m)
        yield HeldMessage(
            id=m["id"],
            contact=f"{m['first']} {m['last']}".strip() or f"contact #{m['cid']}",
            step=m["step"],
            channel=m["channel"],
            status=m["status"],
            reason=reason,
            not_before=not_before,
            version=f"v{m['version']}" if m["version"] else "",
        )
