"""What a reply does in campaigns besides stopping sequences: an out-of-office reply holds
them, a real one goes to the owner of the contact's latest campaign, and a deal it opens
comes from that campaign (campaigns/seams.py calls these).
"""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q

from campaigns.models import Enrollment
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
    origin = deal_origin(contact_id)
    if origin.owner_id is None:
        return  # in no campaign, or its campaign has no owner
    owner = get_user_model().objects.get(id=origin.owner_id)
    conversation_assign(conversation=message.conversation, user=owner, only_if_unassigned=True)
