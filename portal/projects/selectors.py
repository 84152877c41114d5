"""Every read of projects and project members: always scoped."""

from __future__ import annotations

from django.db.models import Count, Exists, OuterRef, Q

from portal.projects.models import Project, ProjectMembership
from portal.studios.models import Studio, StudioMembership


def projects_for_user(user):
    """Every project the user may open, across their (non-suspended) studios, in one query."""
    if not user.is_authenticated or not user.is_active:
        return Project.objects.none()
    admin_of = StudioMembership.objects.filter(studio=OuterRef("studio"), user=user, role=StudioMembership.Role.STUDIO_ADMIN)
    member_of = ProjectMembership.objects.filter(project=OuterRef("pk"), user=user)
    return (
        Project.objects.select_related("studio")
        .exclude(studio__status=Studio.Status.SUSPENDED)
        .filter(Q(Exists(admin_of)) | Q(Exists(member_of)))
        .annotate(member_count=Count("memberships", distinct=True))
        .order_by("studio__name", "status", "code")
    )


def project_members(project: Project):
    return ProjectMembership.objects.filter(project=project).select_related("user").order_by("role", "user__email")


def project_membership_get(project: Project, membership_id) -> ProjectMembership | None:
    return ProjectMembership.objects.select_related("user", "project__studio").filter(project=project, pk=membership_id).first()


def project_role_of(user, project: Project) -> str | None:
    return ProjectMembership.objects.filter(project=project, user=user).values_list("role", flat=True).first()


def studio_members_not_in_project(project: Project):
    """Candidates for "add member": studio members who are not yet on the project."""
    return (
        StudioMembership.objects.filter(studio_id=project.studio_id)
        .exclude(user__project_memberships__project=project)
        .select_related("user")
        .order_by("user__email")
    )
