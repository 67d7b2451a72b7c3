from django.contrib import admin
from django.db import models
from django.utils.html import format_html
from django.utils.translation import ngettext

from outreach.fields import mask
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookSubscriber
from webhooks.services import webhook_delivery_replay


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
