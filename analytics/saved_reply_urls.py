from django.urls import path

from analytics import saved_replies

app_name = "saved_replies"
urlpatterns = [
    path("", saved_replies.saved_reply_list, name="list"),
    path("new/", saved_replies.saved_reply_edit, name="create"),
    path("render/<int:contact_id>/", saved_replies.saved_reply_render, name="render"),
    path("<int:pk>/", saved_replies.saved_reply_edit, name="edit"),
    path("<int:pk>/delete/", saved_replies.saved_reply_delete, name="delete"),
]
