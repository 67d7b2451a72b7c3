"""Admin for teams and outgoing webhooks, and the row scoping of every admin page.

``scope_admin`` runs once at start-up (campaigns.apps.ready, after admin autodiscovery):
it wraps every registered ModelAdmin (and its inlines) with ScopedAdminMixin, so the
admin filters rows of per-owner models through the same *_visible_to functions as the API
and the inbox, and offers and accepts in its forms only the related rows the user may
pick (campaigns.access.visible_queryset), whatever fields, actions or annotations the
admin classes themselves grow.
"""

from django.contrib import admin
from django.db import models
from django.utils.html import format_html
from django.utils.translation import ngettext

from campaigns.access import (
    campaigns_visible_to,
    deals_visible_to,
    enrollments_visible_to,
    visible_queryset,
)
from campaigns.models import Campaign, Deal, Enrollment
from campaigns.webhook_models import WebhookAttempt, WebhookDelivery, WebhookSubscriber
from campaigns.webhooks import webhook_delivery_replay
from contacts.access import (
    ScopedAdminMixin,
    ScopedChoicesMixin,
    consent_records_visible_to,
    contacts_visible_to,
    identities_visible_to,
    imports_visible_to,
)
from contacts.models import ConsentRecord, Contact, ContactImport, Identity
from contacts.teams import Team
from outreach.access import (
    conversations_visible_to,
    manual_tasks_visible_to,
    messages_visible_to,
    senders_visible_to,
)
from outreach.fields import mask
from outreach.models import Conversation, ManualTask, Message, SenderAccount

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


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name"]
    filter_horizontal = ["managers", "members"]
    search_fields = ["name"]


@admin.register(WebhookSubscriber)
class WebhookSubscriberAdmin(admin.ModelAdmin):
    list_display = ["url", "description", "events", "active", "secret_masked"]
    list_filter = ["active"]
    exclude = ["secret"]  # generated; shown masked, never editable or readable in full
    readonly_fields = ["secret_masked", "created_at"]
    # A URL typed without a scheme is https: signed events should not travel in clear text.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    @admin.display(description="Secret")
    def secret_masked(self, obj: WebhookSubscriber) -> str:
        return mask(obj.secret) if obj.pk else "(generated on save)"


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = ("at", "status_code", "error", "duration_ms", "response_body")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "event",
        "subscriber",
        "status",
        "attempts",
        "last_status_code",
        "last_error",
        "next_attempt_at",
        "created_at",
    ]
    list_filter = ["status", "event", "subscriber"]
    readonly_fields = [
        "subscriber",
        "event",
        "payload",
        "status",
        "attempts",
        "next_attempt_at",
        "last_status_code",
        "last_error",
        "replay_link",
        "created_at",
        "delivered_at",
    ]
    exclude = ["replay_of"]
    inlines = [WebhookAttemptInline]
    actions = ["replay"]

    @admin.display(description="Replay of")
    def replay_link(self, obj: WebhookDelivery):
        return format_html("#{}", obj.replay_of_id) if obj.replay_of_id else "-"

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Replay: send these events again", permissions=["change"])
    def replay(self, request, queryset) -> None:
        copies = [
            webhook_delivery_replay(delivery=d) for d in queryset.select_related("subscriber")
        ]
        n = len(copies)
        self.message_user(request, f"{n} {ngettext('delivery', 'deliveries', n)} queued again.")
