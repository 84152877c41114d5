from django.urls import path

from portal.projects import views

app_name = "projects"

urlpatterns = [
    path("s/<slug:studio>/p/<str:project>/", views.ProjectDetailView.as_view(), name="detail"),
    path("s/<slug:studio>/p/<str:project>/settings/", views.ProjectSettingsView.as_view(), name="settings"),
    path("s/<slug:studio>/p/<str:project>/members/add/", views.ProjectMemberAddView.as_view(), name="member_add"),
    path(
        "s/<slug:studio>/p/<str:project>/members/<int:membership_id>/role/",
        views.ProjectMemberRoleView.as_view(),
        name="member_role",
    ),
    path(
        "s/<slug:studio>/p/<str:project>/members/<int:membership_id>/remove/",
        views.ProjectMemberRemoveView.as_view(),
        name="member_remove",
    ),
]
