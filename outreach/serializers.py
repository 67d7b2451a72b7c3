from rest_framework import serializers

from outreach.fields import mask
from outreach.models import Conversation, Message, SenderAccount


class MessageSerializer(serializers.ModelSerializer):
    class Meta:
        model = Message
        fields = [
            "id",
            "conversation",
            "channel",
            "direction",
            "status",
            "subject",
            "body",
            "body_html",
            "hold_reason",
            "not_before",
            "sent_at",
            "error_code",
            "error_reason",
            "created_at",
        ]
        read_only_fields = fields


class ConversationSerializer(serializers.ModelSerializer):
    contact = serializers.IntegerField(source="identity.contact_id", read_only=True)
    identity_value = serializers.CharField(source="identity.value", read_only=True)

    class Meta:
        model = Conversation
        fields = [
            "id",
            "contact",
            "identity",
            "identity_value",
            "sender",
            "assigned_to",
            "last_inbound_at",
            "last_outbound_at",
            "created_at",
        ]
        read_only_fields = fields


class ReplySerializer(serializers.Serializer):
    body = serializers.CharField(max_length=10000, trim_whitespace=False)
    subject = serializers.CharField(max_length=300, required=False, allow_blank=True)
    send_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="Send later: not before this time (ISO 8601 with its offset). Empty: now.",
    )


class SenderAccountSerializer(serializers.ModelSerializer):
    # Only ever masked: the API cannot read a platform token back.
    credentials = serializers.SerializerMethodField()

    class Meta:
        model = SenderAccount
        fields = ["id", "channel", "name", "handle", "credentials", "owner", "paused", "health"]
        read_only_fields = fields

    def get_credentials(self, obj: SenderAccount) -> str:
        return mask(obj.credentials)
