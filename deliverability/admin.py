"""The deliverability admin: per-sender thresholds of the bounce and complaint guards, and
WhatsApp accounts (the WABA id of a WhatsApp sender, its synced templates with category,
status and variables, its messaging tier, and a "Sync templates" action)."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from deliverability.models import SenderGuard, WhatsAppAccount, WhatsAppTemplate
from deliverability.whatsapp import whatsapp_account_sync
from outreach.access import senders_visible_to


@admin.register(SenderGuard)
class SenderGuardAdmin(admin.ModelAdmin):
    list_display = [
        "sender",
        "complaint_warn",
        "complaint_pause",
        "bounce_warn",
        "bounce_pause",
        "min_sends",
        "window_days",
        "paused_at",
    ]
    readonly_fields = ["paused_at", "paused_reason"]

    def get_queryset(self, request):
        # Only the guards of senders the user may see, and only those senders to choose.
        return super().get_queryset(request).filter(sender__in=senders_visible_to(request.user))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "sender":
            kwargs["queryset"] = senders_visible_to(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class WhatsAppTemplateInline(admin.TabularInline):
    model = WhatsAppTemplate
    extra = 0
    can_delete = False
    fields = ("name", "language", "category", "status", "variables", "synced_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # templates are made in Meta's WhatsApp Manager and synced here


@admin.register(WhatsAppAccount)
class WhatsAppAccountAdmin(admin.ModelAdmin):
    list_display = ["sender", "waba_id", "tier", "unique_users_per_day", "synced_at", "sync_error"]
    readonly_fields = ["tier", "unique_users_per_day", "synced_at", "sync_error"]
    inlines = [WhatsAppTemplateInline]
    actions = ["sync"]

    def get_queryset(self, request):
        # A team's WhatsApp accounts only: those of senders the user may see, and only those
        # senders to choose from (core/access.py, the same rule as the senders' admin).
        return super().get_queryset(request).filter(sender__in=senders_visible_to(request.user))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "sender":
            kwargs["queryset"] = senders_visible_to(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.action(description="Sync templates and messaging tier from Meta", permissions=["change"])
    def sync(self, request: HttpRequest, queryset: QuerySet[WhatsAppAccount]) -> None:
        for account in queryset.select_related("sender"):
            error = whatsapp_account_sync(account=account)
            if error:
                self.message_user(request, f"{account}: {error}", messages.ERROR)
            else:
                n = account.templates.count()
                self.message_user(request, f"{account}: {n} templates synced.", messages.SUCCESS)
