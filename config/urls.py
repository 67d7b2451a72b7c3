from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, JsonResponse
from django.urls import include, path

from config.health import healthz, readyz
from config.login import AdminLoginForm, LoginForm
from config.metrics import metrics

admin.site.site_header = "DM Outreach Engine"
admin.site.site_title = "Outreach"
admin.site.index_title = "Operations"
admin.site.login_form = AdminLoginForm


def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("health/", health, name="health"),
    # Load balancers and Prometheus (docs/operations.md): no login, nothing sensitive.
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics, name="metrics"),
    path("admin/", admin.site.urls),
    # ESP tracking and inbound webhooks (deliverability/esp.py receives what they verify).
    path("anymail/", include("deliverability.urls")),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(
            template_name="accounts/login.html",
            authentication_form=LoginForm,
            redirect_authenticated_user=True,
        ),
        name="login",
    ),
    path("accounts/", include("contacts.accounts_urls")),
    path("api/v1/", include("config.api")),
    path("contacts/", include("contacts.urls")),
    path("contacts/", include("analytics.contact_urls")),
    path("templates/", include("campaigns.template_urls")),
    path("inbox/replies/", include("analytics.saved_reply_urls")),
    path("sequences/", include("analytics.sequence_urls")),
    path("inbox/", include("outreach.inbox.urls")),
    path("tasks/", include("campaigns.manual_task_urls")),
    path("pipelines/", include("pipelines.urls")),
    path("triggers/", include("campaigns.triggers.urls")),
    path("deliverability/domains/", include("analytics.domain_urls")),
    path("", include("outreach.urls")),
    path("", include("analytics.urls")),
]
