import contextlib

from django.contrib import admin, messages
from django.contrib.admin.exceptions import NotRegistered
from rest_framework.authtoken.models import TokenProxy

from core.api_tokens import ApiToken, api_token_create
from core.audit import AuditEntry
from core.teams import Team


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name"]
    filter_horizontal = ["managers", "members"]
    search_fields = ["name"]


# DRF's token admin would create keys in clear that no longer authenticate: ours replaces it.
with contextlib.suppress(NotRegistered):
    admin.site.unregister(TokenProxy)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "expires_at"]
    list_select_related = ["user"]
    search_fields = ["name", "user__username", "prefix"]
    autocomplete_fields = ["user"]
    fields = ["user", "name", "prefix", "created_at", "last_used_at", "expires_at"]
    readonly_fields = ["prefix", "created_at", "last_used_at", "expires_at"]

    def get_readonly_fields(self, request, obj=None):
        # A token's owner never changes; to move it, make a new one and delete this.
        return [*self.readonly_fields, "user"] if obj else self.readonly_fields

    def save_model(self, request, obj, form, change) -> None:
        if change:
            obj.save(update_fields=["name"])
            return
        token, key = api_token_create(user=obj.user, name=obj.name)
        obj.pk, obj.prefix, obj.digest = token.pk, token.prefix, token.digest
        messages.warning(
            request,
            f"The key of “{token.name}”: {key} — copy it now; it is stored only as a hash "
            "and cannot be shown again.",
        )


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Read-only: entries are written by the service functions, never by hand."""

    list_display = ["at", "actor", "action", "target_type", "target_repr", "detail"]
    list_filter = ["action", "target_type"]
    search_fields = ["target_repr", "detail", "actor__username"]
    list_select_related = ["actor"]
    date_hierarchy = "at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
