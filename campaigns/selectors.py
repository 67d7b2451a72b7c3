"""Dashboard reads: a fixed number of aggregate queries, whatever the number of campaigns,
steps, variants or senders, each returning a small dataclass the templates render directly.

Definitions used everywhere (and in the tests):
- sent: an outbound campaign message that left (it has sent_at), bounced ones included;
- delivered: the platform confirmed delivery or a read;
- contacted: an enrollment with at least one sent message;
- replied: an enrollment stopped by a reply; a reply belongs to the last step sent before it;
- bounced: a sent message that failed with a bounce; opted out: the contact opted out;
- won: a deal from the campaign in a "won" stage;
- interested / positive: an enrollment whose contact replied, after enrolling, with a reply
  labelled interested (outreach's MessageIntent; a rep's correction wins). Without intent
  labels installed the figure is None and shown as "n/a", never guessed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.apps import apps
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Coalesce, NullIf, TruncDate
from django.utils import timezone

from campaigns.access import campaigns_visible_to
from campaigns.models import Campaign, Deal, Enrollment, Stage, Step, StepSend
from outreach.limits import effective_cap, local_day
from outreach.models import AuditEntry, Message, SenderAccount, SendingSwitch
from outreach.windows import Window

E = Enrollment.State
M = Message.Status
SPARK_DAYS = 14
SERIES_DAYS = 60
HELD_LIMIT = 100
POSITIVE_INTENTS = ("interested", "positive", "meeting")
HELD_STATUSES = [M.QUEUED, M.PAUSED, M.UNKNOWN]


def intent_model():
    """outreach's reply-intent labels (MessageIntent), if this installation has them."""
    try:
        return apps.get_model("outreach", "MessageIntent")
    except LookupError:
        return None


def interested(contact: str = "contact_id", since: str = "created_at") -> Q | None:
    """An enrollment whose contact sent a reply labelled interested after enrolling (a rep's
    correction wins over the classifier's label), as a filter. None without intent labels.

    The contact is first checked against the (small) set of contacts with such a reply, which
    PostgreSQL hashes once; only those rows pay for the correlated date check."""
    model = intent_model()
    if model is None:
        return None
    labels = model.objects.filter(
        Q(corrected_label__in=POSITIVE_INTENTS) | Q(corrected_label="", label__in=POSITIVE_INTENTS)
    )
    contacts = labels.values("message__conversation__identity__contact_id")
    after_enrolling = Exists(
        labels.filter(
            message__conversation__identity__contact_id=OuterRef(contact),
            message__created_at__gte=OuterRef(since),
        )
    )
    return Q(**{f"{contact}__in": contacts}) & Q(after_enrolling)


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


def _sent_q(prefix: str = "message__") -> Q:
    return Q(
        **{f"{prefix}sent_at__isnull": False, f"{prefix}direction": Message.Direction.OUTBOUND}
    )


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
    """Six queries for any number of campaigns."""
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
    positive = interested()
    agg: dict = {
        "enrolled": Count("id"),
        "replied": Count("id", filter=Q(state=E.REPLIED)),
    }
    enrollments = Enrollment.objects.filter(campaign_id__in=ids)
    if positive is not None:
        agg["positive"] = Count("id", filter=positive)
    for r in enrollments.values("campaign_id").annotate(**agg):
        row = rows[r["campaign_id"]]
        row.enrolled, row.replied = r["enrolled"], r["replied"]
        row.positive = r.get("positive")
    for r in (
        StepSend.objects.filter(_sent_q(), enrollment__campaign_id__in=ids)
        .values(cid=F("enrollment__campaign_id"))
        .annotate(sent=Count("id"), contacted=Count("enrollment_id", distinct=True))
    ):
        rows[r["cid"]].sent, rows[r["cid"]].contacted = r["sent"], r["contacted"]
    for r in (
        StepSend.objects.filter(
            _sent_q(), enrollment__campaign_id__in=ids, message__sent_at__date__gte=days[0]
        )
        .values(cid=F("enrollment__campaign_id"), day=TruncDate("message__sent_at"))
        .annotate(n=Count("id"))
    ):
        if r["day"] in days:
            rows[r["cid"]].sparkline[days.index(r["day"])] = r["n"]
    for r in (
        Deal.objects.filter(campaign_id__in=ids, stage__kind=Stage.Kind.WON)
        .values("campaign_id")
        .annotate(n=Count("id"))
    ):
        rows[r["campaign_id"]].won = r["n"]
    return Overview(rows=list(rows.values()), days=days, intent_available=positive is not None)


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
    paused: bool
    paused_reason: str
    health: str
    queued: int


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
    sending_paused: bool
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
                "yes" if s.paused else "no",
                s.paused_reason,
            ]
            for s in self.senders
        ]
        held = Table(
            "held",
            "Held messages (why not sent)",
            [
                "message",
                "contact",
                "step",
                "template",
                "channel",
                "status",
                "why not sent",
                "not before",
            ],
        )
        held.rows = [
            [
                h.id,
                h.contact,
                h.step,
                h.version,
                h.channel,
                h.status,
                h.reason,
                h.not_before.isoformat() if h.not_before else "",
            ]
            for h in self.held
        ]
        return {t.name: t for t in (funnel, steps, variants, series, intents, senders, held)}


