"""A/B variants of a template: who gets which, how each does, and picking a winner."""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce

from campaigns.models import Enrollment, StepSend, Template, TemplateVariant
from outreach.models import Message

SENT_STATUSES = [Message.Status.SENT, Message.Status.DELIVERED, Message.Status.READ]
CONFIDENCE = 0.95


def variant_pick(
    *, step_id: int, variants: list[TemplateVariant], contact_id: int
) -> TemplateVariant | None:
    """Weighted and sticky: the same (step, contact) always lands on the same variant, so a
    preview shows what will be sent. Weights 1:1 split evenly."""
    if not variants:
        return None
    ordered = sorted(variants, key=lambda v: v.id)
    total = sum(v.weight for v in ordered)
    digest = hashlib.sha256(f"variant:{step_id}:{contact_id}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") % total
    for v in ordered:
        point -= v.weight
        if point < 0:
            return v
    return ordered[-1]


def variants_for_templates(
    template_ids: Iterable[int], *, pick_winners: bool = True
) -> dict[int, list[TemplateVariant]]:
    """The variants each template currently splits between: only the winner once there is one.
    With pick_winners (the dispatcher), automatic winner rules are evaluated first."""
    ids = set(template_ids)
    if pick_winners:
        for template in Template.objects.filter(
            id__in=ids, ab_winner__isnull=True, ab_auto_winner_after__isnull=False
        ):
            template_pick_winner(template=template)
    winners = dict(
        Template.objects.filter(id__in=ids, ab_winner__isnull=False).values_list(
            "id", "ab_winner_id"
        )
    )
    out: dict[int, list[TemplateVariant]] = defaultdict(list)
    for v in TemplateVariant.objects.filter(template_id__in=ids):
        if v.template_id not in winners or winners[v.template_id] == v.id:
            out[v.template_id].append(v)
    return out


def two_proportion_p(x1: int, n1: int, x2: int, n2: int) -> float | None:
    """Two-sided p-value of a pooled two-proportion z-test; None when it cannot be computed."""
    if n1 == 0 or n2 == 0:
        return None
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0
    z = (x1 / n1 - x2 / n2) / se
    return math.erfc(abs(z) / math.sqrt(2))


@dataclass
class VariantStats:
    variant_id: int
    label: str
    weight: int
    sent: int
    replied: int
    positive: int | None  # None until reply intent labels exist (issue 7)
    is_winner: bool
    p_value: float | None = None  # the leader against this variant

    @property
    def reply_rate(self) -> float:
        return self.replied / self.sent if self.sent else 0.0


@dataclass
class ABResult:
    variants: list[VariantStats]
    leader: VariantStats | None
    significant: bool
    verdict: str


def template_variant_stats(*, template: Template) -> ABResult:
    """Sent and replied per variant. Replied: the variant's message went out, its enrollment
    is "replied", which a reply makes it also after the sequence completed (a one-step
    campaign's every reply; campaigns/services.py ANSWERABLE), and the reply counts on this
    message: the one it quoted, else the last step sent (as the dashboard counts it,
    campaigns/counters.py); once per enrollment."""
    last_sent = StepSend.objects.filter(
        enrollment_id=OuterRef("enrollment_id"), message__sent_at__isnull=False
    ).order_by("-step__position")
    rows = {
        r["variant_id"]: r
        for r in StepSend.objects.filter(variant__template=template)
        .alias(counted=Coalesce("enrollment__replied_to_id", Subquery(last_sent.values("id")[:1])))
        .values("variant_id")
        .annotate(
            sent=Count("id", filter=Q(message__status__in=SENT_STATUSES)),
            replied=Count(
                "id",
                filter=Q(
                    message__status__in=SENT_STATUSES,
                    enrollment__state=Enrollment.State.REPLIED,
                    counted=F("id"),
                ),
            ),
        )
    }
    no_sends: dict[str, int] = {}
    stats = [
        VariantStats(
            variant_id=v.id,
            label=v.label,
            weight=v.weight,
            sent=rows.get(v.id, no_sends).get("sent", 0),
            replied=rows.get(v.id, no_sends).get("replied", 0),
            positive=None,
            is_winner=v.id == template.ab_winner_id,
        )
        for v in template.variants.order_by("label")
    ]
    return _verdict(stats)


def _verdict(stats: list[VariantStats]) -> ABResult:
    if len(stats) < 2:
        return ABResult(stats, None, False, "Add a second variant to run an A/B test.")
    leader = max(stats, key=lambda s: (s.reply_rate, s.sent))
    ps = []
    for s in stats:
        if s is not leader:
            s.p_value = two_proportion_p(leader.replied, leader.sent, s.replied, s.sent)
            ps.append(s.p_value)
    if any(p is None for p in ps):
        return ABResult(stats, leader, False, "Not enough sends yet.")
    worst = max(p for p in ps if p is not None)
    significant = worst < 1 - CONFIDENCE and leader.replied > 0
    if significant:
        verdict = f"{leader.label} replies more, at 95% confidence (p = {worst:.3f})."
    else:
        verdict = f"No significant difference yet (p = {worst:.2f}); keep sending."
    return ABResult(stats, leader, significant, verdict)


def template_pick_winner(*, template: Template) -> TemplateVariant | None:
    """Set the winner if the template asks for one after N sends and the data supports it."""
    if template.ab_winner_id or not template.ab_auto_winner_after:
        return None
    result = template_variant_stats(template=template)
    enough = all(s.sent >= template.ab_auto_winner_after for s in result.variants)
    if not (enough and result.significant and result.leader):
        return None
    updated = Template.objects.filter(id=template.id, ab_winner__isnull=True).update(
        ab_winner_id=result.leader.variant_id
    )
    if updated:
        template.ab_winner_id = result.leader.variant_id
    return template.ab_winner
