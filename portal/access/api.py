"""Scoped base classes for the REST API, the counterpart of access/views.py, through the same resolver
(access/scope.py).

A viewset names where its URL names the scope (`url_scope`: a Studio or Project) and the policy action
per HTTP method in `policy_actions` (and per DRF action in `policy_actions_by_view_action`); `initial()`
resolves and checks it before the handler runs. `get_queryset` is final: subclasses provide
`scoped_queryset(scope)`.

A viewset whose rows are themselves scopes (/studios/, /projects/) has collection routes where the URL
names no object: there `scope` is None and `get_queryset` is the policy's answer to "which rows?"
(`access.filter` over `scoped_queryset(None)`), while a POST names its scope in the body
(`collection_scope()`, checked the same way)."""

from __future__ import annotations

from rest_framework import viewsets
from rest_framework.views import APIView

from portal.access import policy, scope
from portal.access.policy import view_action_for


class ScopedAPIMixin(scope.ScopeChecked):
    scope_entry_points = ("get_queryset", "initial", "check_permissions", "get_scope")

    def get_scope(self):
        """The Studio or Project this request is about (404 when it does not exist; None on a collection
        route that names none)."""
        if not self.url_scope.present(self.kwargs):
            return self.collection_scope()
        return self.url_scope.find(self.kwargs, self.request.user)

    def collection_scope(self):
        """On a collection route (no object in the URL): the object a write names in its body, or None."""
        return None

    def scoped_queryset(self, scope):
        raise NotImplementedError

    def policy_action(self) -> str:
        view_action = getattr(self, "action", None)
        if view_action in self.policy_actions_by_view_action:
            return self.policy_actions_by_view_action[view_action]
        method = self.request.method.upper()
        if method == "HEAD":
            method = "GET"
        # A method the viewset does not list (OPTIONS, or one it does not serve) still needs the
        # right to see the object, so outsiders get 404 rather than 405 and learn nothing.
        declared = self.policy_actions.get(method)
        if declared or self.scope is None:
            return declared or self.policy_actions.get("GET")
        return view_action_for(self.scope)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.scope = None
        self.scope = self.get_scope()
        if self.scope is not None:
            scope.enter(request.user, self.scope, self.policy_action())

    def get_queryset(self):
        if self.scope is None:
            return policy.filter(self.request.user, self.policy_actions["GET"], self.scoped_queryset(None))
        return self.scoped_queryset(self.scope)


class ScopedViewSet(ScopedAPIMixin, viewsets.GenericViewSet):
    pass


class ScopedAPIView(scope.ScopeChecked, APIView):
    """A plain API view (not a viewset: tus) with one scope object, resolved and checked in initial()
    before the handler; `policy_actions` per HTTP method."""

    scope_entry_points = ("initial", "check_permissions")

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.scope = self.url_scope.find(kwargs, request.user)
        method = request.method.lower()
        served = method != "options" and hasattr(self, method)
        action = scope.method_action(self, request.method) if served else None
        # OPTIONS, or a method no handler serves: the right to see it, so outsiders get 404 either way.
        scope.enter(request.user, self.scope, action or view_action_for(self.scope))
