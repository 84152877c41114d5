"""Small helpers shared by the studio and project tests."""

from __future__ import annotations

import re

from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages

from portal.audit.models import AuditEvent
from portal.projects.models import Project, ProjectMembership
from portal.studios.models import Invitation, Studio, StudioMembership

User = get_user_model()

INVITE_LINK = re.compile(r"https?://[^/\s]+(/invite/[^/\s]+/)")


def counts() -> dict[str, int]:
    """Row counts of everything a service could half-write."""
    return {
        "users": User.objects.count(),
        "studios": Studio.objects.count(),
        "studio_memberships": StudioMembership.objects.count(),
        "invitations": Invitation.objects.count(),
        "projects": Project.objects.count(),
        "project_memberships": ProjectMembership.objects.count(),
        "audit_events": AuditEvent.objects.count(),
    }


def counts_but_audit() -> dict[str, int]:
    data = counts()
    data.pop("audit_events")
    return data


def flashed(response) -> list[str]:
    """The messages a redirecting page queued for the next page."""
    return [str(m) for m in get_messages(response.wsgi_request)]


def invite_path(message) -> str:
    match = INVITE_LINK.search(message.body)
    assert match, message.body
    return match.group(1)


def last_denial() -> AuditEvent:
    return AuditEvent.objects.filter(action="access.denied").order_by("-id").first()
