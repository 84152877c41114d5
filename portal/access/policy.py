"""THE access policy. Who may do what is written here once; everything else asks `can()`.

Two kinds of role hold actions:
- a studio role (studio_admin | member), from StudioMembership;
- a project role (producer | director | artist | viewer), from ProjectMembership.
A user's rights on an object are the union of what their roles there allow. Studio admins run
projects and members but see no footage unless they also hold a project role. Platform staff
(is_staff) get nothing here: they onboard studios in the Django admin, not studio content.

A suspended studio denies everything; an archived project keeps only reading and management. A few
actions also ask the object itself (`CONDITIONS`): external AI needs the studio's consent, and a
version's original leaves only once released.

The policy answers two questions, from the same table: `can(user, action, obj)` ("may I?") and
`filter(user, action, queryset)` ("which rows?"), which narrows a queryset in SQL to exactly the rows
`can()` would allow. Callers turn a "no" into 404 when the user may not even see the object (see
`is_visible`)."""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext_noop

from portal.access.roles import ProjectRole, StudioRole
from portal.core.prepared import PreparedQuery


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
    EXTERNAL_AI_USE = "external_ai.use"


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
    Action.EXTERNAL_AI_USE: gettext_noop("Send material to an external AI provider (where the studio allows it)"),
}

# The role names come from one place (portal/access/roles.py), which the membership models use too.
STUDIO_ADMIN = StudioRole.STUDIO_ADMIN
STUDIO_MEMBER = StudioRole.MEMBER
PRODUCER, DIRECTOR, ARTIST, VIEWER = ProjectRole.PRODUCER, ProjectRole.DIRECTOR, ProjectRole.ARTIST, ProjectRole.VIEWER
STUDIO_ROLES = tuple(StudioRole)
PROJECT_ROLES = tuple(ProjectRole)

