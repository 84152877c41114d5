"""Scoped base classes for pages: the studio (and project) come from the URL and are checked
against the policy before any handler runs, so a page cannot forget the scope.

Subclasses set `policy_action` (or `policy_actions` per HTTP method) and never override
`dispatch`; the check happens in `dispatch` here."""

from __future__ import annotations

from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404
from django.views import View

from portal.access.enforce import require
from portal.access.policy import Action, actions_of, view_action_for
from portal.projects.models import Project
from portal.studios.models import Studio


class _ScopedMixin:
    policy_action: Action | str | None = None
    policy_actions: dict[str, Action | str] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "dispatch" in cls.__dict__ and cls.__module__ != __name__:
            raise TypeError(f"{cls.__name__} overrides dispatch(): the scope check lives there. Use get()/post().")

    def action_for(self, method: str) -> Action | str:
        action = self.policy_actions.get(method.upper()) or self.policy_action
        if action is None:
            raise TypeError(f"{type(self).__name__} declares no policy action for {method}")
        return action


class StudioScopedView(LoginRequiredMixin, _ScopedMixin, View):
    """URL kwargs: studio (slug). Sets self.studio and self.actions."""

    def resolve_scope(self, request, **kwargs):
        self.studio = Studio.objects.filter(slug=kwargs["studio"]).first()
        if self.studio is None:
            raise Http404("Not found")
        return self.studio

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        obj = self.resolve_scope(request, **kwargs)
        method = request.method.lower()
        if method in self.http_method_names and hasattr(self, method) and method != "options":
            require(request.user, self.action_for(request.method), obj)
        else:
            # No handler (Django will answer 405) or OPTIONS: outsiders must still get 404, or the
            # status would tell them that the studio or project exists.
            require(request.user, view_action_for(obj), obj)
        self.actions = actions_of(request.user, obj)
        return View.dispatch(self, request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs) if hasattr(super(), "get_context_data") else {}
        context.update({"studio": self.studio, "actions": self.actions})
        if getattr(self, "project", None) is not None:
            context["project"] = self.project
        context.update(kwargs)
        return context


class ProjectScopedView(StudioScopedView):
    """URL kwargs: studio (slug), project (code). Sets self.studio, self.project."""

    def resolve_scope(self, request, **kwargs):
        studio = super().resolve_scope(request, **kwargs)
        self.project = Project.objects.select_related("studio").filter(studio=studio, code=kwargs["project"]).first()
        if self.project is None:
            raise Http404("Not found")
        return self.project
