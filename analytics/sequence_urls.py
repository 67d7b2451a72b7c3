from django.urls import path

from analytics import sequence_views as views

app_name = "sequences"

urlpatterns = [
    path("", views.sequence_list, name="list"),
    path("new/", views.sequence_edit, name="new"),
    path("<int:pk>/", views.sequence_edit, name="edit"),
]
