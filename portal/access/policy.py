"""THE access policy. Who may do what is written here once; everything else asks `can()`.

Two kinds of role hold actions:
- a studio role (studio_admin | member), from StudioMembership;
- a project role (producer | director | artist | viewer), from ProjectMembership.
A user's rights on an object are the union of what their roles there allow. Studio admins run
projects and members but see no footage unless they also hold a project role. Platform staff
(is_staff) get nothing here: they onboard studios in the Django admin, not studio content.

A suspended studio denies everything; an archived project keeps only reading and management.
Callers turn a "no" into 404 when the user may not even see the object (see `is_visible`)."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum

from django.utils.translation import gettext_noop


class Scope(StrEnum):
    STUDIO = "studio"
    PROJECT = "project"


class Action(StrEnum):
    # studio scope
    STUDIO_VIEW = "studio.view"
    STUDIO_MANAGE = "studio.manage"
    STUDIO_MEMBERS_MANAGE = "studio.members.manage"
    PROJECT_CREATE = "project.create"
    AUDIT_VIEW = "audit.view"
    # project scope
    PROJECT_VIEW = "project.view"
    PROJECT_MANAGE = "project.manage"
    MEMBERS_MANAGE = "members.manage"
    FOOTAGE_VIEW = "footage.view"
    FOOTAGE_UPLOAD = "footage.upload"
    SHOT_SUBMIT = "shot.submit"
    ASSET_DOWNLOAD = "asset.download"
    TOOLRUN_START = "toolrun.start"
    TOOLRUN_CANCEL = "toolrun.cancel"
    REVIEW_COMMENT = "review.comment"
    PLATE_APPROVE = "plate.approve"
    CHARACTERS_EDIT = "characters.edit"
    WEBHOOKS_MANAGE = "webhooks.manage"


SCOPE: dict[Action, Scope] = {
    Action.STUDIO_VIEW: Scope.STUDIO,
    Action.STUDIO_MANAGE: Scope.STUDIO,
    Action.STUDIO_MEMBERS_MANAGE: Scope.STUDIO,
    Action.PROJECT_CREATE: Scope.STUDIO,
    Action.AUDIT_VIEW: Scope.STUDIO,
}
for _action in Action:
    SCOPE.setdefault(_action, Scope.PROJECT)

# Human-readable, for the role tables shown on project and studio pages (translated there).
DESCRIPTIONS: dict[Action, str] = {
    Action.STUDIO_VIEW: gettext_noop("See the studio dashboard"),
    Action.STUDIO_MANAGE: gettext_noop("Change studio settings (two-factor, external AI, data retention)"),
    Action.STUDIO_MEMBERS_MANAGE: gettext_noop("Invite and remove studio members"),
    Action.PROJECT_CREATE: gettext_noop("Create projects"),
    Action.AUDIT_VIEW: gettext_noop("Read and export the audit log"),
    Action.PROJECT_VIEW: gettext_noop("Open the project workspace"),
    Action.PROJECT_MANAGE: gettext_noop("Rename, archive and restore the project"),
    Action.MEMBERS_MANAGE: gettext_noop("Add, remove and change project members"),
    Action.FOOTAGE_VIEW: gettext_noop("Watch footage and generated media"),
    Action.FOOTAGE_UPLOAD: gettext_noop("Upload footage"),
    Action.SHOT_SUBMIT: gettext_noop("Submit shots"),
    Action.ASSET_DOWNLOAD: gettext_noop("Download originals"),
    Action.TOOLRUN_START: gettext_noop("Run studio tools"),
    Action.TOOLRUN_CANCEL: gettext_noop("Cancel tool runs"),
    Action.REVIEW_COMMENT: gettext_noop("Comment and draw on frames"),
    Action.PLATE_APPROVE: gettext_noop("Approve or reject generated plates"),
    Action.CHARACTERS_EDIT: gettext_noop("Edit the character sheet (characters, reference stills, costumes)"),
    Action.WEBHOOKS_MANAGE: gettext_noop("Register webhook endpoints, rotate their secrets and read their delivery log"),
}

STUDIO_ADMIN = "studio_admin"
STUDIO_MEMBER = "member"
PRODUCER, DIRECTOR, ARTIST, VIEWER = "producer", "director", "artist", "viewer"
STUDIO_ROLES = (STUDIO_ADMIN, STUDIO_MEMBER)
PROJECT_ROLES = (PRODUCER, DIRECTOR, ARTIST, VIEWER)

_VIEWER = {Action.PROJECT_VIEW, Action.FOOTAGE_VIEW, Action.REVIEW_COMMENT}
# The character sheet is edited by whoever may run the tools that check shots against it.
_ARTIST = _VIEWER | {
    Action.FOOTAGE_UPLOAD,
    Action.ASSET_DOWNLOAD,
    Action.TOOLRUN_START,
    Action.TOOLRUN_CANCEL,
    Action.CHARACTERS_EDIT,
}
_DIRECTOR = _ARTIST | {Action.SHOT_SUBMIT}
_PRODUCER = _DIRECTOR | {Action.PLATE_APPROVE, Action.MEMBERS_MANAGE}

ROLE_ACTIONS: dict[str, frozenset[Action]] = {
    STUDIO_ADMIN: frozenset(
        {
            Action.STUDIO_VIEW,
            Action.STUDIO_MANAGE,
            Action.STUDIO_MEMBERS_MANAGE,
            Action.PROJECT_CREATE,
            Action.AUDIT_VIEW,
            # projects: run them, but no footage unless they also hold a project role
            Action.PROJECT_VIEW,
            Action.PROJECT_MANAGE,
            Action.MEMBERS_MANAGE,
            # where the project's events are sent: a studio decision, like its members
            Action.WEBHOOKS_MANAGE,
        }
    ),
    STUDIO_MEMBER: frozenset({Action.STUDIO_VIEW}),
    PRODUCER: frozenset(_PRODUCER),
    DIRECTOR: frozenset(_DIRECTOR),
    ARTIST: frozenset(_ARTIST),
    VIEWER: frozenset(_VIEWER),
}

# What still works in an archived project: reading, downloading and un-archiving.
ALLOWED_WHEN_ARCHIVED = frozenset({Action.PROJECT_VIEW, Action.PROJECT_MANAGE, Action.FOOTAGE_VIEW, Action.ASSET_DOWNLOAD})


@dataclass(frozen=True)
class Roles:
    studio_role: str | None
    project_role: str | None

    def actions(self) -> frozenset[Action]:
        granted: set[Action] = set()
        for role in (self.studio_role, self.project_role):
            if role:
                granted |= ROLE_ACTIONS[role]
        return frozenset(granted)


def allowed_by_table(action: Action | str, *, studio_role: str | None, project_role: str | None, archived: bool = False) -> bool:
    """The pure table lookup, with no database: tests generate their expectations from this."""
    action = Action(action)
    if SCOPE[action] is Scope.STUDIO:
        # Studio-wide rights (audit, invitations...) do not depend on the project at hand.
        project_role = None
        archived = False
    if archived and action not in ALLOWED_WHEN_ARCHIVED:
        return False
    return action in Roles(studio_role, project_role).actions()


def _studio_and_project(obj):
    """Find the studio and the project an object belongs to."""
    from portal.projects.models import Project
    from portal.studios.models import Studio

    if isinstance(obj, Studio):
        return obj, None
    if isinstance(obj, Project):
        return obj.studio, obj
    project = getattr(obj, "project", None)
    if project is not None:
        return project.studio, project
    studio = getattr(obj, "studio", None)
    if studio is not None:
        return studio, None
    raise TypeError(f"the access policy does not know how to place {type(obj).__name__}")


# The roles a request has already looked up: (user, studio, project) -> Roles. Only while a request is
# being answered (the middleware opens it), so a page asking require() and then actions_of() (and
# its templates asking again) reads the memberships once. Outside a request (tasks, websockets,
# which must see a revocation at once) nothing is cached. Any membership saved or deleted clears it.
_request_roles: contextvars.ContextVar[dict | None] = contextvars.ContextVar("portal_request_roles", default=None)


@contextmanager
def roles_cached_for_this_request() -> Iterator[None]:
    token = _request_roles.set({})
    try:
        yield
    finally:
        _request_roles.reset(token)


def forget_cached_roles(**_signal_kwargs) -> None:
    cache = _request_roles.get()
    if cache:
        cache.clear()


def roles_of(user, obj) -> Roles | None:
    """The user's roles on obj, or None when they have no standing there at all."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    studio, project = _studio_and_project(obj)
    if studio.is_suspended:
        return None
    cache = _request_roles.get()
    key = (user.pk, studio.pk, project.pk if project is not None else None)
    if cache is not None and key in cache:
        return cache[key]
    roles = _roles_from_db(user, studio, project)
    if cache is not None:
        cache[key] = roles
    return roles


