"""Lint warnings from platform rules that depend on who the contacts are, counted per step:
WhatsApp marketing templates to US (+1) numbers, which the policy gate refuses
(outreach/policy.py, docs/deliverability.md#whatsapp)."""

from __future__ import annotations

from campaigns.models import Campaign, Enrollment, Step
from campaigns.routes import Route
from contacts.models import Identity
from outreach import policy

LIVE = [Enrollment.State.ACTIVE, Enrollment.State.WAITING, Enrollment.State.PAUSED]
US_NUMBER = r"^\+?\s*1"  # as policy.us_marketing reads a number


def us_marketing_counts(
    campaign: Campaign, steps: list[Step], routes: dict[int, list[Route]]
) -> list[tuple[Step, Route, int]]:
    """Each WhatsApp route with a marketing template, and how many live contacts with a +1
    number it would go to (none listed when no contact has one)."""
    marketing = [
        (step, route)
        for step in steps
        for route in routes[step.id]
        if route.channel == "whatsapp"
        and policy.us_marketing(policy.template_of(route.attachments) or {}, "+1")
    ]
    if not marketing:
        return []
    count = (
        Identity.objects.filter(
            channel="whatsapp",
            value__regex=US_NUMBER,
            contact__enrollments__campaign=campaign,
            contact__enrollments__state__in=LIVE,
        )
        .values("contact_id")
        .distinct()
        .count()
    )
    return [(step, route, count) for step, route in marketing] if count else []
