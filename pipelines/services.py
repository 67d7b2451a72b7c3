"""Deals through pipeline stages: moves by hand or by rule, and what a reply's intent does.

Every move writes a DealStageChange (who, when, why) and fans out deal_stage_changed
(pipelines/signals.py).
"""

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import QuerySet, Subquery
from django.utils import timezone

from contacts.models import Contact
from core.audit import audit_record
from core.bulk import rows_insert
from outreach.models import Message
from pipelines.models import Deal, DealStageChange, Pipeline, Stage, StageRule
from pipelines.signals import deal_stage_changed


@dataclass(frozen=True)
class DealOrigin:
    """Where a deal opened for a contact comes from: the contact's latest campaign and its
    owner (campaigns.replies.deal_origin works them out; pipelines knows no campaigns)."""

    campaign_id: int | None = None
    owner_id: int | None = None


def deal_move(
    *, deal: Deal, stage: Stage, by=None, reason: str = "", message: Message | None = None
) -> DealStageChange | None:
    """Move a deal to a stage of its own pipeline and record it; None if already there."""
    if stage.pipeline_id != deal.pipeline_id:
        raise ValueError("That stage belongs to another pipeline.")
    # No savepoint inside a caller's transaction (a reply's: two round trips per move, twice
    # per reply): nobody catches a failure here and goes on, it fails the caller's whole
    # transaction.
    with transaction.atomic(savepoint=False):
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


OPENED_REASON = "opened on first reply"


def _open_deal(contact: Contact, pipeline: Pipeline | None = None) -> Deal | None:
    """The contact's open deal (any pipeline unless given) that moved last, with its stage:
    the rules compare it (_moves_forward)."""
    open_deals = Deal.objects.filter(contact=contact, stage__kind=Stage.Kind.OPEN)
    if pipeline is not None:
        open_deals = open_deals.filter(pipeline=pipeline)
    return open_deals.select_related("stage").order_by("-updated_at").first()


def _first_stage(pipeline: Pipeline | None) -> Stage | None:
    """The first stage of the pipeline, or of the default one (the first marked default),
    with its pipeline: one query either way."""
    if pipeline is not None:
        return pipeline.stages.order_by("position").first()
    default = Pipeline.objects.filter(is_default=True).order_by("id").values("id")[:1]
    return (
        Stage.objects.filter(pipeline=Subquery(default))
        .select_related("pipeline")
        .order_by("position")
        .first()
    )


def _deal_create(*, contact: Contact, first: Stage, origin: DealOrigin) -> Deal:
    return Deal.objects.create(
        contact=contact,
        pipeline=first.pipeline,
        stage=first,
        campaign_id=origin.campaign_id,
        owner_id=origin.owner_id or contact.owner_id,
    )


def deal_for_contact(
    *, contact: Contact, pipeline: Pipeline | None = None, origin: DealOrigin = DealOrigin()
) -> Deal | None:
    """The contact's open deal (any pipeline unless given), or a new one in the default,
    with the campaign and owner of ``origin`` (the contact's owner when it names none)."""
    deal = _open_deal(contact, pipeline)
    if deal is not None:
        return deal
    first = _first_stage(pipeline)
    if first is None:
        return None
    deal = _deal_create(contact=contact, first=first, origin=origin)
    change = DealStageChange.objects.create(deal=deal, to_stage=first, reason=OPENED_REASON)
    deal_stage_changed.fan_out(sender=Deal, deal=deal, change=change)
    return deal


def _rule_stage(deal: Deal, event: str) -> tuple[Stage, str] | None:
    """Where the pipeline's rule for this event would move the deal now, and why; None if
    there is no rule or it would not move the deal forward."""
    rule = (
        StageRule.objects.filter(pipeline_id=deal.pipeline_id, event=event)
        .select_related("stage")
        .first()
    )
    if rule is None or not _moves_forward(deal.stage, rule.stage):
        return None
    return rule.stage, rule.why


def _rule_moves(
    stage: Stage, events: list[str], rules: dict[str, StageRule]
) -> tuple[list[tuple[str, StageRule]], int]:
    """The rules that move a deal now at ``stage``, event after event, and how many of the
    events are this deal's: once it is won or lost, the events after it go to the contact's
    open deal of the moment, as deal_apply_event would find it for each."""
    moves: list[tuple[str, StageRule]] = []
    for done, event in enumerate(events):
        if done and stage.kind != Stage.Kind.OPEN:
            return moves, done
        rule = rules.get(event)
        if rule is not None and _moves_forward(stage, rule.stage):
            moves.append((event, rule))
            stage = rule.stage
    return moves, len(events)