_VIEWER = {Action.PROJECT_VIEW, Action.FOOTAGE_VIEW, Action.REVIEW_COMMENT}
# The character sheet is edited by whoever may run the tools that check shots against it.
_ARTIST = _VIEWER | {
    Action.FOOTAGE_UPLOAD,
    Action.ASSET_DOWNLOAD,
    Action.TOOLRUN_START,
    Action.TOOLRUN_CANCEL,
    Action.CHARACTERS_EDIT,
    # whoever may run the tools may run those that reach an external provider, where the studio consents
    Action.EXTERNAL_AI_USE,
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


def _studio_role_query(user_id, studio_id):
    from portal.studios.models import StudioMembership

    return StudioMembership.objects.filter(studio_id=studio_id, user_id=user_id).values_list("role").order_by()[:1]


def _roles_query(user_id, studio_id, project_id):
    from django.db.models import OuterRef, Subquery

    from portal.projects.models import ProjectMembership
    from portal.studios.models import StudioMembership

    project_role = ProjectMembership.objects.filter(project_id=project_id, user_id=OuterRef("user_id")).values("role")[:1]
    return (
        StudioMembership.objects.filter(studio_id=studio_id, user_id=user_id)
        .annotate(project_role=Subquery(project_role))
        .values_list("role", "project_role")
        .order_by()[:1]
    )


# Asked on every scoped request: built once (portal.core.prepared), read afresh each time.
_STUDIO_ROLE = PreparedQuery(_studio_role_query, int, int)
_ROLES = PreparedQuery(_roles_query, int, int, int)


def _roles_from_db(user, studio, project) -> Roles | None:
    """Both memberships in one query (the project role as a subquery)."""
    if project is None:
        row = _STUDIO_ROLE.first(user.pk, studio.pk)
        return Roles(row[0], None) if row is not None else None
    row = _ROLES.first(user.pk, studio.pk, project.pk)
    if row is None:
        return None
    return Roles(row[0], row[1])


# --- what the object itself must be ----------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    """A rule on the object, whoever asks: `holds(obj, studio, project)` for can(), and `where(model,
    placement)` (a Q on the model's rows, or None when the rule says nothing about that model) for filter()."""

    holds: Callable[[Any, Any, Any], bool]
    where: Callable[[type, Placement], Q | None]


def _row_holds(action):
    # A model may add a rule of its own for an action: `policy_holds(action)` on the row and
    # `policy_where(action)` (a Q) on the class. AssetVersion does, for downloads: an original leaves
    # only once released (footage always; a generated version once a producer approved its bytes).
    def holds(obj, studio, project):
        check = getattr(obj, "policy_holds", None)
        return True if check is None else check(action)

    def where(model, place):
        rule = getattr(model, "policy_where", None)
        return None if rule is None else rule(action)

    return Condition(holds, where)


CONDITIONS: dict[Action, Condition] = {
    # The studio's consent: no footage goes to an external provider unless a studio admin allowed it.
    Action.EXTERNAL_AI_USE: Condition(
        holds=lambda obj, studio, project: bool(studio.allow_external_ai),
        where=lambda model, place: Q(**{place.studio_field("allow_external_ai"): True}),
    ),
    Action.ASSET_DOWNLOAD: _row_holds(Action.ASSET_DOWNLOAD),
}


def conditions_hold(action: Action | str, obj) -> bool:
    """The object's half of the answer alone (no user, no query): for a worker re-checking a queued job."""
    condition = CONDITIONS.get(Action(action))
    if condition is None:
        return True
    studio, project = _studio_and_project(obj)
    return condition.holds(obj, studio, project)


# --- "may I?" -----------------------------------------------------------------------------------


def can(user, action: Action | str, obj) -> bool:
    """May `user` do `action` on `obj` (a Studio, a Project, or anything with .project/.studio)?"""
    roles = roles_of(user, obj)
    if roles is None:
        return False
    return _allowed(Action(action), roles, obj)


def _allowed(action: Action, roles: Roles, obj) -> bool:
    studio, project = _studio_and_project(obj)
    archived = bool(project is not None and project.is_archived)
    if not allowed_by_table(action, studio_role=roles.studio_role, project_role=roles.project_role, archived=archived):
        return False
    condition = CONDITIONS.get(action)
    return condition is None or condition.holds(obj, studio, project)


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
    return frozenset(a for a in Action if _allowed(a, roles, obj))


# --- "which rows?" ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Placement:
    """Where a model's rows sit: the lookup from a row to its studio ("" for a Studio itself) and to
    its project (None for rows of a studio; "" for a Project itself)."""

    studio: str
    project: str | None
    project_nullable: bool = False  # a row of a studio that may also name a project (an invitation)

    def studio_field(self, name: str) -> str:
        return f"{self.studio}__{name}" if self.studio else name

    def studio_ref(self) -> OuterRef:
        return OuterRef(self.studio or "pk")

    def project_field(self, name: str) -> str:
        return f"{self.project}__{name}" if self.project else name

    def project_ref(self) -> OuterRef:
        return OuterRef(self.project or "pk")


def placement(model) -> Placement:
    """How the policy finds a row's studio and project in SQL (the counterpart of _studio_and_project).
    A model whose project sits further away names the path in `policy_project` (AssetVersion:
    "asset__project")."""
    from portal.projects.models import Project
    from portal.studios.models import Studio

    if issubclass(model, Studio):
        return Placement("", None)
    if issubclass(model, Project):
        return Placement("studio", "")
    declared = getattr(model, "policy_project", None)
    if declared:
        return Placement(f"{declared}__studio", declared)
    fields = {f.name: f for f in model._meta.get_fields()}
    if "project" in fields:
        if "studio" in fields and fields["project"].null:
            return Placement("studio", "project", project_nullable=True)
        return Placement("project__studio", "project")
    if "studio" in fields:
        return Placement("studio", None)
    raise TypeError(f"the access policy does not know how to place {model.__name__} rows")


def filter(user, action: Action | str, queryset):  # noqa: A001 - the policy's "which rows?", beside can()
    """The rows of `queryset` on which `can(user, action, row)` is true, narrowed in SQL (one query,
    whatever the number of rows): the same table, the same suspended studios and archived projects,
    the same conditions. Ordering, annotations and select_related of the queryset are kept."""
    from portal.projects.models import Project, ProjectMembership
    from portal.studios.models import Studio, StudioMembership

    action = Action(action)
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return queryset.none()
    place = placement(queryset.model)
    on_project = SCOPE[action] is Scope.PROJECT and place.project is not None
    member = StudioMembership.objects.filter(studio=place.studio_ref(), user_id=user.pk)
    studio_roles = [r for r in STUDIO_ROLES if action in ROLE_ACTIONS[r]]
    project_roles = [r for r in PROJECT_ROLES if action in ROLE_ACTIONS[r]] if on_project else []

    granted = []
    if studio_roles:
        granted.append(Q(Exists(member.filter(role__in=studio_roles))))
    if project_roles:
        on_it = ProjectMembership.objects.filter(project=place.project_ref(), user_id=user.pk, role__in=project_roles)
        # roles_of() gives no standing at all without a studio membership, whatever the project says
        granted.append(Q(Exists(member)) & Q(Exists(on_it)))
    if not granted:
        return queryset.none()
    where = granted[0]
    for other in granted[1:]:
        where |= other
    where &= ~Q(**{place.studio_field("status"): Studio.Status.SUSPENDED})
    if on_project and action not in ALLOWED_WHEN_ARCHIVED:
        archived = Q(**{place.project_field("status"): Project.Status.ARCHIVED})
        if place.project_nullable:
            archived &= Q(**{f"{place.project}__isnull": False})
        where &= ~archived
    condition = CONDITIONS.get(action)
    if condition is not None:
        extra = condition.where(queryset.model, place)
        if extra is not None:
            where &= extra
    return queryset.filter(where)
