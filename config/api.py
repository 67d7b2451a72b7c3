"""The REST API's routes: each app's viewsets, the OpenAPI schema and its docs page."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from campaigns import api as campaigns_api
from contacts import api as contacts_api
from outreach import api as outreach_api
from pipelines import api as pipelines_api

router = DefaultRouter()
router.register("contacts", contacts_api.ContactViewSet, basename="contact")
router.register("imports", contacts_api.ContactImportViewSet, basename="import")
router.register("conversations", outreach_api.ConversationViewSet, basename="conversation")
router.register("messages", outreach_api.MessageViewSet, basename="message")
router.register("senders", outreach_api.SenderAccountViewSet, basename="sender")
router.register("campaigns", campaigns_api.CampaignViewSet, basename="campaign")
router.register("enrollments", campaigns_api.EnrollmentViewSet, basename="enrollment")
router.register("pipelines", pipelines_api.PipelineViewSet, basename="pipeline")
router.register("deals", campaigns_api.DealViewSet, basename="deal")
router.register("privacy/contacts", campaigns_api.ContactPrivacyViewSet, basename="privacy")

urlpatterns = [
    path("", include(router.urls)),
    path("token/", contacts_api.ObtainApiToken.as_view(), name="api-token"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
