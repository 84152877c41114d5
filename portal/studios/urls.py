from django.urls import path

from portal.studios import views

app_name = "studios"

urlpatterns = [
    path("invite/<str:token>/", views.InvitationAcceptView.as_view(), name="invitation_accept"),
    path("s/<slug:studio>/", views.DashboardView.as_view(), name="dashboard"),
    path("s/<slug:studio>/settings/", views.StudioSettingsView.as_view(), name="settings"),
    path("s/<slug:studio>/invitations/", views.InvitationCreateView.as_view(), name="invitation_create"),
    path(
        "s/<slug:studio>/invitations/<int:invitation_id>/resend/",
        views.InvitationActionView.as_view(operation="resend"),
        name="invitation_resend",
    ),
    path(
        "s/<slug:studio>/invitations/<int:invitation_id>/revoke/",
        views.InvitationActionView.as_view(operation="revoke"),
        name="invitation_revoke",
    ),
    path("s/<slug:studio>/members/<int:membership_id>/role/", views.MemberRoleView.as_view(), name="member_role"),
    path("s/<slug:studio>/members/<int:membership_id>/remove/", views.MemberRemoveView.as_view(), name="member_remove"),
    path("s/<slug:studio>/projects/new/", views.ProjectCreateView.as_view(), name="project_create"),
    path("s/<slug:studio>/audit/", views.AuditView.as_view(), name="audit"),
    path("s/<slug:studio>/audit.csv", views.AuditExportView.as_view(), name="audit_export"),
]
