from django.urls import path

from pipelines import views

app_name = "pipelines"
urlpatterns = [
    path("", views.pipeline_index, name="index"),
    path("<int:pk>/", views.board, name="board"),
    path("deals/<int:pk>/move/", views.deal_move_view, name="deal_move"),
]
