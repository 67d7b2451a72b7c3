from django.urls import path

from analytics import domain_views

app_name = "domains"
urlpatterns = [
    path("", domain_views.domain_list, name="list"),
    path("<int:pk>/", domain_views.domain_detail, name="detail"),
    path("<int:pk>/check/", domain_views.domain_check_now, name="check"),
    path("<int:pk>/dkim-key/", domain_views.domain_generate_key, name="generate_key"),
    path("<int:pk>/strict/", domain_views.domain_strict, name="strict"),
    path("<int:pk>/resume/", domain_views.domain_resume_senders, name="resume"),
]
