"""Every read of studios, members and invitations: always scoped by studio."""

from __future__ import annotations

from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce

from portal.access import policy
from portal.access.policy import Action
from portal.projects.models import Project
from portal.studios.models import Invitation, Studio, StudioMembership


def studios_for_user(user):
    """Studios where the user is a member and which are not suspended: the rows the policy lets them
    see (studio.view)."""
    return policy.filter(user, Action.STUDIO_VIEW, studios_listed(user))


def studios_listed(user):
    """Studios as lists show them (with the caller's role), before anyone is asked: narrow with
    access.filter (above, or the API's collection route does it)."""
    if not user.is_authenticated:
        return Studio.objects.none()
    # Counted in subqueries: a Count over the join that filter(memberships__user=...) narrowed
    # would count only the caller's own membership.
    members = (
        StudioMembership.objects.filter(studio=OuterRef("pk")).order_by().values("studio").annotate(n=Count("pk")).values("n")
    )
    projects = Project.objects.filter(studio=OuterRef("pk")).order_by().values("studio").annotate(n=Count("pk")).values("n")
    my_role = StudioMembership.objects.filter(studio=OuterRef("pk"), user=user).values("role")[:1]
    return Studio.objects.annotate(
        member_count=Coalesce(Subquery(members), 0),
        project_count=Coalesce(Subquery(projects), 0),
        my_role=Subquery(my_role),
    ).order_by("name")


def studio_members(studio: Studio):
    return (
        StudioMembership.objects.filter(studio=studio)
        .select_related("user")
        .annotate(project_count=Count("user__project_memberships", filter=Q(user__project_memberships__project__studio=studio)))
        .order_by("-role", "user__email")  # studio_admin sorts after member: reversed, admins come first
    )


def studio_invitations(studio: Studio, *, include_closed: bool = False):
    qs = Invitation.objects.filter(studio=studio).select_related("project", "invited_by", "accepted_by")
    if not include_closed:
        qs = qs.filter(accepted_at=None, revoked_at=None)
    return qs.order_by("-created_at", "-pk")


def studio_membership_get(studio: Studio, membership_id) -> StudioMembership | None:
    return StudioMembership.objects.select_related("user", "studio").filter(studio=studio, pk=membership_id).first()


def studio_invitation_get(studio: Studio, invitation_id) -> Invitation | None:
    return Invitation.objects.select_related("studio", "project").filter(studio=studio, pk=invitation_id).first()


def studio_role_of(user, studio: Studio) -> str | None:
    return StudioMembership.objects.filter(studio=studio, user=user).values_list("role", flat=True).first()


def visible_projects(user, studio: Studio):
    """Projects of `studio` the user may open (project.view: all of them for a studio admin, else
    their own), as the policy answers it."""
    qs = Project.objects.filter(studio=studio).annotate(member_count=Count("memberships", distinct=True))
    return policy.filter(user, Action.PROJECT_VIEW, qs).order_by("status", "code")
