"""Deals through pipeline stages: moves by hand or by rule, and what a reply's intent does.

Every move writes a DealStageChange (who, when, why) and fans out deal_stage_changed
(campaigns/signals.py).
"""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from campaigns.models import (
    Campaign,
    Deal,
    DealStageChange,
    Enrollment,
    Pipeline,
    Stage,
    StageRule,
)
from campaigns.signals import deal_stage_changed
from contacts.models import Contact
from outreach.inbox.services import conversation_assign
from outreach.models import Message

E = Enrollment.State
M = Message.Status


def deal_move(
    *, deal: Deal, stage: Stage, by=None, reason: str = "", message: Message | None = None
) -> DealStageChange | None:
    """Move a deal to a stage of its own pipeline and record it; None if already there."""
    if stage.pipeline_id != deal.pipeline_id:
        raise ValueError("That stage belongs to another pipeline.")
    with transaction.atomic():
        deal = Deal.objects.select_for_update().get(id=deal.id)
        if deal.stage_id == stage.id:
            return None
        change = DealStageChange.objects.create(
            deal=deal,
            from_stage_id=deal.stage_id,
            to_stage=stage,
            changed_by=by,
            reason=reason,
            message=message,
        )
        deal.stage = stage
        deal.save(update_fields=["stage", "updated_at"])
        deal_stage_changed.fan_out(sender=Deal, deal=deal, change=change)
    return change


def _moves_forward(current: Stage, target: Stage) -> bool:
    if current.kind != Stage.Kind.OPEN:
        return False  # won and lost deals stay put unless a rep moves them
    return target.kind != Stage.Kind.OPEN or target.position > current.position


def _latest_campaign_id(contact_id: int) -> int | None:
    return (
        Enrollment.objects.filter(contact_id=contact_id)
        .order_by("-updated_at")
        .values_list("campaign_id", flat=True)
        .first()
    )


def deal_for_contact(*, contact: Contact, pipeline: Pipeline | None = None) -> Deal | None:
    """The contact's open deal (any pipeline unless given), or a new one in the default."""
    open_deals = Deal.objects.filter(contact=contact, stage__kind=Stage.Kind.OPEN)
    if pipeline is not None:
        open_deals = open_deals.filter(pipeline=pipeline)
    deal = open_deals.order_by("-updated_at").first()
    if deal is not None:
        return deal
    pipeline = pipeline or Pipeline.objects.filter(is_default=True).first()
    if pipeline is None:
        return None
    first = pipeline.stages.order_by("position").first()
    if first is None:
        return None
    campaign_id = _latest_campaign_id(contact.id)
    owner_id = contact.owner_id
    if campaign_id:
        owner_id = Campaign.objects.filter(id=campaign_id).values_list("owner_id", flat=True)[0]
        owner_id = owner_id or contact.owner_id
    deal = Deal.objects.create(
        contact=contact, pipeline=pipeline, stage=first, campaign_id=campaign_id, owner_id=owner_id
    )
    change = DealStageChange.objects.create(
        deal=deal, to_stage=first, reason="opened on first reply"
    )
    deal_stage_changed.fan_out(sender=Deal, deal=deal, change=change)
    return deal


def _rule_stage(deal: Deal, event: str) -> tuple[Stage, str] | None:
    """Where the pipeline's rule for this event would move the deal now, and why; None if
    there is no rule or it would not move the deal forward."""
    rule = StageRule.objects.filter(pipeline_id=deal.pipeline_id, event=event).first()
    if rule is None or not _moves_forward(deal.stage, rule.stage):
        return None
    return rule.stage, rule.reason or rule.get_event_display()


def deal_apply_event(
    *, contact: Contact, event: str, message: Message, by=None, open_new: bool = True
) -> DealStageChange | None:
    """Apply the pipeline's rule for this event (e.g. "intent:interested") to the deal.

    open_new=False leaves a contact without an open deal alone instead of opening one.
    """
    if open_new:
        deal = deal_for_contact(contact=contact)
    else:
        deal = (
            Deal.objects.filter(contact=contact, stage__kind=Stage.Kind.OPEN)
            .order_by("-updated_at")
            .first()
        )
    if deal is None:
        return None
    target = _rule_stage(deal, event)
    if target is None:
        return None
    stage, reason = target
    why = f"{reason} (message #{message.id}, rule {event})"
    return deal_move(deal=deal, stage=stage, by=by, reason=why[:200], message=message)


def deal_closed_by(*, contact: Contact, message: Message) -> tuple[Deal, Stage | None] | None:
    """The contact's deal that this reply's label closed (won or lost) and nobody has moved
    since, with the stage it was in before; None if there is none."""
    for deal in (
        Deal.objects.filter(contact=contact)
        .exclude(stage__kind=Stage.Kind.OPEN)
        .select_related("stage")
        .order_by("-updated_at")
    ):
        last = deal.history.order_by("-at", "-id").first()
        if last is not None and last.message_id == message.id and last.to_stage_id == deal.stage_id:
            return deal, last.from_stage
    return None


