"""The row scoping of every admin page.

``scope_admin`` runs once at start-up (campaigns.apps.ready, after admin autodiscovery):
it wraps every registered ModelAdmin (and its inlines) with ScopedAdminMixin, so the
admin filters rows of per-owner models through the same *_visible_to functions as the API
and the inbox, and offers and accepts in its forms only the related rows the user may
pick (campaigns.access.visible_queryset), whatever fields, actions or annotations the
admin classes themselves grow.
"""

from django.contrib import admin

from campaigns.access import (
    campaigns_visible_to,
    enrollments_visible_to,
    visible_queryset,
)
from campaigns.models import Campaign, Enrollment
from contacts.access import (
    consent_records_visible_to,
    contacts_visible_to,
    identities_visible_to,
    imports_visible_to,
)
from contacts.models import ConsentRecord, Contact, ContactImport, Identity
from core.access import ScopedAdminMixin, ScopedChoicesMixin
from outreach.access import (
    conversations_visible_to,
    manual_tasks_visible_to,
    messages_visible_to,
    senders_visible_to,
)
from outreach.models import Conversation, ManualTask, Message, SenderAccount
from pipelines.access import deals_visible_to
from pipelines.models import Deal

SCOPED = {
    Contact: contacts_visible_to,
    Identity: identities_visible_to,
    ConsentRecord: consent_records_visible_to,
    ContactImport: imports_visible_to,
    SenderAccount: senders_visible_to,
    Conversation: conversations_visible_to,
    Message: messages_visible_to,
    ManualTask: manual_tasks_visible_to,
    Campaign: campaigns_visible_to,
    Enrollment: enrollments_visible_to,
    Deal: deals_visible_to,
}


def scope_admin(site: admin.AdminSite = admin.site) -> None:
    """Wrap every registered admin, and each of its inlines, in the scoping mixins: rows
    of per-owner models filtered, and every foreign key and many-to-many form field
    narrowed to campaigns.access.visible_queryset, whatever model it points to.

    An admin that already mixes ScopedAdminMixin in (with its own ``visible_to``) keeps
    its row scoping and gets the narrowing of its form fields and inlines."""
    for model, current in list(site._registry.items()):
        base = type(current)
        if "choices_visible_to" in vars(base):
            continue  # wrapped already
        attrs = {
            "choices_visible_to": staticmethod(visible_queryset),
            "inlines": [_scoped_inline(inline) for inline in base.inlines],
            "__module__": base.__module__,
        }
        if model in SCOPED and getattr(base, "visible_to", None) is None:
            attrs["visible_to"] = staticmethod(SCOPED[model])
        bases = (base,) if issubclass(base, ScopedAdminMixin) else (ScopedAdminMixin, base)
        site.unregister(model)
        site.register(model, type(base.__name__, bases, attrs))


def _scoped_inline(inline: type) -> type:
    if "choices_visible_to" in vars(inline):
        return inline
    bases = (inline,) if issubclass(inline, ScopedChoicesMixin) else (ScopedChoicesMixin, inline)
    return type(
        inline.__name__,
        bases,
        {"choices_visible_to": staticmethod(visible_queryset), "__module__": inline.__module__},
    )
