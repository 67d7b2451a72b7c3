from django.urls import path

from contacts import views

app_name = "contacts"
urlpatterns = [
    path("imports/", views.import_upload, name="import_upload"),
    path("imports/<int:pk>/", views.import_detail, name="import_detail"),
    path("imports/<int:pk>/progress/", views.import_progress, name="import_progress"),
    path("imports/<int:pk>/errors.csv", views.import_errors_csv, name="import_errors"),
    path("imports/<int:pk>/rollback/", views.import_rollback, name="import_rollback"),
    path(
        "imports/<int:pk>/<str:action>/",
        views.import_action,
        name="import_action",
    ),
]