def deal_after_correction(*, contact: Contact, message: Message, intent: str, by) -> None:
    """A rep corrected a reply's label: move the deal as the new label says.

    When the old label had closed the deal (e.g. "not interested" -> Lost), the same deal
    goes back to the stage it was in, with the move in its history, and the new label's rule
    applies from there: a correction never opens a second deal beside a closed one. A
    contact with no deal at all gets one, as for a new reply.
    """
    event = f"intent:{intent}"
    closed = deal_closed_by(contact=contact, message=message)
    if closed is not None:
        deal, before = closed
        rule = StageRule.objects.filter(pipeline_id=deal.pipeline_id, event=event).first()
        if rule is not None and rule.stage.kind != Stage.Kind.OPEN:
            # Still a closing label (e.g. unsubscribe instead of not interested).
            why = f"label corrected to {intent} (message #{message.id}, rule {event})"
            deal_move(deal=deal, stage=rule.stage, by=by, reason=why[:200], message=message)
            return
        before = before or deal.pipeline.stages.order_by("position").first()
        if before is not None:
            why = f"reopened: label corrected to {intent} (message #{message.id})"
            deal_move(deal=deal, stage=before, by=by, reason=why[:200], message=message)
    has_deal = Deal.objects.filter(contact=contact).exists()
    deal_apply_event(contact=contact, event=event, message=message, by=by, open_new=not has_deal)


def deal_preview_event(
    *, contact: Contact, event: str, message: Message | None = None
) -> tuple[Deal, Stage] | None:
    """The deal a rep's label would move and the stage it would go to, moving nothing.

    Mirrors deal_after_correction: the deal this reply's old label closed (moved on from
    the stage it goes back to), else the open deal, or the one a contact without any deal
    would get.
    """
    closed = deal_closed_by(contact=contact, message=message) if message else None
    if closed is not None:
        lost, before = closed
        rule = StageRule.objects.filter(pipeline_id=lost.pipeline_id, event=event).first()
        if rule is not None and rule.stage.kind != Stage.Kind.OPEN:
            return lost, rule.stage
        before = before or lost.pipeline.stages.order_by("position").first()
        if before is None:
            return None
        reopened = Deal(id=lost.id, contact=contact, pipeline=lost.pipeline, stage=before)
        target = _rule_stage(reopened, event)
        return lost, target[0] if target else before
    deal = (
        Deal.objects.filter(contact=contact, stage__kind=Stage.Kind.OPEN)
        .select_related("stage", "pipeline")
        .order_by("-updated_at")
        .first()
    )
    if deal is None:
        if Deal.objects.filter(contact=contact).exists():
            return None
        pipeline = Pipeline.objects.filter(is_default=True).first()
        first = pipeline.stages.order_by("position").first() if pipeline else None
        if pipeline is None or first is None:
            return None
        deal = Deal(contact=contact, pipeline=pipeline, stage=first)  # as it would be opened
    target = _rule_stage(deal, event)
    return (deal, target[0]) if target else None


# --- out of office ---------------------------------------------------------------------------


def absence_end(*, contact: Contact, return_date, received: datetime) -> datetime:
    """Midnight of the return day in the contact's zone, or a default pause without a date."""
    if return_date is None:
        return received + timedelta(days=settings.OUT_OF_OFFICE_DEFAULT_DAYS)
    tz = ZoneInfo(contact.time_zone or settings.TIME_ZONE)
    return datetime.combine(return_date, time(0), tzinfo=tz)


def enrollments_pause_until(*, contact_id: int, until: datetime, reason: str) -> int:
    """Hold a contact's live sequences until `until`, then they carry on by themselves.

    No resume job is needed: the dispatcher only materializes an enrollment at its
    next_action_at and only offers a queued message after its not_before.
    """
    reason = reason[:200]
    with transaction.atomic():
        ids = list(
            Enrollment.objects.select_for_update()
            .filter(contact_id=contact_id, state__in=[E.ACTIVE, E.WAITING])
            .order_by("id")
            .values_list("id", flat=True)
        )
        Enrollment.objects.filter(id__in=ids, state=E.ACTIVE).filter(
            Q(next_action_at=None) | Q(next_action_at__lt=until)
        ).update(next_action_at=until, hold_reason=reason)
        Enrollment.objects.filter(id__in=ids, state=E.WAITING).update(hold_reason=reason)
        Message.objects.filter(step_send__enrollment_id__in=ids, status=M.QUEUED).update(
            not_before=until, hold_reason=reason, enqueued_at=None
        )
    return len(ids)


def out_of_office_pause(*, contact: Contact, message: Message, return_date) -> int:
    """An out-of-office reply holds the contact's sequences until they are back."""
    until = absence_end(
        contact=contact, return_date=return_date, received=message.sent_at or message.created_at
    )
    return enrollments_pause_until(
        contact_id=contact.id, until=until, reason=f"out of office until {until:%Y-%m-%d}"
    )


# --- owners ----------------------------------------------------------------------------------


def conversation_assign_campaign_owner(*, message: Message, contact_id: int) -> None:
    """A reply's conversation goes to the owner of the contact's latest campaign, unless
    someone has it already."""
    campaign_id = _latest_campaign_id(contact_id)
    if campaign_id is None:
        return  # in no campaign: no campaign owner
    campaign = Campaign.objects.filter(id=campaign_id).select_related("owner").first()
    owner = campaign.owner if campaign else None
    if owner:
        conversation_assign(conversation=message.conversation, user=owner, only_if_unassigned=True)