def _deal_or_open(
    *, contact: Contact, open_new: bool, origin: DealOrigin
) -> tuple[Deal | None, DealStageChange | None]:
    """The contact's open deal, or one opened in the default pipeline (unless open_new is
    False) with its first history entry, not saved yet."""
    deal = _open_deal(contact)
    if deal is not None or not open_new:
        return deal, None
    first = _first_stage(None)
    if first is None:
        return None, None
    deal = _deal_create(contact=contact, first=first, origin=origin)
    return deal, DealStageChange(deal=deal, to_stage=first, reason=OPENED_REASON)


def _deal_locked(deal: Deal) -> Deal:
    """The deal read again and locked until the transaction ends: it may have moved since."""
    locked = Deal.objects.select_for_update().get(id=deal.id)
    if locked.stage_id == deal.stage_id:
        locked.stage = deal.stage  # as read: no need to read it again
    return locked


def _changes_insert(changes: list[DealStageChange]) -> None:
    """Insert history entries in one statement, each a microsecond after the one before:
    a history is ordered by time alone (DealStageChange.Meta.ordering), and one clock
    reading per row, as bulk_create takes them, may repeat. (On SQLite rows_insert is
    bulk_create, clock readings and all.)"""
    now = timezone.now()
    for i, change in enumerate(changes):
        change.at = now + timedelta(microseconds=i)
    names = ("deal_id", "from_stage_id", "to_stage_id", "changed_by_id", "reason", "message_id")
    columns = {name: [getattr(c, name) for c in changes] for name in (*names, "at")}
    for change, (change_id,) in zip(changes, rows_insert(DealStageChange, columns), strict=True):
        change.id = change_id


def _rule_changes(
    deal: Deal, planned: list[tuple[str, StageRule]], *, by, message: Message
) -> list[DealStageChange]:
    """The history entries of the planned moves, one after the other, not saved yet."""
    changes: list[DealStageChange] = []
    stage = deal.stage
    for event, rule in planned:
        if rule.stage.pipeline_id != deal.pipeline_id:  # as deal_move refuses it
            raise ValueError("That stage belongs to another pipeline.")
        why = f"{rule.why} (message #{message.id}, rule {event})"
        changes.append(
            DealStageChange(
                deal=deal,
                from_stage=stage,
                to_stage=rule.stage,
                changed_by=by,
                reason=why[:200],
                message=message,
            )
        )
        stage = rule.stage
    return changes


def _deal_record(deal: Deal, opened: DealStageChange | None, moves: list[DealStageChange]) -> None:
    """Write a deal's new history entries and its last stage, then tell of each entry."""
    changes = [opened, *moves] if opened else moves
    if not changes:
        return
    _changes_insert(changes)
    if moves:
        deal.stage = moves[-1].to_stage
        deal.save(update_fields=["stage", "updated_at"])
    for change in changes:
        deal.stage = change.to_stage  # where that entry left it, as each move told it
        deal_stage_changed.fan_out(sender=Deal, deal=deal, change=change)


def deal_apply_events(
    *,
    contact: Contact,
    events: list[str],
    message: Message,
    by=None,
    open_new: bool = True,
    origin: DealOrigin = DealOrigin(),
) -> list[DealStageChange]:
    """Apply the pipeline's rules for these events in order (e.g. "reply", then
    "intent:interested") to the contact's deal, as deal_apply_event would one after the
    other; the moves made, in order.

    The deal and the rules are read once, the deal locked once (when it was there before
    and moves), its history entries inserted in one statement and the deal saved once;
    deal_stage_changed still goes out once per entry, in order, an opening first.
    """
    with transaction.atomic(savepoint=False):
        deal, opened = _deal_or_open(contact=contact, open_new=open_new, origin=origin)
        if deal is None:
            return []
        rules = StageRule.objects.filter(pipeline_id=deal.pipeline_id, event__in=events)
        by_event = {rule.event: rule for rule in rules.select_related("stage")}
        planned, done = _rule_moves(deal.stage, events, by_event)
        if planned and opened is None:
            # A deal that was there before moves from where it is once locked. One opened
            # above needs no lock: no other transaction sees it before this one ends.
            deal = _deal_locked(deal)
            planned, done = _rule_moves(deal.stage, events, by_event)
        moves = _rule_changes(deal, planned, by=by, message=message)
        _deal_record(deal, opened, moves)
    if done < len(events):  # won or lost: the events left find the contact's next deal
        moves += deal_apply_events(
            contact=contact,
            events=events[done:],
            message=message,
            by=by,
            open_new=open_new,
            origin=origin,
        )
    return moves