def _step_rows(campaign: Campaign, group: list[str]) -> list[dict]:
    """Per-step (or per-variant) counts in one query. A reply or opt-out is attributed to the
    last step that was sent to the enrollment."""
    later_sent = StepSend.objects.filter(
        enrollment_id=OuterRef("enrollment_id"),
        step__position__gt=OuterRef("step__position"),
        message__sent_at__isnull=False,
    )
    sent = _sent_q()
    # The cheap conditions come first: PostgreSQL evaluates an aggregate's FILTER left to
    # right, so the correlated "no later step was sent" check only runs for the few rows
    # that replied, opted out or were interested.
    last = Q(is_last=True)
    agg = {
        "waiting": Count("id", filter=Q(message__status__in=HELD_STATUSES)),
        "sent": Count("id", filter=sent),
        "delivered": Count("id", filter=Q(message__status__in=[M.DELIVERED, M.READ])),
        "replied": Count("id", filter=Q(enrollment__state=E.REPLIED) & sent & last),
        "bounced": Count(
            "id", filter=Q(sent, message__status=M.FAILED, message__error_code__startswith="bounce")
        ),
        "opted_out": Count(
            "id", filter=Q(enrollment__contact__opted_out_at__isnull=False) & sent & last
        ),
    }
    rows = StepSend.objects.filter(enrollment__campaign=campaign).alias(is_last=~Exists(later_sent))
    positive = interested("enrollment__contact_id", "enrollment__created_at")
    if positive is not None:
        agg["positive"] = Count("id", filter=sent & positive & last)
    return list(rows.values(*group).annotate(**agg).order_by(*group))


STEP_FIGURES = ("waiting", "sent", "delivered", "replied", "bounced", "opted_out")


def _stats(label: str, channel: str, r: dict | None) -> StepStats:
    s = StepStats(label=label, channel=channel)
    if r:
        for k in STEP_FIGURES:
            setattr(s, k, r[k])
        s.positive = r.get("positive")
    return s


def sender_next_slot(sender: SenderAccount, now: datetime) -> tuple[datetime | None, str]:
    """When this sender can next send, by the limiter's own rules, in words."""
    if sender.paused:
        return None, f"paused: {sender.paused_reason or 'by a user'}"
    tz = ZoneInfo(sender.time_zone or "UTC")
    at = max(t for t in (now, sender.next_send_at, sender.backoff_until) if t is not None)
    day = local_day(sender, at)
    if sender.counter_day == day and sender.sent_today >= effective_cap(sender, day):
        at = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    window = Window(sender.window_days, sender.window_start, sender.window_end, tz)
    at = window.next_open(at)
    if at <= now:
        return now, "now"
    return at, f"{at.astimezone(tz):%a %d %b %H:%M} {tz.key}"


