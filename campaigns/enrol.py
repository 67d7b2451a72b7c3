"""Enrol and unenrol through the API, limited to what the caller may see."""

from django.db import transaction
from django.db.models import QuerySet

from campaigns.models import Campaign, Enrollment, StepSend
from campaigns.services import LIVE, enrollments_create
from contacts.models import Contact
from outreach.models import Message


def enrollments_enrol(
    *, campaign: Campaign, contact_ids: list[int], visible: QuerySet[Contact]
) -> tuple[int, list[int]]:
    """(number enrolled, ids the caller may not see or that do not exist)."""
    found = set(visible.filter(id__in=contact_ids).values_list("id", flat=True))
    missing = [cid for cid in contact_ids if cid not in found]
    added = enrollments_create(
        campaign=campaign, contacts=list(Contact.objects.filter(id__in=found))
    )
    return added, missing


@transaction.atomic
def enrollment_unenrol(*, enrollment: Enrollment, reason: str = "unenrolled") -> Enrollment:
    """Stop the sequence for this contact; unsent messages are cancelled, history stays."""
    Enrollment.objects.select_for_update().filter(id=enrollment.id).first()
    Enrollment.objects.filter(id=enrollment.id, state__in=LIVE).update(
        state=Enrollment.State.STOPPED, next_action_at=None, hold_reason=reason[:200]
    )
    StepSend.messages(enrollment=enrollment).filter(
        status__in=[Message.Status.QUEUED, Message.Status.PAUSED]
    ).update(status=Message.Status.CANCELLED, hold_reason=reason[:200], enqueued_at=None)
    enrollment.refresh_from_db()
    return enrollment
