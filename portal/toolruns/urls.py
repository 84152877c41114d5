from django.urls import path

from portal.toolruns import recap_views, set_views, views

app_name = "toolruns"

urlpatterns = [
    path("s/<slug:studio>/p/<str:project>/tools/", views.ToolsView.as_view(), name="tools"),
    path("s/<slug:studio>/p/<str:project>/tools/runs/", views.RunListView.as_view(), name="run_list"),
    path("s/<slug:studio>/p/<str:project>/tools/<slug:tool>/start/", views.ToolStartView.as_view(), name="start"),
    path("s/<slug:studio>/p/<str:project>/runs/<int:run_id>/", views.RunDetailView.as_view(), name="run"),
    path("s/<slug:studio>/p/<str:project>/runs/<int:run_id>/cancel/", views.RunCancelView.as_view(), name="cancel"),
    path("s/<slug:studio>/p/<str:project>/runs/<int:run_id>/set/", set_views.RunOutputSetView.as_view(), name="output_set"),
    path(
        "s/<slug:studio>/p/<str:project>/runs/<int:run_id>/images/<slug:name>/",
        recap_views.RunOutputImageView.as_view(),
        name="output_image",
    ),
]