def campaign_dashboard(*, campaign: Campaign, now: datetime | None = None) -> Dashboard:
    """Thirteen queries, whatever the size of the campaign."""
    now = now or timezone.now()
    positive = interested()
    steps = list(
        Step.objects.filter(sequence_id=campaign.sequence_id)
        .select_related("template")
        .order_by("position")
    )
    # One pass per (step, variant); a step's figures are the sums of its variants' (every
    # figure is a plain count), so the big join runs once, not twice.
    variant_rows = _step_rows(campaign, ["step_id", "variant_id", "variant__label"])
    by_step: dict[int, dict] = {}
    for r in variant_rows:
        total = by_step.setdefault(r["step_id"], dict.fromkeys(STEP_FIGURES, 0))
        for k in STEP_FIGURES:
            total[k] += r[k]
        if "positive" in r:
            total["positive"] = total.get("positive", 0) + r["positive"]
    step_stats = [
        _stats(f"{s.position}. {s.template.name}", s.get_channel_display(), by_step.get(s.id))
        for s in steps
    ]
    step_by_id = {s.id: s for s in steps}
    variant_stats = [
        _stats(
            f"step {step_by_id[r['step_id']].position} / {r['variant__label']}",
            step_by_id[r["step_id"]].get_channel_display(),
            r,
        )
        for r in variant_rows
        if r["variant_id"] is not None and r["step_id"] in step_by_id
    ]

    enrollments = Enrollment.objects.filter(campaign=campaign)
    agg: dict = {
        "enrolled": Count("id"),
        "replied": Count("id", filter=Q(state=E.REPLIED)),
        "opted_out": Count("id", filter=Q(contact__opted_out_at__isnull=False)),
        "bounced": Count("id", filter=Q(state=E.FAILED, hold_reason__contains="bounce")),
    }
    if positive is not None:
        agg["interested"] = Count("id", filter=positive)
    e = enrollments.aggregate(**agg)
    reached = StepSend.objects.filter(enrollment__campaign=campaign).aggregate(
        contacted=Count("enrollment_id", distinct=True, filter=_sent_q()),
        delivered=Count(
            "enrollment_id",
            distinct=True,
            filter=Q(message__status__in=[M.DELIVERED, M.READ]),
        ),
    )
    won = Deal.objects.filter(campaign=campaign, stage__kind=Stage.Kind.WON).count()
    funnel = [
        FunnelStage("Enrolled", e["enrolled"]),
        FunnelStage("Contacted", reached["contacted"]),
        FunnelStage("Delivered", reached["delivered"]),
        FunnelStage("Replied", e["replied"]),
        FunnelStage("Interested", e.get("interested")),
        FunnelStage("Won", won),
    ]

    today = timezone.localdate(now)
    first = today - timedelta(days=SERIES_DAYS - 1)
    start = max(first, timezone.localdate(campaign.launched_at or campaign.created_at))
    days = [start + timedelta(days=n) for n in range((today - start).days + 1)]
    sends = dict(
        StepSend.objects.filter(
            _sent_q(), enrollment__campaign=campaign, message__sent_at__date__gte=start
        )
        .annotate(day=TruncDate("message__sent_at"))
        .values("day")
        .annotate(n=Count("id"))
        .values_list("day", "n")
    )
    replies = dict(
        enrollments.filter(replied_at__date__gte=start)
        .annotate(day=TruncDate("replied_at"))
        .values("day")
        .annotate(n=Count("id"))
        .values_list("day", "n")
    )
    model = intent_model()
    if model is not None:
        # Labels of replies from this campaign's contacts, received after they were enrolled.
        label = Coalesce(NullIf("corrected_label", Value("")), "label")
        intents = list(
            model.objects.filter(
                message__conversation__identity__contact__enrollments__campaign=campaign,
                message__created_at__gte=F(
                    "message__conversation__identity__contact__enrollments__created_at"
                ),
            )
            .annotate(intent=label)
            .values("intent")
            .annotate(n=Count("id"))
            .values_list("intent", "n")
            .order_by("-n", "intent")
        )
    else:
        # No intent labels: break replies down by the outcome the engine records.
        intents = [
            ("replied", e["replied"]),
            ("opted out", e["opted_out"]),
            ("bounced", e["bounced"]),
        ]

    senders = []
    day_ago = now - timedelta(hours=24)
    for s in campaign.senders.annotate(
        _errors=Count(
            "messages",
            filter=Q(messages__status=M.FAILED, messages__created_at__gte=day_ago),
        ),
        _queued=Count("messages", filter=Q(messages__status=M.QUEUED)),
    ).order_by("name"):
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
                paused=s.paused,
                paused_reason=s.paused_reason,
                health=s.get_health_display(),
                queued=s._queued,  # type: ignore[attr-defined]
            )
        )

    held_qs = Message.objects.filter(
        step_send__enrollment__campaign=campaign, status__in=HELD_STATUSES
    )
    held = [
        HeldMessage(
            id=m["id"],
            contact=f"{m['first']} {m['last']}".strip() or f"contact #{m['cid']}",
            step=m["step"],
            channel=m["channel"],
            status=m["status"],
            reason=m["hold_reason"] or "waiting for a free sender slot",
            not_before=m["not_before"],
            version=f"v{m['version']}" if m["version"] else "",
        )
        for m in held_qs.order_by(F("not_before").asc(nulls_first=True), "id").values(
            "id",
            "channel",
            "status",
            "hold_reason",
            "not_before",
            step=F("step_send__step__position"),
            version=F("step_send__template_version__number"),
            cid=F("conversation__identity__contact_id"),
            first=F("conversation__identity__contact__first_name"),
            last=F("conversation__identity__contact__last_name"),
        )[:HELD_LIMIT]
    ]
    reasons = list(
        held_qs.values("hold_reason")
        .annotate(n=Count("id"))
        .values_list("hold_reason", "n")
        .order_by("-n")[:10]
    )
    held_reasons = [(r or "waiting for a free sender slot", n) for r, n in reasons]
    return Dashboard(
        campaign=campaign,
        funnel=funnel,
        steps=step_stats,
        variants=variant_stats,
        days=days,
        sends_per_day=[sends.get(d, 0) for d in days],
        replies_per_day=[replies.get(d, 0) for d in days],
        intents=intents,
        intent_available=model is not None,
        senders=senders,
        held=held,
        held_total=sum(n for _, n in held_reasons) if len(reasons) < 10 else held_qs.count(),
        held_reasons=held_reasons,
        sending_paused=SendingSwitch.is_paused(),
        history=list(
            AuditEntry.objects.filter(target_type="campaign", target_id=campaign.id)
            .select_related("actor")
            .order_by("-at")[:10]
        ),
    )
