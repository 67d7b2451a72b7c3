"""Saved replies in the admin, scoped like the inbox's page (outreach/access.py).

Imported by outreach/admin.py so autodiscovery registers it."""

from django.contrib import admin

from core.access import ScopedAdminMixin, teams_visible_to
from outreach.access import saved_replies_editable_by, saved_replies_visible_to
from outreach.inbox.models import SavedReply


@admin.register(SavedReply)
class SavedReplyAdmin(ScopedAdminMixin, admin.ModelAdmin):
    visible_to = saved_replies_visible_to
    list_display = ["name", "team", "created_by", "updated_at"]
    search_fields = ["name", "body"]
    readonly_fields = ["created_by", "created_at", "updated_at"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "team":
            kwargs["queryset"] = teams_visible_to(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def _may_edit(self, request, obj) -> bool:
        return obj is None or saved_replies_editable_by(request.user).filter(pk=obj.pk).exists()

    def has_change_permission(self, request, obj=None) -> bool:
        return super().has_change_permission(request, obj) and self._may_edit(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return super().has_delete_permission(request, obj) and self._may_edit(request, obj)

    def save_model(self, request, obj, form, change) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
