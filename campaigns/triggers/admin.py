from django.contrib import admin

from campaigns.access import (
    campaigns_visible_to,
    may_add_triggers,
    trigger_teams_of,
    triggers_changeable_by,
    triggers_visible_to,
)
from campaigns.triggers.models import StepOptions, Trigger, TriggerFire
from core.access import ScopedAdminMixin
from outreach.access import senders_visible_to


@admin.register(Trigger)
class TriggerAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Seen by the teams' members; added, changed and deleted by their managers and admins
    (with the model permissions), who pick only their teams, campaigns and accounts."""

    visible_to = triggers_visible_to
    list_display = ["name", "team", "active", "channel", "event_type", "match", "campaign"]
    list_filter = ["active", "channel", "event_type"]
    search_fields = ["name", "keywords", "address"]
    filter_horizontal = ["tags"]
    raw_id_fields = ["sender", "campaign", "deal_stage", "assign_team"]
    readonly_fields = ["last_assigned", "public_reply_turn", "created_at"]
    fieldsets = [
        (None, {"fields": ["name", "active", "team", "channel", "sender", "event_type"]}),
        ("Where", {"fields": ["post_id", "address"]}),
        ("Match", {"fields": ["match", "keywords", "pattern"]}),
        (
            "Replies",
            {"fields": ["reply_body", "public_replies", "public_reply_order", "public_reply_turn"]},
        ),
        (
            "Lead",
            {
                "fields": [
                    "tags",
                    "record_consent",
                    "campaign",
                    "start_step",
                    "deal_stage",
                    "assign_team",
                    "last_assigned",
                    "cooldown",
                ]
            },
        ),
        (None, {"fields": ["created_at"]}),
    ]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        scoped = {
            "team": trigger_teams_of,
            "assign_team": trigger_teams_of,
            "sender": senders_visible_to,
            "campaign": campaigns_visible_to,
        }
        if db_field.name in scoped:
            kwargs["queryset"] = scoped[db_field.name](request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_add_permission(self, request) -> bool:
        return super().has_add_permission(request) and may_add_triggers(request.user)

    def has_change_permission(self, request, obj=None) -> bool:
        return super().has_change_permission(request, obj) and self._may_change(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return super().has_delete_permission(request, obj) and self._may_change(request, obj)

    def _may_change(self, request, obj: Trigger | None) -> bool:
        if obj is None:
            return may_add_triggers(request.user)
        return triggers_changeable_by(request.user).filter(pk=obj.pk).exists()


@admin.register(TriggerFire)
class TriggerFireAdmin(admin.ModelAdmin):
    list_display = ["trigger", "contact", "outcome", "detail", "new_lead", "post_id", "at"]
    list_filter = ["outcome", "trigger"]
    list_select_related = ["trigger", "contact"]
    raw_id_fields = ["inbound_event", "contact", "reply", "public_reply", "enrollment"]
    readonly_fields = ["at"]


@admin.register(StepOptions)
class StepOptionsAdmin(admin.ModelAdmin):
    list_display = ["step", "anchor", "when_window_closed", "capture_field"]
    raw_id_fields = ["step"]
