from django.urls import path

from outreach.inbox import views

app_name = "inbox"
urlpatterns = [
    path("", views.inbox, name="list"),
    path("metrics/", views.metrics, name="metrics"),
    path("<int:pk>/", views.conversation, name="conversation"),
    path("<int:pk>/thread/", views.thread, name="thread"),
    path("<int:pk>/reply/", views.reply, name="reply"),
    path(
        "<int:pk>/scheduled/<int:message_id>/cancel/",
        views.cancel_scheduled,
        name="cancel_scheduled",
    ),
    path("<int:pk>/note/", views.note, name="note"),
    path("<int:pk>/assign/", views.assign, name="assign"),
    path("<int:pk>/snooze/", views.snooze, name="snooze"),
    path("<int:pk>/resolve/", views.resolve, name="resolve"),
    path("<int:pk>/intent/<int:message_id>/", views.intent_correct, name="intent"),
    path("<int:pk>/media/<int:message_id>/<int:index>/", views.media, name="media"),
]
