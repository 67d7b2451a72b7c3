"""What contacts tells, and asks, the apps above it (outreach, campaigns), which it never
imports.

One interface, ContactsEvents: contacts calls its methods directly. The implementation is
named by the CONTACTS_EVENTS setting (a dotted path, like EMAIL_BACKEND) and loaded once;
this class is the default and does nothing, so contacts works alone. docs/architecture.md
("Seams between apps") lists who calls each method, and when.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from django.conf import settings
from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from contacts.models import Contact, ContactImport


@dataclass(frozen=True)
class OptedOut:
    """An opt-out was recorded."""

    contact: Contact
    channel: str  # "" for every channel
    source: str  # what asked for it, e.g. "email reply", "whatsapp 131050"


@dataclass(frozen=True)
class ContactsImported:
    """A batch of an import was committed."""

    contact_import: ContactImport  # its hook_options hold the upload form's "then" choice
    contact_ids: list[int]  # every contact the batch created or matched


class ContactsEvents:
    """What contacts tells and asks the apps above it. The default does nothing and offers
    nothing."""

    def contact_opted_out(self, opt_out: OptedOut) -> None:
        """Called inside the opt-out's transaction, after contacts_opt_out_changed when the
        contact's own opted_out_at changed."""

    def contacts_opt_out_changed(self, contact_ids: list[int], opted_out: bool) -> None:
        """These contacts' opted_out_at just changed: opted out of every channel (True) or
        reinstated (False). Called inside the transaction that changed it (an opt-out, its
        reversal, an import's batch)."""

    def contacts_imported(self, batch: ContactsImported) -> None:
        """Called after each committed batch of an import (in autocommit: what it writes is
        its own). contacts.imports logs an exception raised here and goes on importing."""

    def import_choices(self, user) -> list[tuple[str, str]]:
        """(value, label) pairs for the upload form's "Then" choice, listing only what this
        user may see (the form refuses any other value). The chosen value lands in
        ContactImport.hook_options["then"] for contacts_imported."""
        return []

    def contact_activity(self, contact_ids) -> dict[str, set[int]]:
        """{what: contact ids} for activity that deleting these contacts (a list of ids or a
        values("id") queryset) would take with it, e.g. {"have replied": {3, 7}}; an
        import's rollback keeps such contacts."""
        return {}


@cache
def _load(path: str) -> ContactsEvents:
    return import_string(path)()


def contacts_events() -> ContactsEvents:
    """The implementation CONTACTS_EVENTS names (this module's no-op class by default)."""
    return _load(getattr(settings, "CONTACTS_EVENTS", "contacts.seams.ContactsEvents"))
