"""Bulk operations the admin cockpit runs on many rows at once, each audited once."""

from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import ngettext

from campaigns.models import Campaign, Enrollment, StepSend
from campaigns.services import LIVE, enrollments_create, enrollments_stop_for_contact
from contacts.models import Contact
from contacts.services import contact_opt_out
from core.audit import audit_record
from outreach.models import Message

E = Enrollment.State
M = Message.Status


def enrollments_unenrol(*, enrollments: QuerySet[Enrollment], actor=None) -> int:
    """Stop the selected live enrollments and cancel their unsent messages; history stays."""
    ids = list(enrollments.filter(state__in=LIVE).order_by("id").values_list("id", flat=True))
    if not ids:
        return 0
    with transaction.atomic():
        Enrollment.objects.select_for_update().filter(id__in=ids).order_by("id").exists()
        changed = Enrollment.objects.filter(id__in=ids, state__in=LIVE).update(
            state=E.STOPPED, next_action_at=None, hold_reason="unenrolled by a user"
        )
        StepSend.messages(enrollment_id__in=ids).filter(status__in=[M.QUEUED, M.PAUSED]).update(
            status=M.CANCELLED, hold_reason="unenrolled by a user", enqueued_at=None
        )
        audit_record(actor=actor, action="enrollment.unenrol", detail=f"{changed} enrollment(s)")
    return changed


def contacts_opt_out(*, contacts: QuerySet[Contact], actor=None, source: str = "admin") -> int:
    """Opt contacts out everywhere and stop their sequences. Already opted-out ones are kept."""
    changed = 0
    for contact in contacts.filter(opted_out_at=None):
        contact_opt_out(contact=contact, source=source, actor=actor)
        enrollments_stop_for_contact(
            contact_id=contact.id, state=E.STOPPED, reason="contact opted out"
        )
        changed += 1
    audit_record(actor=actor, action="contact.opt_out", detail=f"{changed} contact(s)")
    return changed


def contacts_enrol(*, contacts: QuerySet[Contact], campaign: Campaign, actor=None) -> int:
    """Enrol the contacts in a draft or running campaign (campaigns.services.enrollments_create;
    those already in it stay as they are); returns how many were new."""
    if campaign.status not in (Campaign.Status.DRAFT, Campaign.Status.RUNNING):
        raise ValueError("Only a draft or running campaign takes new contacts.")
    added = enrollments_create(campaign=campaign, contacts=contacts.order_by("id"))
    audit_record(
        actor=actor,
        action="campaign.enrol",
        target=campaign,
        detail=f"{added} {ngettext('contact', 'contacts', added)} from the contacts list",
    )
    return added
