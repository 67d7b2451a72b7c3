from django.urls import path

from campaigns import manual_task_views as views

app_name = "tasks"

urlpatterns = [
    path("", views.task_queue, name="queue"),
    path("<int:pk>/sent/", views.task_sent, name="sent"),
    path("<int:pk>/skip/", views.task_skip, name="skip"),
    path("<int:pk>/replied/", views.task_replied, name="replied"),
]
