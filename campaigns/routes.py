"""Which channel a step goes out on: its own, or one of its ordered alternatives.

A route is the step's own channel and template (position 0) or a StepAlternative (position
n). The dispatcher takes the first route the contact can be reached on; when the platform's
policy refuses a message (our policy gate before the send, or the platform answering the
send with a refusal such as Telegram's "bot can't initiate conversation") and the step says
"next channel", the refused attempt is stamped and the enrollment goes back to the
dispatcher, which plans the step again on the first route not tried yet.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone

from campaigns.models import Campaign, Enrollment, Step, StepAlternative, StepSend, Template
from campaigns.whatsapp_params import waba_attachment, with_waba
from contacts.channels import channel_label
from contacts.models import Identity
from deliverability.models import WhatsAppTemplate
from outreach.models import Message

E = Enrollment.State


@dataclass(frozen=True)
class Route:
    position: int  # 0: the step's own channel and template; n: its alternative at n
    channel: str
    template: Template
    # The step's synced WABA template with its variable mapping, as an attachment
    # (campaigns/whatsapp_params.py): on the step's own WhatsApp route only.
    waba: dict[str, Any] | None = field(default=None, compare=False)

    @property
    def attachments(self) -> list[dict[str, Any]]:
        """What a message of this route carries (before its variables are filled)."""
        return with_waba(self.template.attachments, self.waba)

    @property
    def label(self) -> str:
        return "" if self.position == 0 else f"alternative {self.position}"

    @property
    def channel_name(self) -> str:
        return channel_label(self.channel)


def routes_for_steps(steps: Iterable[Step]) -> dict[int, list[Route]]:
    """Each step's routes in the order they are tried, with one query for the alternatives.
    The steps should come with select_related("template")."""
    steps = list(steps)
    wabas = WhatsAppTemplate.objects.in_bulk(
        {s.whatsapp_template_id for s in steps if s.whatsapp_template_id}
    )
    routes = {}
    for s in steps:
        waba = wabas.get(s.whatsapp_template_id) if s.channel == "whatsapp" else None
        attachment = waba_attachment(waba, s.whatsapp_variables or {}) if waba else None
        routes[s.id] = [Route(0, s.channel, s.template, attachment)]
    for alt in StepAlternative.objects.filter(step__in=steps).select_related("template"):
        routes[alt.step_id].append(Route(alt.position, alt.channel, alt.template))
    for rs in routes.values():
        rs.sort(key=lambda r: r.position)
    return routes


def route_reachable(
    route: Route, *, identities: Mapping[str, Identity], sender_channels: Collection[str]
) -> bool:
    identity = identities.get(route.channel)
    return (
        identity is not None and identity.opted_out_at is None and route.channel in sender_channels
    )


def route_choose(
    routes: list[Route],
    *,
    identities: Mapping[str, Identity],
    sender_channels: Collection[str],
    tried: Collection[int] = (),
) -> Route | None:
    """The first route not tried yet that reaches the contact (an identity not opted out,
    and a sender for that channel in the campaign). Failing that, the first one the contact
    has an identity on: the dispatcher then fails it for want of a sender, or the policy
    gate cancels it with its reason, exactly as for a step without alternatives. None when
    the contact has no identity on any route left (the step is skipped)."""
    left = [r for r in routes if r.position not in tried]
    for r in left:
        if route_reachable(r, identities=identities, sender_channels=sender_channels):
            return r
    return next((r for r in left if r.channel in identities), None)


def routes_tried(enrollment_ids: Iterable[int]) -> dict[tuple[int, int], set[int]]:
    """{(enrollment_id, step_id): routes already refused and re-routed}."""
    tried: dict[tuple[int, int], set[int]] = defaultdict(set)
    for eid, sid, route in StepSend.objects.filter(
        enrollment_id__in=list(enrollment_ids), rerouted_at__isnull=False
    ).values_list("enrollment_id", "step_id", "route"):
        tried[(eid, sid)].add(route)
    return tried


def skipped_reason(step: Step, routes: list[Route], tried: Collection[int] = ()) -> str:
    names: list[str] = []
    for r in routes:
        if r.position not in tried and r.channel_name not in names:
            names.append(r.channel_name)
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
    return f"skipped step {step.position}: no {listed} identity"


# --- re-routing a refused message -----------------------------------------------------------


def _link_of(message: Message) -> StepSend | None:
    return (
        StepSend.objects.filter(message_id=message.id, rerouted_at=None)
        .select_related("step__template", "enrollment")
        .first()
    )


def _next_route(link: StepSend) -> Route | None:
    """The route the step would try after this attempt, if one reaches the contact."""
    step, enrollment = link.step, link.enrollment
    routes = routes_for_steps([step])[step.id]
    if len(routes) == 1:
        return None
    tried = set(
        StepSend.objects.filter(enrollment_id=enrollment.id, step_id=step.id).values_list(
            "route", flat=True
        )
    )
    identities: dict[str, Identity] = {}
    for ident in Identity.objects.filter(contact_id=enrollment.contact_id).order_by("-id"):
        identities[ident.channel] = ident  # oldest wins, as in the dispatcher
    sender_channels = set(
        Campaign.senders.through.objects.filter(campaign_id=enrollment.campaign_id).values_list(
            "senderaccount__channel", flat=True
        )
    )
    for r in routes:
        if r.position not in tried and route_reachable(
            r, identities=identities, sender_channels=sender_channels
        ):
            return r
    return None


def message_has_fallback(message: Message) -> bool:
    """Asked by outreach's policy gate (OutreachEvents.refusal_has_fallback): may a refusal
    fail this message at once, because its step re-routes to a channel that can take it?"""
    link = _link_of(message)
    if link is None or link.step.on_refused != Step.OnRefused.NEXT_CHANNEL:
        return False
    return link.enrollment.state == E.WAITING and _next_route(link) is not None


def step_reroute(*, message: Message, reason: str, now: datetime | None = None) -> Route | None:
    """The step's message was refused before it was sent: stamp that attempt and hand the
    enrollment back to the dispatcher, which plans the step on the next route at once.
    Returns that route, or None (nothing done) when the step does not re-route or no route
    is left."""
    link = _link_of(message)
    if link is None or link.step.on_refused != Step.OnRefused.NEXT_CHANNEL:
        return None
    nxt = _next_route(link)
    if nxt is None:
        return None
    now = now or timezone.now()
    step = link.step
    refused_on = channel_label(message.channel)
    moved = Enrollment.objects.filter(
        id=link.enrollment_id, state=E.WAITING, current_step=step.position
    ).update(
        state=E.ACTIVE,
        next_action_at=now,
        hold_reason=f"step {step.position}: {refused_on} refused ({reason}); "
        f"re-routed to {nxt.channel_name}"[:200],
    )
    if not moved:
        return None
    StepSend.objects.filter(id=link.id, rerouted_at=None).update(rerouted_at=now)
    return nxt
