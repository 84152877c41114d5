"""Every read of projects and project members: always scoped."""

from __future__ import annotations

from django.db.models import Count

from portal.access import policy
from portal.access.policy import Action
from portal.projects.models import Project, ProjectMembership
from portal.studios.models import StudioMembership


def projects_listed():
    """Projects as lists show them, before anyone is asked: narrow with access.filter (below, or the
    API's collection route does it)."""
    return (
        Project.objects.select_related("studio")
        .annotate(member_count=Count("memberships", distinct=True))
        .order_by("studio__name", "status", "code")
    )


def projects_for_user(user):
    """Every project the user may open, across their (non-suspended) studios, in one query: the rows
    the policy lets them see (project.view), so "which rows" is the policy's answer, not a second one."""
    return policy.filter(user, Action.PROJECT_VIEW, projects_listed())


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
