"""Bulk changes from the contacts list (analytics/contact_bulk_views.py): a tag added to, or
an owner given to, every contact of a selection the caller already narrowed to what the
user sees. Enrolling and opting out live in campaigns/bulk.py, which stops sequences."""

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import ngettext

from contacts.models import Contact, Tag
from core.access import owners_assignable_by
from core.audit import audit_record


def _count(n: int) -> str:
    return f"{n} {ngettext('contact', 'contacts', n)}"


def contacts_tag_add(*, contacts: QuerySet[Contact], name: str, actor) -> tuple[Tag, int]:
    """Give every contact the tag (made if new, names compared ignoring case); returns the
    tag and how many contacts did not have it yet."""
    name = " ".join(name.split())[:100]
    if not name:
        raise ValueError("Name the tag to add.")
    with transaction.atomic():
        tag = Tag.objects.filter(name__iexact=name).first() or Tag.objects.create(name=name)
        ids = list(contacts.exclude(tags=tag).values_list("pk", flat=True))
        Contact.tags.through.objects.bulk_create(
            [Contact.tags.through(contact_id=pk, tag_id=tag.pk) for pk in ids],
            ignore_conflicts=True,
        )
        audit_record(actor=actor, action="contact.tag", detail=f"{tag.name}: {_count(len(ids))}")
    return tag, len(ids)


def contacts_owner_assign(*, contacts: QuerySet[Contact], owner, actor) -> int:
    """Make ``owner`` the owner of every contact; only an owner the actor may name
    (core.access.owners_assignable_by)."""
    if not owners_assignable_by(actor).filter(pk=owner.pk).exists():
        raise PermissionDenied("You may not make this user an owner.")
    with transaction.atomic():
        changed = Contact.objects.filter(pk__in=contacts.values("pk")).exclude(owner=owner)
        n = changed.update(owner=owner)
        audit_record(
            actor=actor, action="contact.assign", detail=f"{_count(n)} to {owner.get_username()}"
        )
    return n
