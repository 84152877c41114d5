"""Scoped base classes for the REST API, the counterpart of access/views.py.

A viewset names its scope object (a Studio or Project found from the URL) and the policy
action per HTTP method in `policy_actions`; `initial()` checks it before the handler runs.
`get_queryset` is final: subclasses provide `scoped_queryset(scope)`."""

from __future__ import annotations

from rest_framework import viewsets

from portal.access.enforce import require
from portal.access.policy import view_action_for


class ScopedAPIMixin:
    policy_actions: dict[str, str] = {}
    # DRF action name → policy action, for @action routes and per-verb overrides
    policy_actions_by_view_action: dict[str, str] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for forbidden in ("get_queryset", "initial", "check_permissions"):
            if forbidden in cls.__dict__ and cls.__module__ != __name__:
                raise TypeError(f"{cls.__name__} overrides {forbidden}(): provide scoped_queryset()/get_scope() instead")

    def get_scope(self):
        """The Studio or Project this request is about (404 when it does not exist)."""
        raise NotImplementedError

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
        return self.policy_actions.get(method) or view_action_for(self.scope)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.scope = self.get_scope()
        require(request.user, self.policy_action(), self.scope)

    def get_queryset(self):
        return self.scoped_queryset(self.scope)


class ScopedViewSet(ScopedAPIMixin, viewsets.GenericViewSet):
    pass
