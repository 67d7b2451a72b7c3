"""Per-sender thresholds of the bounce and complaint guards (docs/deliverability.md)."""

from django.contrib import admin

from deliverability.models import SenderGuard
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
