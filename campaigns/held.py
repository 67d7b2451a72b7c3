"""Who a step cannot reach now, and why: a contact who has not started the Telegram bot, a
closed WhatsApp 24 h window, an opt-out. The answer is the policy gate's own
(outreach/sending/gate.py `identities_held`), asked once per step channel for every
contact at once, so the lint, the forecast and the send path agree.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from campaigns.models import Campaign, Enrollment, Step
from campaigns.routes import Route, route_choose, routes_for_steps
from campaigns.versions import current_versions
from campaigns.whatsapp_params import with_waba
from contacts.models import Identity
from outreach.channels import get_channel
from outreach.sending.gate import identities_held

LIVE = [Enrollment.State.ACTIVE, Enrollment.State.WAITING, Enrollment.State.PAUSED]


def routes_held(
    *,
    campaign: Campaign,
    steps: list[Step],
    routes: Mapping[int, list[Route]],
    identities: Mapping[tuple[int, str], Identity],
    now: datetime,
) -> dict[tuple[int, int], dict[int, str]]:
    """{(step id, route position): {contact id: why it is held}} for every automated route,
    over the contacts in `identities` ({(contact id, channel): identity}). Manual channels
    are done by a rep and hold nothing."""
    senders = list(campaign.senders.values_list("id", "channel"))
    by_channel: dict[str, dict[int, int]] = defaultdict(dict)  # channel -> identity -> contact
    for (contact_id, channel), identity in identities.items():
        by_channel[channel][identity.id] = contact_id
    templates = {r.template.id: r.template for rs in routes.values() for r in rs}
    versions = current_versions(set(templates.values()))
    out: dict[tuple[int, int], dict[int, str]] = {}
    asked: dict[tuple[str, int, str], dict[int, str]] = {}
    for step in steps:
        for route in routes[step.id]:
            if not get_channel(route.channel).automated or not by_channel[route.channel]:
                continue
            waba = route.waba["name"] if route.waba else ""  # its own category may hold it
            key = (route.channel, route.template.id, waba)
            if key not in asked:
                found = identities_held(
                    channel=route.channel,
                    identity_ids=by_channel[route.channel],
                    sender_ids=[sid for sid, ch in senders if ch == route.channel],
                    attachments=with_waba(versions[route.template.id].attachments, route.waba),
                    now=now,
                )
                asked[key] = {by_channel[route.channel][i]: why for i, why in found.items()}
            out[(step.id, route.position)] = asked[key]
    return out


@dataclass
class StepHeld:
    step: Step
    reasons: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))


def campaign_steps_held(*, campaign: Campaign, now: datetime | None = None) -> list[StepHeld]:
    """Per step, the live contacts the step would go to on a channel that cannot take it now,
    by reason (the route the dispatcher would choose: campaigns/routes.py)."""
    now = now or timezone.now()
    steps = list(
        Step.objects.filter(sequence_id=campaign.sequence_id)
        .select_related("template")
        .order_by("position")
    )
    rows = list(
        Enrollment.objects.filter(campaign=campaign, state__in=LIVE).values_list(
            "contact_id", "contact__first_name", "contact__last_name"
        )
    )
    if not steps or not rows:
        return []
    identities: dict[tuple[int, str], Identity] = {}
    for ident in Identity.objects.filter(contact_id__in=[r[0] for r in rows]).order_by("-id"):
        identities[(ident.contact_id, ident.channel)] = ident  # oldest wins, as the dispatcher
    mine: dict[int, dict[str, Identity]] = defaultdict(dict)
    for (cid, ch), ident in identities.items():
        mine[cid][ch] = ident
    routes = routes_for_steps(steps)
    held = routes_held(
        campaign=campaign, steps=steps, routes=routes, identities=identities, now=now
    )
    sender_channels = set(campaign.senders.values_list("channel", flat=True))
    report = []
    for step in steps:
        entry = StepHeld(step)
        for cid, first, last in rows:
            route = route_choose(
                routes[step.id], identities=mine[cid], sender_channels=sender_channels
            )
            why = held.get((step.id, route.position), {}).get(cid) if route else None
            if why:
                entry.reasons[why] += 1
                if len(entry.examples[why]) < 5:
                    entry.examples[why].append(f"{first} {last}".strip() or f"#{cid}")
        if entry.reasons:
            report.append(entry)
    return report