def _roles_from_db(user, studio, project) -> Roles | None:
    """Both memberships in one query (the project role as a subquery)."""
    from django.db.models import OuterRef, Subquery

    from portal.projects.models import ProjectMembership
    from portal.studios.models import StudioMembership

    memberships = StudioMembership.objects.filter(studio_id=studio.pk, user_id=user.pk)
    if project is None:
        studio_role = memberships.values_list("role", flat=True).first()
        return Roles(studio_role, None) if studio_role is not None else None
    project_role = ProjectMembership.objects.filter(project_id=project.pk, user_id=OuterRef("user_id")).values("role")[:1]
    row = memberships.annotate(project_role=Subquery(project_role)).values_list("role", "project_role").first()
    if row is None:
        return None
    return Roles(row[0], row[1])


def can(user, action: Action | str, obj) -> bool:
    """May `user` do `action` on `obj` (a Studio, a Project, or anything with .project/.studio)?"""
    roles = roles_of(user, obj)
    if roles is None:
        return False
    _, project = _studio_and_project(obj)
    archived = bool(project is not None and project.is_archived)
    return allowed_by_table(action, studio_role=roles.studio_role, project_role=roles.project_role, archived=archived)


def view_action_for(obj) -> Action:
    _, project = _studio_and_project(obj)
    return Action.PROJECT_VIEW if project is not None else Action.STUDIO_VIEW


def is_visible(user, obj) -> bool:
    return can(user, view_action_for(obj), obj)


def actions_of(user, obj) -> frozenset[Action]:
    """Everything the user may do on obj: for templates deciding which buttons to show."""
    roles = roles_of(user, obj)
    if roles is None:
        return frozenset()
    _, project = _studio_and_project(obj)
    archived = bool(project is not None and project.is_archived)
    return frozenset(
        a
        for a in Action
        if allowed_by_table(a, studio_role=roles.studio_role, project_role=roles.project_role, archived=archived)
    )
