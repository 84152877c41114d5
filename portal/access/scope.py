"""The one scope resolver: pages, the API, tus and websockets find the studio or project a request is
about from its URL here, and ask the policy for the action of the method, before any handler runs.

- `UrlScope` says where the URL names its object (the studio's slug, a project's code, a pk...); its
  `find(kwargs, user)` answers the object or 404. A front door with an object of its own (a tus upload:
  only its creator's) subclasses it.
- `enter(user, obj, action)` asks the policy: 404 when the user may not even see the object, 403 when
  they see it but the role refuses, the denial on the studio's audit record either way (access.enforce).
- `ScopeChecked` is the base of the front doors (access/views.py for pages, access/api.py for the API,
  footage/tus.py, live/consumers.py). At class creation it refuses a subclass that would bypass it:
  one that overrides an entry point where the check runs, or that declares no scope or no policy
  action. A base class that is not routed itself says so with `abstract=True`; a class that must skip a
  rule names an attribute `dangerously_<what>` holding the reason (and says why in a comment)."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import Http404

from portal.access.enforce import require
from portal.access.policy import Action, can
from portal.core.prepared import PreparedQuery, columns, instance


@dataclass(frozen=True)
class UrlScope:
    kind: str  # "studio" | "project"
    kwarg: str  # the URL keyword naming the object
    by: str = "pk"  # "pk" | "slug" (a studio) | "code" (a project, inside its studio: studio_kwarg)
    studio_kwarg: str | None = None

    def present(self, kwargs) -> bool:
        return self.kwarg in kwargs

    def find(self, kwargs, user=None):
        """The Studio or Project the URL names, or Http404 (one query, built once: _FINDERS)."""
        from portal.projects.models import Project
        from portal.studios.models import Studio

        value = kwargs.get(self.kwarg)
        if value is None or (self.by == "pk" and not (str(value).isdigit() and int(value) <= _LARGEST_ID)):
            raise Http404("Not found")
        if self.kind == "studio":
            row = _FINDERS[("studio", self.by)].first(value)
            obj = None if row is None else instance(Studio, row)
        else:
            arguments = (kwargs.get(self.studio_kwarg) or "", value) if self.by == "code" else (value,)
            row = _FINDERS[("project", self.by)].first(*arguments)
            obj = None
            if row is not None:
                obj = instance(Project, row)
                obj.studio = instance(Studio, row, start=len(columns(Project)))
        if obj is None:
            raise Http404("Not found")
        return obj


_LARGEST_ID = 2**63 - 1  # a bigger number names no row (and SQLite could not even compare it)


def _studio_query(**lookup):
    from portal.studios.models import Studio

    return Studio.objects.filter(**lookup).values_list(*columns(Studio)).order_by()[:1]


def _project_query(**lookup):
    """The project and its studio (what select_related("studio") reads), as one row."""
    from portal.projects.models import Project
    from portal.studios.models import Studio

    studio_columns = [f"studio__{name}" for name in columns(Studio)]
    return Project.objects.filter(**lookup).values_list(*columns(Project), *studio_columns).order_by()[:1]


# Every request with a scope asks one of these: built once (portal.core.prepared), read afresh each time.
_FINDERS = {
    ("studio", "pk"): PreparedQuery(lambda pk: _studio_query(pk=pk), int),
    ("studio", "slug"): PreparedQuery(lambda slug: _studio_query(slug=slug), str),
    ("project", "pk"): PreparedQuery(lambda pk: _project_query(pk=pk), int),
    ("project", "code"): PreparedQuery(lambda slug, code: _project_query(studio__slug=slug, code=code), str, str),
}


# Where the house's URLs name their scope.
STUDIO_SLUG = UrlScope("studio", "studio", by="slug")  # pages: /s/<studio>/...
PROJECT_CODE = UrlScope("project", "project", by="code", studio_kwarg="studio")  # pages: /s/<studio>/p/<project>/...
STUDIO_PK = UrlScope("studio", "studio_pk")  # API: /studios/<studio_pk>/...
PROJECT_PK = UrlScope("project", "project_pk")  # API and tus creation: /projects/<project_pk>/...
STUDIO_ROW = UrlScope("studio", "pk")  # API: /studios/<pk>/ (the row is the scope)
PROJECT_ROW = UrlScope("project", "pk")  # API: /projects/<pk>/
PROJECT_ID = UrlScope("project", "project_id")  # websockets: /ws/projects/<project_id>/


def enter(user, obj, action: Action | str) -> None:
    """404 / 403 (audited) unless the policy allows `action` on obj."""
    require(user, action, obj)


def resolve(user, url_scope: UrlScope, kwargs, action: Action | str):
    """Find the object the URL names and check the action on it: the object, or Http404 / PermissionDenied."""
    obj = url_scope.find(kwargs, user)
    enter(user, obj, action)
    return obj


def resolve_quietly(user, url_scope: UrlScope, kwargs, action: Action | str):
    """The same question for a front door that cannot answer 404 or 403 (a websocket closes): the object,
    or None for "not there", "not yours" and "not allowed" alike. Nothing is recorded: a socket asks again
    on every ping."""
    try:
        obj = url_scope.find(kwargs, user)
    except Http404:
        return None
    return obj if can(user, action, obj) else None


def method_action(view, method: str) -> Action | str:
    """The action a method needs: what the class declares for it; for one it does not serve (OPTIONS,
    or a 405 to come) the right to see the object, so outsiders get 404 and learn nothing."""
    return view.policy_actions.get(method.upper()) or view.policy_action


class ScopeChecked:
    """Common ground of the front doors; see the module's docstring."""

    url_scope: UrlScope | None = None
    policy_action: Action | str | None = None
    policy_actions: dict[str, Action | str] = {}
    # API: DRF action name → policy action, for @action routes and per-verb overrides
    policy_actions_by_view_action: dict[str, Action | str] = {}
    # Overriding one of these would skip the check: each front door names its own.
    scope_entry_points: tuple[str, ...] = ()

    @classmethod
    def declares_an_action(cls) -> bool:
        single = getattr(cls, "policy_action", None)  # the API's is a method: its tables are the declaration
        return bool((single and not callable(single)) or cls.policy_actions or cls.policy_actions_by_view_action)

    def __init_subclass__(cls, abstract: bool = False, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__module__.startswith("portal.access."):
            return  # the front doors themselves
        hatches = {name for name in vars(cls) if name.startswith("dangerously_")}
        for name in cls.scope_entry_points:
            if name in vars(cls) and f"dangerously_override_{name}" not in hatches:
                raise TypeError(
                    f"{cls.__name__} overrides {name}(): the scope check runs there. Use the handlers "
                    f"(get/post/..., scoped_queryset), or name why in dangerously_override_{name}."
                )
        if abstract:
            return
        if cls.url_scope is None and "dangerously_no_url_scope" not in hatches:
            raise TypeError(f"{cls.__name__} names no url_scope: the resolver cannot find what the request is about.")
        if not cls.declares_an_action() and "dangerously_no_policy_action" not in hatches:
            raise TypeError(
                f"{cls.__name__} declares no policy action (policy_action, policy_actions or "
                "policy_actions_by_view_action): every scoped request asks the policy."
            )
        for name in hatches:
            if not str(getattr(cls, name) or "").strip():
                raise TypeError(f"{cls.__name__}.{name} must say why (a non-empty reason).")


def project_from_pk(pk):
    """The project a pk names (404 when none): for code that holds an id, not a URL."""
    return PROJECT_ROW.find({"pk": pk})
