"""The overview panel: every campaign the user may see, one row each, with a sparkline."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db.models import Count, QuerySet, Sum
from django.utils import timezone

from analytics.tables import Table, pct, rate
from campaigns.access import campaigns_visible_to
from campaigns.counters import intent_model
from campaigns.models import Campaign, CampaignDayStats, CampaignStats, Enrollment, Step
from pipelines.models import Deal, Stage

E = Enrollment.State
SPARK_DAYS = 14


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

    @property
    def sparkline_empty(self) -> str:
        """Why the sparkline would be a flat line, in words; empty when it has sends."""
        if any(self.sparkline):
            return ""
        if self.status == Campaign.Status.DRAFT:
            return "Not launched yet"
        return f"No sends in the last {len(self.sparkline)} days"


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
                    pct(r.reply_rate),
                    " ".join(str(n) for n in r.sparkline),
                ]
            )
        return t


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
