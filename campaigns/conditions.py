"""Whether a step goes out for one enrolment, and when it is due: read the same way by the
dispatcher (campaigns/dispatch.py), the follow-up scheduling (campaigns/services.py) and the
forecast (analytics/forecast.py), so the forecast never promises a step the engine skips.

A reply ends the sequence for every step but those marked "Always" (campaigns/services.py
`enrollments_replied`): an enrolment that replied and still has an "Always" step
ahead stays live with its reply recorded (replied_at), and each of its other steps is
skipped here with the reason "the contact replied".
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import OuterRef, Subquery

from campaigns.models import Enrollment, Step, StepSend
from contacts.channels import channel_label
from contacts.models import Identity
from outreach.models import Message

C = Step.Condition
M = Message.Status
DELIVERED = {M.DELIVERED, M.READ}


@dataclass
class StepFacts:
    """What the conditions look at for one enrolment."""

    replied: bool = False
    # Status of the last message this enrolment really sent; None: none sent yet.
    last_status: str | None = None
    # Channels the contact has an identity on that has not opted out.
    channels: set[str] = field(default_factory=set)


# The only conditions that look at StepFacts.last_status.
STATUS_CONDITIONS = frozenset({C.DELIVERED, C.READ})


def step_condition_unmet(step: Step, facts: StepFacts) -> str:
    """Why the step is skipped for this enrolment ("" when it goes out)."""
    if step.condition == C.ALWAYS:
        return ""
    if facts.replied:
        return "the contact replied"
    if step.condition == C.DELIVERED and facts.last_status not in DELIVERED:
        return "the previous message was not delivered"
    if step.condition == C.READ and facts.last_status != M.READ:
        return "the previous message was not read"
    if step.condition == C.HAS_IDENTITY and step.condition_channel not in facts.channels:
        return f"no {channel_label(step.condition_channel)} identity"
    return ""


def step_facts(
    enrollments: Iterable,
    identities: dict[tuple[int, str], Identity] | None = None,
    *,
    statuses_for: Collection[int] | None = None,
) -> dict[int, StepFacts]:
    """Facts for many enrolments (objects with id, contact_id, replied_at) in two queries;
    `identities` ({(contact id, channel): identity}) saves the second when the caller has it.
    `statuses_for`: the enrolment ids whose last_status is wanted (None: all). The status is
    a subquery per enrolment, so a caller that evaluates one known step per enrolment (the
    dispatcher) asks only for those whose step has a STATUS_CONDITIONS condition; the others
    get last_status None, which no other condition reads."""
    rows = list(enrollments)
    if not rows:
        return {}
    wanted = [e.id for e in rows if statuses_for is None or e.id in statuses_for]
    statuses: dict[int, str | None] = {}
    if wanted:
        last = (
            StepSend.objects.filter(enrollment_id=OuterRef("id"), message__sent_at__isnull=False)
            .order_by("-message__sent_at", "-id")
            .values("message__status")[:1]
        )
        statuses = dict(
            Enrollment.objects.filter(id__in=wanted)
            .annotate(status=Subquery(last))
            .values_list("id", "status")
        )
    on: dict[int, set[str]] = defaultdict(set)
    found: Iterable[tuple[int, str]]
    if identities is None:
        found = Identity.objects.filter(
            contact_id__in={e.contact_id for e in rows}, opted_out_at=None
        ).values_list("contact_id", "channel")
    else:
        found = [(c, ch) for (c, ch), i in identities.items() if i.opted_out_at is None]
    for contact_id, channel in found:
        on[contact_id].add(channel)
    return {
        e.id: StepFacts(
            replied=e.replied_at is not None,
            last_status=statuses.get(e.id),
            channels=on[e.contact_id],
        )
        for e in rows
    }


def step_due(step: Step, after: datetime) -> datetime:
    """When `step` is due, its delay after `after`. With business days, each whole day of
    the delay lands on a Monday to Friday in the project's time zone (settings.TIME_ZONE),
    keeping the time of day; what is left of the delay below a day is added after."""
    if not step.business_days or step.delay < timedelta(days=1):
        return after + step.delay
    tz = ZoneInfo(settings.TIME_ZONE)
    local = after.astimezone(tz)
    days, rest = step.delay.days, step.delay - timedelta(days=step.delay.days)
    day = local.date()
    while days:
        day += timedelta(days=1)
        if day.weekday() < 5:
            days -= 1
    # Wall-clock time kept across a daylight-saving change, as a rep reads "3 business days".
    moved = datetime.combine(day, local.timetz().replace(tzinfo=None), tzinfo=tz)
    return moved.astimezone(after.tzinfo) + rest
