"""Which contacts, identities, consent records and imports a user may see.

Built on the roles and owners of core/access.py; outreach/access.py and
campaigns/access.py do the same for their rows.
"""

from django.db.models import QuerySet

from contacts.models import ConsentRecord, Contact, ContactImport, Identity
from core.access import visible_owner_ids


def contacts_visible_to(user) -> QuerySet[Contact]:
    ids = visible_owner_ids(user)
    qs = Contact.objects.all()
    return qs if ids is None else qs.filter(owner_id__in=ids)


def identities_visible_to(user) -> QuerySet[Identity]:
    ids = visible_owner_ids(user)
    qs = Identity.objects.all()
    return qs if ids is None else qs.filter(contact__owner_id__in=ids)


def consent_records_visible_to(user) -> QuerySet[ConsentRecord]:
    ids = visible_owner_ids(user)
    qs = ConsentRecord.objects.all()
    return qs if ids is None else qs.filter(contact__owner_id__in=ids)


def imports_visible_to(user) -> QuerySet[ContactImport]:
    ids = visible_owner_ids(user)
    qs = ContactImport.objects.all()
    return qs if ids is None else qs.filter(created_by_id__in=ids)
