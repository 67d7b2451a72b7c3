"""WhatsApp accounts in the admin: the WABA id of a WhatsApp sender, its synced templates
(category, status, variables) and messaging tier, and a "Sync templates" action."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from deliverability.models import WhatsAppAccount, WhatsAppTemplate
from deliverability.whatsapp import whatsapp_account_sync


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

    @admin.action(description="Sync templates and messaging tier from Meta", permissions=["change"])
    def sync(self, request: HttpRequest, queryset: QuerySet[WhatsAppAccount]) -> None:
        for account in queryset.select_related("sender"):
            error = whatsapp_account_sync(account=account)
            if error:
                self.message_user(request, f"{account}: {error}", messages.ERROR)
            else:
                n = account.templates.count()
                self.message_user(request, f"{account}: {n} templates synced.", messages.SUCCESS)
