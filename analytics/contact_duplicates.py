"""Likely duplicates among the contacts a user sees: suggestions only, never merged here
(a person merges them through campaigns/contact_merge.py after the preview).

Two contacts look alike when one identity of each has the same match key:
- an email address, ignoring case;
- a phone number (the phone and WhatsApp channels), by its digits, leading zeros dropped;
- a handle on any other channel, ignoring a leading @ and case, across channels (``dana`` on
  Instagram and ``@Dana`` on X).
The key is computed in SQL, so both questions below are one query each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Case, CharField, Count, Func, QuerySet, Value, When
from django.db.models.functions import Concat, Lower

from contacts.access import contacts_visible_to
from contacts.channels import EMAIL, PHONE, WHATSAPP
from contacts.models import Contact, Identity

PHONE_CHANNELS = (PHONE, WHATSAPP)
MIN_PHONE_DIGITS = 6  # shorter "numbers" (extensions, typos) match too much to suggest


# What people write between a phone number's digits. Stored numbers are E.164
# (contacts/normalize.py), but an inbound WhatsApp id or an old row may still carry them.
_PHONE_PUNCTUATION = ("+", " ", "-", "(", ")", ".", "/")


def _strip_punctuation() -> str:
    sql = "%(expressions)s"
    for char in _PHONE_PUNCTUATION:
        sql = f"REPLACE({sql}, '{char}', '')"
    return sql


class _Digits(Func):
    """A phone number's digits, leading zeros dropped: +49 171-555, 0049171555 → 49171555.
    Nested REPLACEs rather than REGEXP_REPLACE, which SQLite (the embedded default) lacks."""

    template = f"LTRIM({_strip_punctuation()}, '0')"
    output_field = CharField()


class _Handle(Func):
    template = "LOWER(LTRIM(%(expressions)s, '@'))"
    output_field = CharField()


def match_key():
    """'e:' email, 'p:' phone digits or 'h:' handle; NULL for a phone too short to match."""
    return Case(
        When(channel=EMAIL, then=Concat(Value("e:"), Lower("value"))),
        When(channel__in=PHONE_CHANNELS, then=Concat(Value("p:"), _Digits("value"))),
        default=Concat(Value("h:"), _Handle("value")),
        output_field=CharField(),
    )


def _keyed(identities: QuerySet[Identity]) -> Any:
    """Identities with their ``key`` (typed Any: the stubs know no annotated fields)."""
    return identities.annotate(key=match_key()).exclude(key__regex=r"^(p:.{0,5}|h:)$")


def describe(key: str) -> str:
    kind, _, value = key.partition(":")
    return {"e": "same email", "p": "same phone number", "h": "same handle"}[kind] + f" {value}"


@dataclass
class Duplicate:
    contact: Contact
    reasons: list[str]


def contact_duplicates(user, contact: Contact) -> list[Duplicate]:
    """Visible contacts sharing a match key with ``contact``, most reasons first; one query."""
    own = _keyed(Identity.objects.filter(contact=contact)).values("key")
    rows = (
        _keyed(Identity.objects.filter(contact__in=contacts_visible_to(user)))
        .exclude(contact=contact)
        .filter(key__in=own)
        .select_related("contact")
        .order_by("contact_id", "id")
    )
    found: dict[int, Duplicate] = {}
    for identity in rows:
        dup = found.setdefault(identity.contact_id, Duplicate(identity.contact, []))
        reason = describe(identity.key)  # type: ignore[attr-defined]
        if reason not in dup.reasons:
            dup.reasons.append(reason)
    return sorted(found.values(), key=lambda d: (-len(d.reasons), d.contact.pk))


def duplicate_groups(user) -> QuerySet:
    """One row per match key held by two or more visible contacts (``key``, ``n``), grouped
    in SQL; paginate it, then ask ``group_contact_ids`` for the page's keys and load their
    contacts with ``contacts_by_id``."""
    return (
        _keyed(Identity.objects.filter(contact__in=contacts_visible_to(user)))
        .values("key")
        .annotate(n=Count("contact_id", distinct=True))
        .filter(n__gt=1)
        .order_by("key")
    )


def group_contact_ids(user, keys: list[str]) -> dict[str, list[int]]:
    """The visible contacts holding each of these keys, ascending; one query for a page."""
    rows = (
        _keyed(Identity.objects.filter(contact__in=contacts_visible_to(user)))
        .filter(key__in=keys)
        .values_list("key", "contact_id")
        .order_by("key", "contact_id")
        .distinct()
    )
    ids: dict[str, list[int]] = {key: [] for key in keys}
    for key, contact_id in rows:
        ids[key].append(contact_id)
    return ids


def contacts_by_id(user, ids: set[int]) -> dict[int, Contact]:
    visible = contacts_visible_to(user).filter(pk__in=ids).prefetch_related("identities")
    return {c.pk: c for c in visible}
