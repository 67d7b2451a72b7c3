"""REST API for contacts and imports. Rows come from contacts/access.py, work from services."""

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, parsers, serializers, status, viewsets
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.decorators import action
from rest_framework.response import Response

from contacts.access import contacts_visible_to, imports_visible_to
from contacts.imports import contact_import_create, contact_import_start
from contacts.models import Contact, ContactImport, Identity
from contacts.serializers import (
    ContactImportSerializer,
    ContactSerializer,
    ContactUpsertSerializer,
    ImportStartSerializer,
    ImportUploadSerializer,
    UpsertResultSerializer,
)
from contacts.upsert import contacts_upsert
from core.api_support import IDEMPOTENCY_KEY, idempotent
from core.api_tokens import api_token_create


def _identities_save(contact: Contact, identities: list[dict]) -> None:
    try:
        with transaction.atomic():
            for data in identities:
                Identity.objects.create(contact=contact, **data)
    except IntegrityError:
        raise serializers.ValidationError(
            {"identities": ["One of these identities already belongs to a contact."]}
        ) from None


class ContactViewSet(viewsets.ModelViewSet):
    serializer_class = ContactSerializer
    filterset_fields = ["owner", "country", "company"]
    search_fields = ["first_name", "last_name", "company", "identities__value"]
    ordering_fields = ["id", "last_name", "created_at", "updated_at"]
    queryset = Contact.objects.none()  # for the schema and permission class; see get_queryset

    def get_queryset(self):
        return (
            contacts_visible_to(self.request.user)
            .prefetch_related("identities", "tags")
            .order_by("-id")
        )

    @extend_schema(parameters=[IDEMPOTENCY_KEY])
    @idempotent
    def create(self, request, *args, **kwargs):
        return super().create(request, *args, **kwargs)

    @transaction.atomic
    def perform_create(self, serializer) -> None:
        identities = serializer.validated_data.pop("identities", [])
        contact = serializer.save(owner=serializer.validated_data.get("owner", self.request.user))
        _identities_save(contact, identities)

    @transaction.atomic
    def perform_update(self, serializer) -> None:
        identities = serializer.validated_data.pop("identities", None)
        contact = serializer.save()
        if identities is not None:
            known = set(contact.identities.values_list("channel", "value"))
            new = [i for i in identities if (i["channel"], i["value"]) not in known]
            _identities_save(contact, new)

    @extend_schema(
        request=ContactUpsertSerializer,
        responses=UpsertResultSerializer,
        parameters=[IDEMPOTENCY_KEY],
    )
    @action(detail=False, methods=["post"], url_path="bulk-upsert")
    @idempotent
    def bulk_upsert(self, request):
        """Create or update up to 1000 contacts, matched by any of their identities."""
        data = ContactUpsertSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = contacts_upsert(
            rows=data.validated_data["contacts"],
            owner=request.user,
            visible=contacts_visible_to(request.user),
        )
        body = UpsertResultSerializer(result).data
        return Response(body, status=status.HTTP_200_OK)


class ContactImportViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Upload a CSV (sniffed, mapping guessed), then start it with a mapping; poll status."""

    serializer_class = ContactImportSerializer
    filterset_fields = ["status"]
    queryset = ContactImport.objects.none()
    parser_classes = [parsers.JSONParser, parsers.MultiPartParser, parsers.FormParser]

    def get_queryset(self):
        return imports_visible_to(self.request.user).order_by("-id")

    @extend_schema(
        request=ImportUploadSerializer,
        responses={201: ContactImportSerializer},
        parameters=[IDEMPOTENCY_KEY],
    )
    @idempotent
    def create(self, request):
        data = ImportUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        imp = contact_import_create(
            name=upload.name,
            chunks=upload.chunks(),
            user=request.user,
            owner=request.user,
            mode=data.validated_data["mode"],
            default_country=data.validated_data.get("default_country", ""),
        )
        return Response(ContactImportSerializer(imp).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ImportStartSerializer, responses=ContactImportSerializer)
    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):
        imp = self.get_object()
        data = ImportStartSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            imp = contact_import_start(contact_import=imp, mapping=data.validated_data["mapping"])
        except ValueError as exc:
            raise serializers.ValidationError({"mapping": [str(exc)]}) from None
        return Response(ContactImportSerializer(imp).data)


class ObtainApiToken(ObtainAuthToken):
    """POST username and password (and an optional "name"): a new token, returned once,
    valid for API_TOKEN_DEFAULT_DAYS, listed and revocable on /accounts/tokens/.
    (DRF's view returned the same stored key every time; ours stores only its digest.)"""

    def post(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        name = str(request.data.get("name") or "").strip()
        token, key = api_token_create(
            user=serializer.validated_data["user"],
            name=name or f"from {self.request.path} on {timezone.now():%Y-%m-%d %H:%M}",
            days=settings.API_TOKEN_DEFAULT_DAYS or None,
        )
        return Response({"token": key, "name": token.name, "expires_at": token.expires_at})
