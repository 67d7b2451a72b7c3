"""What the sender health page shows (analytics/sender_health.py): today's sends against
the cap and the warm-up ramp, the guard's rates against its thresholds, the last 30 days day
by day, the pauses with their reasons, and the breakdown by the recipients' provider."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Case, CharField, Count, Exists, OuterRef, Q, Value, When
from django.db.models.functions import TruncDate

from core.audit import AuditEntry
from deliverability.guards import guard_for
from deliverability.models import SenderGuard
from deliverability.rates import Rates, domain_rates, sender_domain, sender_rates
from outreach.limits import effective_cap, local_day
from outreach.models import Message, MessageEvent, SenderAccount

M = Message.Status
OUT, IN = Message.Direction.OUTBOUND, Message.Direction.INBOUND
DAYS = 30
# Recipient domains by mailbox provider; the rest is "Other".
PROVIDERS = (
    ("Gmail", ("gmail.com", "googlemail.com")),
    ("Outlook / Hotmail", ("outlook.com", "hotmail.com", "live.com", "msn.com")),
    ("Yahoo / AOL", ("yahoo.com", "ymail.com", "aol.com")),
)


@dataclass
class Pause:
    at: datetime
    reason: str
    by: str


@dataclass
class ProviderRow:
    provider: str
    sends: int
    bounces: int
    complaints: int


@dataclass
class Health:
    sender: SenderAccount
    guard: SenderGuard
    domain: str
    sent_today: int
    cap_today: int
    ramp: str
    rates: Rates
    domain_rates: Rates | None
    days: list[date]
    sends: list[int]
    bounces: list[int]
    complaints: list[int]
    pauses: list[Pause]
    providers: list[ProviderRow]

    def counts(self) -> bool:
        return self.rates.sends >= self.guard.min_sends

    def rolling(self, values: list[int]) -> list[float | None]:
        """Each day's rate over the guard's window ending that day, in percent; None while
        the window holds fewer sends than the guard's minimum."""
        w = self.guard.window_days
        out: list[float | None] = []
        for i in range(len(self.days)):
            sends = sum(self.sends[max(0, i - w + 1) : i + 1])
            hits = sum(values[max(0, i - w + 1) : i + 1])
            out.append(round(100.0 * hits / sends, 2) if sends >= self.guard.min_sends else None)
        return out


def _ramp(sender: SenderAccount, today: date) -> str:
    if sender.warmup_start_cap is None:
        return f"no warm-up: {sender.daily_cap} a day"
    cap = effective_cap(sender, today)
    if cap >= sender.daily_cap:
        return f"warm-up done: {sender.daily_cap} a day"
    left = -(-(sender.daily_cap - cap) // max(sender.warmup_daily_increase, 1))
    return (
        f"warming up: {cap} today, +{sender.warmup_daily_increase} a day, "
        f"{sender.daily_cap} in {left} days"
    )


def _provider_of(field: str) -> Case:
    whens = [
        When(Q(**{f"{field}__iendswith": f"@{d}"}), then=Value(name))
        for name, domains in PROVIDERS
        for d in domains
    ]
    return Case(*whens, default=Value("Other"), output_field=CharField())


def _per_day(qs, field: str, days: list[date]) -> list[int]:
    rows = qs.annotate(day=TruncDate(field)).values("day").annotate(n=Count("id", distinct=True))
    by_day = {r["day"]: r["n"] for r in rows.order_by()}
    return [by_day.get(d, 0) for d in days]


def sender_health(*, sender: SenderAccount, now: datetime) -> Health:
    guard = guard_for(sender)
    since = now - timedelta(days=DAYS)
    days = [(now - timedelta(days=DAYS - 1 - i)).date() for i in range(DAYS)]
    today = local_day(sender, now)
    domain = sender_domain(sender) if sender.channel == "email" else ""
    sent_events = MessageEvent.objects.filter(
        message__sender=sender, message__direction=OUT, status=M.SENT, at__gte=since
    )
    bounce_events = MessageEvent.objects.filter(
        message__sender=sender,
        message__direction=OUT,
        status=M.FAILED,
        detail__startswith="bounce_",
        at__gte=since,
    )
    complaints = Message.objects.filter(
        sender=sender, direction=IN, created_at__gte=since, events__detail="complaint"
    )
    outbound = Message.objects.filter(sender=sender, direction=OUT)
    sent = MessageEvent.objects.filter(message_id=OuterRef("id"), status=M.SENT, at__gte=since)
    bounced = MessageEvent.objects.filter(
        message_id=OuterRef("id"), status=M.FAILED, detail__startswith="bounce_", at__gte=since
    )
    who = "conversation__identity__value"
    provider_rows: dict[str, ProviderRow] = {
        name: ProviderRow(name, 0, 0, 0) for name, _ in PROVIDERS
    } | {"Other": ProviderRow("Other", 0, 0, 0)}
    for attr, qs in (
        ("sends", outbound.filter(Exists(sent) | Exists(bounced))),
        ("bounces", outbound.filter(Exists(bounced))),
        ("complaints", complaints),
    ):
        grouped = qs.annotate(p=_provider_of(who)).values("p").annotate(n=Count("id"))
        for row in grouped.order_by():
            setattr(provider_rows[row["p"]], attr, row["n"])
    pauses = [
        Pause(
            a.at,
            a.detail if a.action == "sender.pause" else "resumed",
            a.actor.get_username() if a.actor else "automatic",
        )
        for a in AuditEntry.objects.filter(
            action__in=("sender.pause", "sender.resume"),
            target_type="senderaccount",
            target_id=sender.id,
        )
        .select_related("actor")
        .order_by("-at")[:20]
    ]
    return Health(
        sender=sender,
        guard=guard,
        domain=domain,
        sent_today=sender.sent_today if sender.counter_day == today else 0,
        cap_today=effective_cap(sender, today),
        ramp=_ramp(sender, today),
        rates=sender_rates(sender, now=now, days=guard.window_days),
        domain_rates=domain_rates(domain, now=now, days=guard.window_days) if domain else None,
        days=days,
        sends=_per_day(sent_events, "at", days),
        bounces=_per_day(bounce_events, "at", days),
        complaints=_per_day(complaints, "created_at", days),
        pauses=pauses,
        providers=list(provider_rows.values()),
    )
