from django.urls import path

from analytics import contact_bulk_views, contact_merge_views, contact_views

app_name = "contact_pages"
urlpatterns = [
    path("", contact_views.contact_list, name="list"),
    path("bulk/", contact_bulk_views.contact_bulk, name="bulk"),
    path("duplicates/", contact_merge_views.duplicate_list, name="duplicates"),
    path("<int:pk>/", contact_views.contact_detail, name="detail"),
    path("<int:pk>/merge/", contact_merge_views.merge_choose, name="merge_choose"),
    path("<int:pk>/merge/<int:other>/", contact_merge_views.merge_preview, name="merge"),
]
