from django.urls import path

from campaigns import template_views as views

app_name = "templates"

urlpatterns = [
    path("", views.template_list, name="list"),
    path("new/", views.template_edit, name="new"),
    path("preview/", views.template_preview_new, name="preview_new"),
    path("<int:pk>/", views.template_edit, name="edit"),
    path("<int:pk>/preview/", views.template_preview_view, name="preview"),
    path("lint/campaign/<int:pk>/", views.campaign_lint_view, name="campaign_lint"),
]
