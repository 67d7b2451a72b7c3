from django.urls import path

from outreach import views

app_name = "outreach"
urlpatterns = [
    path("webhooks/<str:channel>/", views.webhook, name="webhook"),
    # One URL per sender where a platform posts every account's events alike (Telegram bots).
    path("webhooks/<str:channel>/<str:account>/", views.webhook, name="webhook_account"),
    path("u/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("files/<int:pk>/", views.media_file, name="media_file"),
]
