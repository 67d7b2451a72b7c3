from django.urls import path

from campaigns.triggers import views

app_name = "triggers"

urlpatterns = [path("", views.trigger_list, name="list")]
