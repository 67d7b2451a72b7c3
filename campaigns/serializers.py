from django.contrib.auth import get_user_model
from rest_framework import serializers

from campaigns.access import campaigns_visible_to, sequences_visible_to
from campaigns.models import Campaign, Enrollment
from contacts.access import contacts_visible_to
from core.access import owners_assignable_by
from core.api_support import ScopedRelationsMixin
from outreach.access import senders_visible_to
from pipelines.models import Deal


def _owner_field():
    """The owner: the requesting user when not given; anyone else only if they may name
    them (a manager their teams' members, an admin anyone; a rep nobody but themselves)."""
    return serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.none(), required=False
    )


class CampaignSerializer(ScopedRelationsMixin, serializers.ModelSerializer):
    scoped = {
        "sequence": sequences_visible_to,
        "senders": senders_visible_to,
        "owner": owners_assignable_by,
    }
    owner = _owner_field()

    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "sequence",
            "senders",
            "status",
            "owner",
            "created_at",
            "launched_at",
        ]
        read_only_fields = ["id", "status", "created_at", "launched_at"]


class LaunchSerializer(serializers.Serializer):
    confirm_warnings = serializers.BooleanField(default=False)


class CampaignStatsSerializer(serializers.Serializer):
    enrolled = serializers.IntegerField()
    replied = serializers.IntegerField()
    messages_queued = serializers.IntegerField()
    messages_sent = serializers.IntegerField()
    messages_failed = serializers.IntegerField()


class EnrollmentSerializer(serializers.ModelSerializer):
    why_not_sent = serializers.CharField(source="hold_reason", read_only=True)

    class Meta:
        model = Enrollment
        fields = [
            "id",
            "campaign",
            "contact",
            "sender",
            "state",
            "current_step",
            "next_action_at",
            "why_not_sent",
            "replied_at",
            "created_at",
        ]
        read_only_fields = fields


class EnrolSerializer(serializers.Serializer):
    campaign = serializers.IntegerField()
    contacts = serializers.ListField(
        child=serializers.IntegerField(), allow_empty=False, max_length=10000
    )


class EnrolResultSerializer(serializers.Serializer):
    enrolled = serializers.IntegerField()
    not_found = serializers.ListField(child=serializers.IntegerField())


class DealSerializer(ScopedRelationsMixin, serializers.ModelSerializer):
    scoped = {
        "contact": contacts_visible_to,
        "campaign": campaigns_visible_to,
        "owner": owners_assignable_by,
    }
    owner = _owner_field()

    class Meta:
        model = Deal
        fields = [
            "id",
            "contact",
            "pipeline",
            "stage",
            "campaign",
            "owner",
            "value",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]

    def validate(self, attrs: dict) -> dict:
        pipeline = attrs.get("pipeline") or getattr(self.instance, "pipeline", None)
        stage = attrs.get("stage") or getattr(self.instance, "stage", None)
        if pipeline and stage and stage.pipeline_id != pipeline.id:
            raise serializers.ValidationError({"stage": "This stage belongs to another pipeline."})
        return attrs
