from django.urls import path

from portal.review import views

app_name = "review"

urlpatterns = [
    path("s/<slug:studio>/p/<str:project>/review/<int:version_id>/", views.ReviewView.as_view(), name="review"),
    path(
        "s/<slug:studio>/p/<str:project>/review/<int:version_id>/notes.<slug:fmt>",
        views.NotesExportView.as_view(),
        name="notes_export",
    ),
    path(
        "s/<slug:studio>/p/<str:project>/review/<int:version_id>/credentials.c2pa",
        views.CredentialsSidecarView.as_view(),
        name="credentials_sidecar",
    ),
    path("notifications/", views.NotificationsView.as_view(), name="notifications"),
]
