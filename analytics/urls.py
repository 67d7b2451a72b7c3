from django.urls import path

from analytics import sender_health, views

app_name = "dashboards"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("campaigns/<int:pk>/", views.dashboard, name="campaign"),
    path("campaigns/<int:pk>/forecast/", views.forecast, name="forecast"),
    path("campaigns/<int:pk>/pause/", views.pause, name="pause"),
    path("campaigns/<int:pk>/resume/", views.resume, name="resume"),
    path("campaigns/new/", views.builder_start, name="builder"),
    path("campaigns/<int:pk>/build/audience/", views.builder_audience, name="builder_audience"),
    path("campaigns/<int:pk>/build/review/", views.builder_review, name="builder_review"),
    path("senders/<int:pk>/health/", sender_health.health, name="sender_health"),
    path("senders/<int:pk>/team-cap/", sender_health.team_cap, name="team_cap"),
]
