from django.urls import path

from portal.footage import views

app_name = "footage"

urlpatterns = [
    path("s/<slug:studio>/p/<str:project>/assets/", views.AssetListView.as_view(), name="asset_list"),
    path(
        "s/<slug:studio>/p/<str:project>/assets/latest/",
        views.AssetListView.as_view(per_page=views.PROJECT_PAGE_ASSETS),
        name="asset_list_latest",
    ),
    path("s/<slug:studio>/p/<str:project>/assets/<int:asset_id>/", views.AssetDetailView.as_view(), name="asset"),
    path("s/<slug:studio>/p/<str:project>/assets/<int:asset_id>/status/", views.AssetStatusView.as_view(), name="asset_status"),
    path(
        "s/<slug:studio>/p/<str:project>/media/<int:version_id>/<slug:what>/",
        views.MediaView.as_view(),
        name="media",
    ),
    path("s/<slug:studio>/p/<str:project>/download/<int:version_id>/", views.DownloadView.as_view(), name="download"),
]
