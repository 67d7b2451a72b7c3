"""REST API for campaigns, enrollments and deals, and GDPR export/erase (the pipelines' own
views are in pipelines/api.py; deals stay here because a deal names its campaign, which only
campaigns may scope)."""

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from campaigns.access import campaigns_visible_to, enrollments_visible_to
from campaigns.enrol import enrollment_unenrol, enrollments_enrol
from campaigns.models import Campaign, Enrollment
from campaigns.privacy import contact_erase, contact_export
from campaigns.serializers import (
    CampaignSerializer,
    CampaignStatsSerializer,
    DealSerializer,
    EnrollmentSerializer,
    EnrolResultSerializer,
    EnrolSerializer,
    LaunchSerializer,
)
from campaigns.services import LaunchError, campaign_launch, campaign_pause, campaign_resume
from campaigns.stats import campaign_stats
from contacts.access import contacts_visible_to
from contacts.serializers import ContactSerializer
from core.api_support import IDEMPOTENCY_KEY, idempotent
from pipelines.access import deals_visible_to
from pipelines.models import Deal
from pipelines.services import deal_opened, deal_stage_recorded


class CampaignViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = CampaignSerializer
    filterset_fields = ["status", "owner", "sequence"]
    search_fields = ["name"]
    queryset = Campaign.objects.none()

    def get_queryset(self):
        return campaigns_visible_to(self.request.user).prefetch_related("senders").order_by("-id")

    @extend_schema(parameters=[IDEMPOTENCY_KEY])
    @idempotent
    def create(self, request, *args, **kwargs):
        return super().create(request, *args, **kwargs)

    def perform_create(self, serializer) -> None:
        serializer.save(owner=serializer.validated_data.get("owner", self.request.user))

    @extend_schema(request=LaunchSerializer, responses=CampaignSerializer)
    @action(detail=True, methods=["post"])
    def launch(self, request, pk=None):
        campaign = self.get_object()
        data = LaunchSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            campaign = campaign_launch(
                campaign=campaign, confirm_warnings=data.validated_data["confirm_warnings"]
            )
        except LaunchError as exc:
            raise serializers.ValidationError(
                {"problems": exc.problems, "warnings": exc.warnings}
            ) from None
        return Response(CampaignSerializer(campaign, context={"request": request}).data)

    @extend_schema(request=None, responses=CampaignSerializer)
    @action(detail=True, methods=["post"])
    def pause(self, request, pk=None):
        campaign = campaign_pause(campaign=self.get_object())
        return Response(CampaignSerializer(campaign, context={"request": request}).data)

    @extend_schema(request=None, responses=CampaignSerializer)
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        campaign = campaign_resume(campaign=self.get_object())
        return Response(CampaignSerializer(campaign, context={"request": request}).data)

    @extend_schema(responses=CampaignStatsSerializer)
    @action(detail=True, methods=["get"])
    def stats(self, request, pk=None):
        return Response(campaign_stats(campaign=self.get_object()))


class EnrollmentViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Enrollments with their state and ``why_not_sent``. DELETE unenrols (history stays)."""

    serializer_class = EnrollmentSerializer
    filterset_fields = ["campaign", "contact", "state"]
    queryset = Enrollment.objects.none()

    def get_queryset(self):
        return enrollments_visible_to(self.request.user).order_by("-id")

    @extend_schema(
        request=EnrolSerializer,
        responses={201: EnrolResultSerializer},
        parameters=[IDEMPOTENCY_KEY],
    )
    @idempotent
    def create(self, request):
        data = EnrolSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        campaign = (
            campaigns_visible_to(request.user).filter(id=data.validated_data["campaign"]).first()
        )
        if campaign is None:
            raise serializers.ValidationError({"campaign": ["No such campaign."]})
        added, missing = enrollments_enrol(
            campaign=campaign,
            contact_ids=data.validated_data["contacts"],
            visible=contacts_visible_to(request.user),
        )
        body = {"enrolled": added, "not_found": missing}
        return Response(body, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: Enrollment) -> None:
        enrollment_unenrol(enrollment=instance, reason=f"unenrolled by {self.request.user}")


class DealViewSet(viewsets.ModelViewSet):
    serializer_class = DealSerializer
    filterset_fields = ["pipeline", "stage", "owner", "contact", "campaign"]
    ordering_fields = ["id", "updated_at", "value"]
    queryset = Deal.objects.none()

    def get_queryset(self):
        return deals_visible_to(self.request.user).order_by("-updated_at", "-id")

    @extend_schema(parameters=[IDEMPOTENCY_KEY])
    @idempotent
    def create(self, request, *args, **kwargs):
        return super().create(request, *args, **kwargs)

    @transaction.atomic
    def perform_create(self, serializer) -> None:
        deal = serializer.save(owner=serializer.validated_data.get("owner", self.request.user))
        deal_opened(deal=deal, by=self.request.user)

    @transaction.atomic
    def perform_update(self, serializer) -> None:
        before = serializer.instance.stage
        deal = serializer.save()
        deal_stage_recorded(deal=deal, before=before, by=self.request.user)


class CanErase(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        if view.action != "erase":
            return request.user.has_perm("contacts.view_contact")
        return request.user.has_perm("contacts.delete_contact")


class ContactPrivacyViewSet(viewsets.GenericViewSet):
    """GDPR: everything held on one contact, and erasure that keeps aggregate counts."""

    serializer_class = ContactSerializer
    permission_classes = [permissions.IsAuthenticated, CanErase]

    def get_queryset(self):
        return contacts_visible_to(self.request.user)

    @extend_schema(responses={200: dict})
    @action(detail=True, methods=["get"])
    def export(self, request, pk=None):
        return Response(contact_export(contact=self.get_object()))

    @extend_schema(request=None, responses=ContactSerializer)
    @action(detail=True, methods=["post"])
    def erase(self, request, pk=None):
        contact = contact_erase(contact=self.get_object(), actor=request.user)
        return Response(ContactSerializer(contact).data)
