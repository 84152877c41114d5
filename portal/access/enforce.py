"""Turning the policy's answer into 404 / 403, with the denial on the audit record.

Call `require()` *before* opening the service's transaction: a denial row must survive the
rollback of the write it refused."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404

from portal.access.policy import Action, can, is_visible


class RoleDenied(PermissionDenied):
    """The policy said no for the user's role (the 403 page explains roles); other refusals carry a
    reason of their own for the person (awaiting approval, being signed) and the page shows that."""


def record_denial(user, action, obj, *, visible: bool) -> None:
    from portal.access.policy import _studio_and_project
    from portal.audit.services import record

    studio, project = _studio_and_project(obj)
    actor = user if getattr(user, "is_authenticated", False) else None
    record(
        action="access.denied",
        actor=actor,
        studio=studio,
        project=project,
        target=obj,
        details={"attempted": str(action), "answered": 403 if visible else 404},
    )


def require(user, action: Action | str, obj) -> None:
    """Raise Http404 if the user may not see obj, PermissionDenied if they see it but may not act."""
    if can(user, action, obj):
        return
    visible = is_visible(user, obj)
    record_denial(user, action, obj, visible=visible)
    if not visible:
        raise Http404("Not found")
    raise RoleDenied(f"Your role does not allow this ({action}).")