def deal_apply_event(
    *,
    contact: Contact,
    event: str,
    message: Message,
    by=None,
    open_new: bool = True,
    origin: DealOrigin = DealOrigin(),
) -> DealStageChange | None:
    """Apply the pipeline's rule for this event (e.g. "intent:interested") to the deal.

    open_new=False leaves a contact without an open deal alone instead of opening one.
    """
    moves = deal_apply_events(
        contact=contact, events=[event], message=message, by=by, open_new=open_new, origin=origin
    )
    return moves[0] if moves else None


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


def deal_after_correction(
    *, contact: Contact, message: Message, intent: str, by, origin: DealOrigin = DealOrigin()
) -> None:
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
    deal_apply_event(
        contact=contact,
        event=event,
        message=message,
        by=by,
        open_new=not has_deal,
        origin=origin,
    )


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


def deals_move_stage(*, deals: QuerySet[Deal], stage: Stage, actor=None, reason: str = "") -> int:
    """Move deals of the stage's pipeline to it, recording each change in the deal history."""
    movable = list(deals.filter(pipeline_id=stage.pipeline_id).exclude(stage=stage))
    with transaction.atomic():
        changes = DealStageChange.objects.bulk_create(
            [
                DealStageChange(
                    deal=d,
                    from_stage_id=d.stage_id,
                    to_stage=stage,
                    changed_by=actor,
                    reason=reason[:200],
                )
                for d in movable
            ]
        )
        Deal.objects.filter(id__in=[d.id for d in movable]).update(
            stage=stage, updated_at=timezone.now()
        )
        audit_record(
            actor=actor,
            action="deal.move_stage",
            target=stage,
            detail=f"{len(movable)} deal(s) to {stage}",
        )
        # Each deal moved, as a single move tells it (the deal.stage_changed webhook).
        for deal, change in zip(movable, changes, strict=True):
            deal.stage = stage
            deal_stage_changed.fan_out(sender=Deal, deal=deal, change=change)
    return len(movable)


def deal_opened(*, deal: Deal, by=None) -> DealStageChange:
    """Record the stage a deal was created in (the API's create)."""
    change = DealStageChange.objects.create(
        deal=deal, from_stage=None, to_stage=deal.stage, changed_by=by
    )
    deal_stage_changed.fan_out(sender=Deal, deal=deal, change=change)
    return change


def deal_stage_recorded(*, deal: Deal, before: Stage, by=None) -> DealStageChange | None:
    """Record a stage change already saved on the deal (the API's update); None if the
    stage did not change."""
    if deal.stage_id == before.id:
        return None
    change = DealStageChange.objects.create(
        deal=deal, from_stage=before, to_stage=deal.stage, changed_by=by
    )
    deal_stage_changed.fan_out(sender=Deal, deal=deal, change=change)
    return change


@dataclass(frozen=True)
class BoardColumn:
    stage: Stage
    deals: list[Deal]

    @property
    def count(self) -> int:
        return len(self.deals)

    @property
    def total(self) -> Decimal:
        return sum((d.value or Decimal(0) for d in self.deals), Decimal(0))

    @property
    def weighted(self) -> Decimal:
        return self.total * self.stage.probability / 100


@dataclass(frozen=True)
class Board:
    columns: list[BoardColumn]

    @property
    def forecast(self) -> Decimal:
        """Sum of value x stage probability over every deal on the board."""
        return sum((c.weighted for c in self.columns), Decimal(0)).quantize(Decimal("0.01"))


def pipeline_board(*, pipeline: Pipeline, deals: QuerySet[Deal]) -> Board:
    """One column per stage of the pipeline with the given deals that sit in it."""
    by_stage: dict[int, list[Deal]] = {}
    for deal in deals.filter(pipeline=pipeline):
        by_stage.setdefault(deal.stage_id, []).append(deal)
    return Board(
        columns=[BoardColumn(stage, by_stage.get(stage.id, [])) for stage in pipeline.stages.all()]
    )
