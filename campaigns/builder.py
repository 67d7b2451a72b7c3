"""The campaign builder's workflows: create a draft, pick its audience, enrol it (audited)."""

from django.db import transaction
from django.db.models import Q, QuerySet

from campaigns.models import Campaign, Sequence
from campaigns.services import enrollments_create
from contacts.access import contacts_visible_to
from contacts.models import Contact, ContactImport, Tag
from core.audit import audit_record
from outreach.access import senders_visible_to
from outreach.models import SenderAccount


def campaign_create(
    *, name: str, sequence: Sequence, senders: list[SenderAccount], owner=None
) -> Campaign:
    """A draft campaign. With an owner, its senders must be accounts the owner may see (the
    form offers no others; checked again here, as a campaign sends from them)."""
    if owner is not None:
        visible = senders_visible_to(owner).filter(pk__in=[s.pk for s in senders]).count()
        if visible != len({s.pk for s in senders}):
            raise ValueError(f"{owner} may not send from one of these accounts.")
    with transaction.atomic():
        campaign = Campaign.objects.create(name=name, sequence=sequence, owner=owner)
        campaign.senders.set(senders)
        audit_record(
            actor=owner,
            action="campaign.create",
            target=campaign,
            detail=f"sequence {sequence}; {len(senders)} sender(s)",
        )
    return campaign


def audience_contacts(
    *, tags: list[Tag] | QuerySet[Tag], contact_import: ContactImport | None, user=None
) -> QuerySet[Contact]:
    """Contacts with any of the tags, or from the import; never opted-out ones. Oldest
    first (the order they were created or imported), the order they are enrolled and sent to.

    With ``user``, only contacts that user may see (a rep enrols their own contacts).
    """
    q = Q()
    if tags:
        q |= Q(tags__in=list(tags))
    if contact_import is not None:
        q |= Q(created_by_import=contact_import.id) | Q(last_import=contact_import.id)
    if not q:
        return Contact.objects.none()
    base = Contact.objects.all() if user is None else contacts_visible_to(user)
    ids = base.filter(q, opted_out_at=None).values("id")
    return Contact.objects.filter(id__in=ids).order_by("id")  # not Contact's newest first


def campaign_enrol_audience(*, campaign: Campaign, contacts: QuerySet[Contact], actor=None) -> int:
    added = enrollments_create(campaign=campaign, contacts=contacts)
    audit_record(
        actor=actor, action="campaign.enrol", target=campaign, detail=f"{added} contact(s)"
    )
    return added
