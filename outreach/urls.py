from django.urls import path

from outreach import views

app_name = "outreach"
urlpatterns = [
    path("webhooks/<str:channel>/", views.webhook, name="webhook"),
    path("u/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("files/<int:pk>/", views.media_file, name="media_file"),
]
