"""One campaign's dashboard: funnel, per step and per variant, sends and replies per day,
replies by intent, and the sender-health and held-messages panels (analytics/senders.py,
analytics/held.py)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone

from analytics.held import HELD_COLUMNS, HeldMessage, HeldReasons, held_counts, held_messages
from analytics.history import event_sentence
from analytics.senders import SenderHealth, senders_health
from analytics.tables import Link, Table, pct, rate
from campaigns.counters import intent_model
from campaigns.models import Campaign, CampaignDayStats, CampaignIntentStats, Step, TemplateVariant
from core.audit import AuditEntry
from outreach.channels.registry import channel_type
from outreach.models import Message
from pipelines.models import Deal, Stage

M = Message.Status
SERIES_DAYS = 60
HELD_LIMIT = 100


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
    delivery_reported: bool = True  # False: the channel has no delivery receipts

    def cells(self) -> list:
        if self.delivery_reported:
            delivered: list = [self.delivered, pct(rate(self.delivered, self.sent))]
        else:
            delivered = [f"n/a (not reported by {self.channel})", "n/a"]
        return [
            self.label,
            self.channel,
            self.waiting,
            self.sent,
            *delivered,
            self.replied,
            pct(rate(self.replied, self.sent)),
            "n/a" if self.positive is None else self.positive,
            self.bounced,
            pct(rate(self.bounced, self.sent)),
            self.opted_out,
            pct(rate(self.opted_out, self.sent)),
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

    @property
    def history_lines(self) -> list[tuple[AuditEntry, str]]:
        return [(a, event_sentence(a)) for a in self.history]

    def tables(self) -> dict[str, Table]:
        funnel = Table("funnel", "Funnel", ["stage", "contacts", "of enrolled"])
        enrolled = self.funnel[0].count
        replied = next((f.count for f in self.funnel if f.label == "Replied"), 0)
        for f in self.funnel:
            funnel.rows.append(
                [f.label, "n/a" if f.count is None else f.count, pct(rate(f.count, enrolled))]
            )
        steps = Table("steps", "Per step", ["step", "channel", *STEP_COLUMNS])
        steps.rows = [s.cells() for s in self.steps]
        variants = Table(
            "variants",
            "Per variant",
            ["variant", "channel", *STEP_COLUMNS],
            empty="No A/B variants: every step sends its template as written.",
        )
        variants.rows = [s.cells() for s in self.variants]
        series = Table("series", "Sends and replies per day", ["day", "sends", "replies"])
        series.rows = [
            [d, s, r]
            for d, s, r in zip(self.days, self.sends_per_day, self.replies_per_day, strict=True)
        ]
        intents = Table(
            "intents",
            "Replies by intent" if self.intent_available else "Replies by outcome",
            ["intent" if self.intent_available else "outcome", "count"],
            empty="No replies yet." if not replied else "No reply has an intent label yet.",
        )
        intents.rows = [[k, n] for k, n in self.intents]
        senders = Table(
            "senders",
            "Sender pool and health",
            [
                "sender",
                "channel",
                "sent today",
                "cap",
                "left today",
                "provider caps",
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
                Link(s.name, reverse("dashboards:sender_health", args=[s.id])),
                s.channel,
                s.sent_today,
                s.cap,
                s.left_today,
                s.provider_caps or "none",
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
        held = Table(
            "held",
            "Held messages",
            HELD_COLUMNS,
            empty="Nothing waiting: every message due went out.",
        )
        held.rows = [h.cells() for h in self.held]
        return {t.name: t for t in (funnel, steps, variants, series, intents, senders, held)}


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


def delivery_reported(channel: str) -> bool:
    """Whether the channel's platform tells us a message arrived (Channel.delivery_receipts);
    an unknown (no longer configured) channel is taken at its word: it did report."""
    try:
        return channel_type(channel).delivery_receipts
    except LookupError:
        return True


def _stats(label: str, step: Step, r: dict | None) -> StepStats:
    s = StepStats(
        label=label,
        channel=step.get_channel_display(),
        delivery_reported=delivery_reported(step.channel),
    )
    if r:
        for k in STEP_FIGURES:
            setattr(s, k, r[k])
        s.positive = r.get("positive")
    return s


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
    counts = held_counts(campaign)
    rows = _step_rows(campaign, counts)
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
    step_stats = [_stats(f"{s.position}. {s.template.name}", s, by_step.get(s.id)) for s in steps]
    labels = dict(
        TemplateVariant.objects.filter(
            id__in=[r["variant"] for r in rows if r["variant"] and r["step"] in step_by_id]
        ).values_list("id", "label")
    )
    variant_stats = [
        _stats(
            f"step {step_by_id[r['step']].position} / {labels[r['variant']]}",
            step_by_id[r["step"]],
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
        # No step's channel reports delivery: the count would read as "none arrived".
        FunnelStage(
            "Delivered",
            total["reached"] if any(delivery_reported(s.channel) for s in steps) else None,
        ),
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

    senders, sender_rows = senders_health(campaign, now)

    reasons = HeldReasons(sender_rows, now)
    held = list(held_messages(campaign=campaign, reasons=reasons, limit=HELD_LIMIT))
    by_reason: Counter[str] = Counter()
    for h in counts:
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
