"""Create-or-update contacts by their identities (the API's bulk upsert)."""

from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import QuerySet

from contacts import channels, normalize
from contacts.models import Contact, Identity

CONTACT_FIELDS = ("first_name", "last_name", "company", "title", "time_zone", "country", "locale")


def identity_value_normalize(channel: str, value: str) -> str:
    """Normalized address, number or handle; raises normalize.Invalid with a reason."""
    if channel == channels.EMAIL:
        return normalize.email(value)
    if channel in (channels.PHONE, channels.WHATSAPP):
        return normalize.phone(value)
    if channel == channels.MESSENGER and value.strip().isdigit():
        return value.strip()
    return normalize.handle(channel, value)


@dataclass
class UpsertResult:
    created: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)


@transaction.atomic
def contacts_upsert(*, rows: list[dict], owner, visible: QuerySet[Contact]) -> UpsertResult:
    """Each row: contact fields plus ``identities`` [{channel, value}] (already normalized).

    A row matches the contact that holds any of its identities. A match the caller may not
    see is an error for that row, never an update (and says nothing about its owner).
    """
    result = UpsertResult()
    for index, row in enumerate(rows):
        keys = [(i["channel"], i["value"]) for i in row.get("identities", [])]
        matches = {
            cid
            for ch, val in keys
            for cid in Identity.objects.filter(channel=ch, value=val).values_list(
                "contact_id", flat=True
            )
        }
        if len(matches) > 1:
            result.errors.append({"index": index, "identities": ["match different contacts"]})
            continue
        fields = {f: row[f] for f in CONTACT_FIELDS if f in row}
        if matches:
            contact = visible.filter(id=matches.pop()).first()
            if contact is None:
                result.errors.append({"index": index, "identities": ["belong to another owner"]})
                continue
            for name, value in fields.items():
                setattr(contact, name, value)
            contact.save()
            result.updated.append(contact.id)
        else:
            contact = Contact.objects.create(owner=owner, **fields)
            result.created.append(contact.id)
        for ch, val in keys:
            Identity.objects.get_or_create(channel=ch, value=val, defaults={"contact": contact})
    return result
