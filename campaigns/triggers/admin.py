from django.contrib import admin

from campaigns.triggers.models import StepOptions, Trigger, TriggerFire


@admin.register(Trigger)
class TriggerAdmin(admin.ModelAdmin):
    list_display = ["name", "active", "channel", "event_type", "match", "campaign"]
    list_filter = ["active", "channel", "event_type"]
    search_fields = ["name", "keywords", "address"]
    filter_horizontal = ["tags"]
    raw_id_fields = ["sender", "campaign", "deal_stage", "assign_team"]
    readonly_fields = ["last_assigned", "public_reply_turn", "created_at"]
    fieldsets = [
        (None, {"fields": ["name", "active", "channel", "sender", "event_type"]}),
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


@admin.register(TriggerFire)
class TriggerFireAdmin(admin.ModelAdmin):
    list_display = ["trigger", "contact", "outcome", "new_lead", "post_id", "at"]
    list_filter = ["outcome", "trigger"]
    list_select_related = ["trigger", "contact"]
    raw_id_fields = ["inbound_event", "contact", "reply", "public_reply", "enrollment"]
    readonly_fields = ["at"]


@admin.register(StepOptions)
class StepOptionsAdmin(admin.ModelAdmin):
    list_display = ["step", "anchor", "when_window_closed", "capture_field"]
    raw_id_fields = ["step"]
