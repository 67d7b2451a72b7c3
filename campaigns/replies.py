"""What a reply does in campaigns besides stopping sequences: an out-of-office reply holds
them, a real one goes to the owner of the contact's latest campaign, and a deal it opens
comes from that campaign (campaigns/seams.py calls these).
"""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from campaigns.models import Enrollment, Step, StepSend
from contacts.models import Contact
from outreach.inbox.services import conversation_assign
from outreach.models import Message
from pipelines.services import DealOrigin

E = Enrollment.State
M = Message.Status


def deal_origin(contact_id: int) -> DealOrigin:
    """The contact's latest campaign and its owner: where a deal opened for them comes from."""
    row = (
        Enrollment.objects.filter(contact_id=contact_id)
        .order_by("-updated_at")
        .values_list("campaign_id", "campaign__owner_id")
        .first()
    )
    return DealOrigin(*row) if row else DealOrigin()


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
        StepSend.messages(enrollment_id__in=ids).filter(status=M.QUEUED).update(
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


def conversation_assign_campaign_owner(*, message: Message, origin: DealOrigin) -> None:
    """A reply's conversation goes to the owner of the contact's latest campaign (`origin`,
    from deal_origin), unless someone has it already."""
    if origin.owner_id is None:
        return  # in no campaign, or its campaign has no owner
    owner = get_user_model().objects.get(id=origin.owner_id)
    conversation_assign(conversation=message.conversation, user=owner, only_if_unassigned=True)


# --- "Always" steps after a reply ----------------------------------------------------------


def always_ahead() -> tuple[Exists, Exists]:
    """For annotating enrollments: an "Always" step still ahead (their current step or a
    later one), so a reply does not end a live one; and whether that is their current step.

    Subqueries only (no join), so enrollments locked with them lock no other row."""
    always = Step.objects.filter(
        sequence__campaigns=OuterRef("campaign_id"), condition=Step.Condition.ALWAYS
    )
    return (
        Exists(always.filter(position__gte=OuterRef("current_step"))),
        Exists(always.filter(position=OuterRef("current_step"))),
    )


def reply_keep_always(
    going_on: dict[int, bool],
    *,
    at: datetime,
    reason: str,
    quoted: StepSend | None,
) -> dict[int, tuple[int, int]]:
    """These enrolments replied but have "Always" steps ahead: record the reply (counted on
    the step it answered, ``quoted`` when the platform linked it, else the last one sent, as
    for any reply) and let the dispatcher skip their other steps (campaigns/conditions.py).
    A queued message of a step that is not "Always" is cancelled, and its enrolment goes
    back to the dispatcher at once, which skips that step and times the next from the last
    message really sent.

    Returns (step id, variant id) of the step send each reply is counted on (replied_to),
    for the counters."""
    if not going_on:
        return {}
    ids = list(going_on)
    Enrollment.objects.filter(id__in=ids).update(
        replied_at=at, hold_reason=f'{reason}; only "Always" steps still go out'[:200]
    )
    last: dict[int, tuple[int, int, int | None]] = {}
    for eid, link_id, step_id, variant_id in (
        StepSend.objects.filter(enrollment_id__in=ids, message__sent_at__isnull=False)
        .order_by("message__sent_at", "id")
        .values_list("enrollment_id", "id", "step_id", "variant_id")
    ):
        last[eid] = (link_id, step_id, variant_id)
    if quoted is not None:
        last[quoted.enrollment_id] = (quoted.id, quoted.step_id, quoted.variant_id)
    # replied_to keeps the reply on that step when an "Always" step is sent later.
    for eid, (link_id, _, _) in last.items():
        Enrollment.objects.filter(id=eid).update(replied_to_id=link_id)
    skip_now = [eid for eid, current_always in going_on.items() if not current_always]
    StepSend.messages(enrollment_id__in=skip_now).filter(status__in=[M.QUEUED, M.PAUSED]).update(
        status=M.CANCELLED, hold_reason=reason[:200], enqueued_at=None
    )
    Enrollment.objects.filter(id__in=skip_now, state=E.WAITING).update(
        state=E.ACTIVE, next_action_at=timezone.now()
    )
    return {eid: (step_id, variant_id or 0) for eid, (_, step_id, variant_id) in last.items()}
