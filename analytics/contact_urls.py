from django.urls import path

from analytics import contact_views

app_name = "contact_pages"
urlpatterns = [
    path("", contact_views.contact_list, name="list"),
    path("<int:pk>/", contact_views.contact_detail, name="detail"),
]
