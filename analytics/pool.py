"""Where a campaign's messages go, shown before launch (the builder's review step): for each
step, the senders of its channel in the campaign's pool, and for each sender its state now:
sends left today against its cap (after warm-up), paused and why, provider caps, and for a
WhatsApp number its messaging tier. The dispatcher (campaigns.dispatch._pick_sender) picks
among the senders of the step's channel that are not paused and have capacity left; a step
whose channel has no sender in the pool cannot send at all."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from analytics.senders import SenderHealth, senders_health
from campaigns.models import Campaign, Step
from campaigns.routes import routes_for_steps
from contacts.channels import channel_label
from deliverability.models import WhatsAppAccount


@dataclass
class PoolSender:
    health: SenderHealth
    channel_key: str
    steps: list[int] = field(default_factory=list)
    tier: str = ""  # WhatsApp: unique users per 24 h

    @property
    def state(self) -> str:
        """In words: what the dispatcher will do with it now."""
        h = self.health
        if h.paused:
            return f"paused: {h.paused_reason}" if h.paused_reason else "paused"
        if h.left_today <= 0:
            return "full for today"
        return "sending"


@dataclass
class PoolStep:
    position: int
    channels: list[str]  # the step's channel, then its alternatives'
    senders: list[str]  # names of the senders that can carry it
    problem: str = ""


@dataclass
class Pool:
    senders: list[PoolSender]
    steps: list[PoolStep]


def campaign_pool(*, campaign: Campaign, now: datetime) -> Pool:
    health, rows = senders_health(campaign, now)
    channel_of = {s.id: s.channel for s in rows}
    pool = [PoolSender(h, channel_of[h.id]) for h in health]
    tiers = dict(  # a WhatsApp sender with an account: its tier (None: unlimited or unsynced)
        WhatsAppAccount.objects.filter(sender_id__in=channel_of).values_list(
            "sender_id", "unique_users_per_day"
        )
    )
    for p in pool:
        if p.health.id in tiers:
            n = tiers[p.health.id]
            p.tier = "unlimited or not synced" if n is None else f"{n:,} unique users / 24 h"
    steps = list(Step.objects.filter(sequence=campaign.sequence_id).select_related("template"))
    routes = routes_for_steps(steps)
    lines = []
    for step in sorted(steps, key=lambda s: s.position):
        channels = list(dict.fromkeys(r.channel for r in routes[step.id]))
        carriers = [p for p in pool if p.channel_key in channels]
        for p in carriers:
            p.steps.append(step.position)
        line = PoolStep(step.position, [channel_label(c) for c in channels], [])
        line.senders = [p.health.name for p in carriers]
        if not carriers:
            line.problem = f"no {' or '.join(line.channels)} sender in the pool: it cannot send"
        elif all(p.state != "sending" for p in carriers):
            line.problem = "every sender for it is paused or full today: it waits"
        lines.append(line)
    return Pool(pool, lines)
