"""The one scope resolver (portal/access/scope.py) refuses, at class creation, a front door that would
bypass it: overriding the entry point where the check runs, naming no scope, declaring no policy action.
A base class says `abstract=True`; a deliberate exception is an attribute named `dangerously_...` that
must hold its reason."""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from portal.access import scope
from portal.access.api import ScopedAPIView, ScopedViewSet
from portal.access.policy import Action
from portal.access.views import ProjectScopedView, StudioScopedView


def test_a_page_that_overrides_dispatch_is_refused():
    with pytest.raises(TypeError, match="overrides dispatch"):

        class Sneaky(ProjectScopedView):
            policy_action = Action.FOOTAGE_VIEW

            def dispatch(self, request, *args, **kwargs):
                return super(StudioScopedView, self).dispatch(request, *args, **kwargs)


def test_a_page_that_finds_its_own_scope_is_refused():
    with pytest.raises(TypeError, match="overrides resolve_scope"):

        class OwnLookup(ProjectScopedView):
            policy_action = Action.FOOTAGE_VIEW

            def resolve_scope(self, request, **kwargs):
                return None


def test_a_page_without_a_policy_action_is_refused():
    with pytest.raises(TypeError, match="declares no policy action"):

        class Forgetful(ProjectScopedView):
            def get(self, request, **kwargs):
                return None


@pytest.mark.parametrize("entry_point", ["get_queryset", "initial", "check_permissions", "get_scope"])
def test_a_viewset_that_overrides_an_entry_point_is_refused(entry_point):
    def anything(self, *args, **kwargs):
        return None

    with pytest.raises(TypeError, match=f"overrides {entry_point}"):
        type(
            "Sneaky",
            (ScopedViewSet,),
            {
                "__module__": __name__,
                "url_scope": scope.PROJECT_PK,
                "policy_actions": {"GET": Action.FOOTAGE_VIEW},
                entry_point: anything,
            },
        )


def test_a_viewset_without_a_scope_or_an_action_is_refused():
    with pytest.raises(TypeError, match="names no url_scope"):

        class Nowhere(ScopedViewSet):
            policy_actions = {"GET": Action.FOOTAGE_VIEW}

    with pytest.raises(TypeError, match="declares no policy action"):

        class Unasked(ScopedViewSet):
            url_scope = scope.PROJECT_PK


def test_a_plain_api_view_is_checked_too():
    with pytest.raises(TypeError, match="overrides initial"):

        class Sneaky(ScopedAPIView):
            url_scope = scope.PROJECT_PK
            policy_actions = {"POST": Action.FOOTAGE_UPLOAD}

            def initial(self, request, *args, **kwargs):
                return None


def test_abstract_bases_and_justified_escape_hatches_are_accepted():
    class Base(ScopedViewSet, abstract=True):
        url_scope = scope.PROJECT_PK

    class Routed(Base):
        policy_actions = {"GET": Action.FOOTAGE_VIEW}

    class Hatched(ScopedViewSet):
        url_scope = scope.PROJECT_PK
        # e.g. an endpoint whose every handler asks the policy itself, for a reason written here
        dangerously_no_policy_action = "each handler asks the policy about the object in the body"

    assert Routed.declares_an_action() and not Hatched.declares_an_action()
    with pytest.raises(TypeError, match="must say why"):

        class Unexplained(ScopedViewSet):
            url_scope = scope.PROJECT_PK
            dangerously_no_policy_action = ""


def _callbacks(patterns):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _callbacks(pattern.url_patterns)
        elif isinstance(pattern, URLPattern):
            yield pattern


def test_every_routed_scoped_view_names_its_scope_and_its_actions():
    seen = 0
    for pattern in _callbacks(get_resolver().url_patterns):
        cls = getattr(pattern.callback, "cls", None) or getattr(pattern.callback, "view_class", None)
        if cls is None or not issubclass(cls, scope.ScopeChecked):
            continue
        seen += 1
        assert isinstance(cls.url_scope, scope.UrlScope), pattern.name
        assert cls.declares_an_action(), pattern.name
        # the scope the class names is one the route's URL carries
        assert cls.url_scope.kwarg in pattern.pattern.regex.groupindex or cls.url_scope.kwarg == "pk", pattern.name
    assert seen > 50
