"""Merge two contacts that are the same person: everything of ``merge`` moves to ``keep``.

In campaigns because it moves rows of every app below it (identities and consents from
contacts, conversations through the identities, deals from pipelines, enrolments and
trigger fires from campaigns); see docs/architecture.md for the layers.

What happens to each kind of row (the preview, analytics/contact_merge_views.py, shows it):
- identities move (Identity is unique per channel and address across all contacts, so two
  contacts never share one; two handles on one channel may sit on one contact); their
  conversations, messages and notes follow them;
- consent records move; opted out on either side stays opted out (through contact_opt_out,
  so live enrolments stop as for any opt-out);
- tags are added; empty fields of ``keep`` are filled from ``merge``, custom fields too;
- enrolments move. One campaign holds a contact once (enrollment_unique): when both are in
  the same campaign and both enrolments are live the merge is refused; otherwise the live
  one (or ``keep``'s when neither is) stays and the other is dropped, its messages staying
  in the conversations;
- deals move. When both have an open deal in one pipeline, the one at the later stage (on
  a tie ``keep``'s) stays; the other's stage history is moved onto it, its value fills an
  empty value, and it is deleted;
- ``merge`` is deleted and the audit trail names both.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction
from django.utils.translation import ngettext

from campaigns.models import Enrollment
from campaigns.services import LIVE, enrollments_stop_for_contact
from campaigns.triggers.models import TriggerFire
from contacts.access import contacts_visible_to
from contacts.models import ConsentRecord, Contact, Identity
from contacts.services import contact_opt_out
from core.audit import audit_record
from outreach.models import Conversation, Message
from pipelines.models import Deal, DealStageChange, Stage

FILLED_FIELDS = ("first_name", "last_name", "company", "title", "time_zone", "country", "locale")


class MergeRefused(Exception):
    """The two contacts cannot be merged; the message says why, for the user."""


@dataclass
class MergePlan:
    keep: Contact
    merge: Contact
    identities: int = 0
    conversations: int = 0
    messages: int = 0
    consent_records: int = 0
    tags: list[str] = field(default_factory=list)
    fields: list[str] = field(default_factory=list)
    becomes_opted_out: bool = False
    enrolments_moved: list[Enrollment] = field(default_factory=list)
    enrolments_dropped: list[Enrollment] = field(default_factory=list)
    deals_moved: list[Deal] = field(default_factory=list)
    deals_folded: list[tuple[Deal, Deal]] = field(default_factory=list)  # (dropped, into)
    trigger_fires: int = 0
    refusals: list[str] = field(default_factory=list)


def _enrolments(plan: MergePlan) -> None:
    kept = {e.campaign_id: e for e in plan.keep.enrollments.select_related("campaign")}
    for other in plan.merge.enrollments.select_related("campaign").order_by("id"):
        mine = kept.get(other.campaign_id)
        if mine is None:
            plan.enrolments_moved.append(other)
        elif mine.state in LIVE and other.state in LIVE:
            plan.refusals.append(
                f"Both are enrolled in the campaign “{other.campaign.name}” and both "
                "enrolments are still running: unenrol one of them first."
            )
        elif other.state in LIVE:
            plan.enrolments_dropped.append(mine)
            plan.enrolments_moved.append(other)
        else:
            plan.enrolments_dropped.append(other)


def _deals(plan: MergePlan) -> None:
    deals = list(
        Deal.objects.filter(contact__in=[plan.keep, plan.merge])
        .select_related("stage", "pipeline")
        .order_by("id")
    )
    open_by_pipeline: dict[int, list[Deal]] = {}
    for deal in deals:
        if deal.stage.kind == Stage.Kind.OPEN:
            open_by_pipeline.setdefault(deal.pipeline_id, []).append(deal)
    folded: set[int] = set()
    for group in open_by_pipeline.values():
        if len({d.contact_id for d in group}) < 2:
            continue
        best = max(group, key=lambda d: (d.stage.position, d.contact_id == plan.keep.pk, -d.pk))
        for deal in group:
            if deal is not best:
                plan.deals_folded.append((deal, best))
                folded.add(deal.pk)
    plan.deals_moved = [d for d in deals if d.contact_id == plan.merge.pk and d.pk not in folded]


def contact_merge_plan(*, keep: Contact, merge: Contact) -> MergePlan:
    """What merging ``merge`` into ``keep`` would do, read-only; refusals say why it cannot."""
    plan = MergePlan(keep=keep, merge=merge)
    if keep.pk == merge.pk:
        plan.refusals.append("A contact cannot be merged with itself.")
        return plan
    identities = Identity.objects.filter(contact=merge)
    plan.identities = identities.count()
    plan.conversations = Conversation.objects.filter(identity__contact=merge).count()
    plan.messages = Message.objects.filter(conversation__identity__contact=merge).count()
    plan.consent_records = ConsentRecord.objects.filter(contact=merge).count()
    kept_tags = set(keep.tags.values_list("pk", flat=True))
    plan.tags = [t.name for t in merge.tags.all() if t.pk not in kept_tags]
    plan.fields = [f for f in FILLED_FIELDS if not getattr(keep, f) and getattr(merge, f)]
    if keep.owner_id is None and merge.owner_id is not None:
        plan.fields.append("owner")
    if set(merge.custom_fields) - set(keep.custom_fields):
        plan.fields.append("custom_fields")
    plan.becomes_opted_out = keep.opted_out_at is None and merge.opted_out_at is not None
    plan.trigger_fires = TriggerFire.objects.filter(contact=merge).count()
    _enrolments(plan)
    _deals(plan)
    return plan


def contacts_merge(*, keep: Contact, merge: Contact, actor) -> Contact:
    """Merge ``merge`` into ``keep`` in one transaction, both rows locked; returns ``keep``.

    Raises MergeRefused when the actor may not see both, or the plan has refusals."""
    with transaction.atomic():
        ids = sorted({keep.pk, merge.pk})
        locked = {
            c.pk: c for c in contacts_visible_to(actor).select_for_update().filter(pk__in=ids)
        }
        if len(locked) != len(ids) or keep.pk == merge.pk:
            raise MergeRefused("Both contacts must exist, differ, and be yours to see.")
        keep, merge = locked[keep.pk], locked[merge.pk]
        # The dispatcher moves enrolments between states: the same-campaign check below
        # must hold until the commit.
        list(Enrollment.objects.select_for_update().filter(contact_id__in=ids).order_by("id"))
        plan = contact_merge_plan(keep=keep, merge=merge)
        if plan.refusals:
            raise MergeRefused(" ".join(plan.refusals))
        _apply(plan, actor)
    return keep


def _apply(plan: MergePlan, actor) -> None:
    keep, merge = plan.keep, plan.merge
    Identity.objects.filter(contact=merge).update(contact=keep)
    ConsentRecord.objects.filter(contact=merge).update(contact=keep)
    TriggerFire.objects.filter(contact=merge).update(contact=keep)
    keep.tags.add(*merge.tags.all())
    Enrollment.objects.filter(pk__in=[e.pk for e in plan.enrolments_dropped]).delete()
    Enrollment.objects.filter(pk__in=[e.pk for e in plan.enrolments_moved]).update(contact=keep)
    for dropped, into in plan.deals_folded:
        DealStageChange.objects.filter(deal=dropped).update(deal=into)
        if into.value is None and dropped.value is not None:
            Deal.objects.filter(pk=into.pk).update(value=dropped.value)
        dropped.delete()
    Deal.objects.filter(contact=merge).update(contact=keep)
    for name in FILLED_FIELDS:
        if name in plan.fields:
            setattr(keep, name, getattr(merge, name))
    if "owner" in plan.fields:
        keep.owner_id = merge.owner_id
    keep.custom_fields = {**merge.custom_fields, **keep.custom_fields}
    keep.save()
    merged_repr = f"{merge} (#{merge.pk})"
    merge.delete()
    if plan.becomes_opted_out:
        # As campaigns/bulk.py contacts_opt_out: an opt-out of every channel stops sequences.
        contact_opt_out(
            contact=keep, source="merge", actor=actor, note=f"{merged_repr} was opted out"
        )
        enrollments_stop_for_contact(
            contact_id=keep.pk, state=Enrollment.State.STOPPED, reason="contact opted out"
        )
    moved = ", ".join(
        [
            _count(plan.identities, "identity", "identities"),
            _count(plan.messages, "message", "messages"),
            _count(len(plan.enrolments_moved), "enrolment", "enrolments"),
            _count(len(plan.deals_moved), "deal", "deals"),
        ]
    )
    folded = _count(len(plan.enrolments_dropped), "enrolment", "enrolments") + " dropped, "
    folded += _count(len(plan.deals_folded), "deal", "deals") + " folded"
    audit_record(
        actor=actor,
        action="contact.merge",
        target=keep,
        detail=f"merged {merged_repr} into {keep} (#{keep.pk}): {moved} moved; {folded}",
    )


def _count(n: int, singular: str, plural: str) -> str:
    return f"{n} {ngettext(singular, plural, n)}"
