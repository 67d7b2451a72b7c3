from django.contrib.auth import get_user_model
from rest_framework import serializers

from contacts import normalize, validators
from contacts.models import ConsentRecord, Contact, ContactImport, Identity
from contacts.upsert import identity_value_normalize
from contacts.validators import validate_country
from core.access import owners_assignable_by
from core.api_support import ScopedRelationsMixin


class IdentitySerializer(serializers.ModelSerializer):
    class Meta:
        model = Identity
        fields = ["id", "channel", "value", "platform_user_id", "consent_at", "opted_out_at"]
        read_only_fields = ["id", "consent_at", "opted_out_at"]
        # Uniqueness is checked by the upsert and the view, not per nested item.
        validators: list = []

    def validate(self, attrs: dict) -> dict:
        try:
            attrs["value"] = identity_value_normalize(attrs["channel"], attrs["value"])
        except normalize.Invalid as exc:
            raise serializers.ValidationError({"value": str(exc)}) from None
        return attrs


class ContactSerializer(ScopedRelationsMixin, serializers.ModelSerializer):
    identities = IdentitySerializer(many=True, required=False)
    tags = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)
    # The requesting user when not given; anyone else only if they may name them.
    owner = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.none(), required=False
    )
    scoped = {"owner": owners_assignable_by}

    class Meta:
        model = Contact
        fields = [
            "id",
            "first_name",
            "last_name",
            "company",
            "title",
            "time_zone",
            "country",
            "locale",
            "custom_fields",
            "owner",
            "tags",
            "opted_out_at",
            "identities",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "tags", "opted_out_at", "created_at", "updated_at"]


class ContactUpsertRowSerializer(serializers.Serializer):
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    company = serializers.CharField(max_length=200, required=False, allow_blank=True)
    title = serializers.CharField(max_length=200, required=False, allow_blank=True)
    country = serializers.CharField(
        max_length=2, required=False, allow_blank=True, validators=[validate_country]
    )
    identities = IdentitySerializer(many=True, allow_empty=False)


class ContactUpsertSerializer(serializers.Serializer):
    contacts = ContactUpsertRowSerializer(many=True, allow_empty=False, max_length=1000)


class UpsertResultSerializer(serializers.Serializer):
    created = serializers.ListField(child=serializers.IntegerField())
    updated = serializers.ListField(child=serializers.IntegerField())
    errors = serializers.ListField(child=serializers.DictField())


class ConsentRecordSerializer(serializers.ModelSerializer):
    class Meta:
        model = ConsentRecord
        fields = ["kind", "channel", "source", "note", "recorded_at"]


class ContactImportSerializer(serializers.ModelSerializer):
    percent = serializers.IntegerField(read_only=True)

    class Meta:
        model = ContactImport
        fields = [
            "id",
            "original_name",
            "status",
            "mode",
            "sniffed",
            "mapping",
            "records_done",
            "created",
            "updated",
            "unchanged",
            "duplicates",
            "skipped",
            "failed",
            "warnings",
            "percent",
            "message",
            "created_at",
            "finished_at",
        ]
        read_only_fields = fields


class ImportUploadSerializer(serializers.Serializer):
    file = serializers.FileField()
    mode = serializers.ChoiceField(choices=ContactImport.Mode.choices, default="update")
    default_country = serializers.CharField(max_length=2, required=False, allow_blank=True)

    def validate_default_country(self, value: str) -> str:
        return validators.default_country(value)  # DRF reports Django's ValidationError


class ImportStartSerializer(serializers.Serializer):
    mapping = serializers.ListField(child=serializers.CharField(allow_blank=True))
