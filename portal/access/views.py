"""Scoped base classes for pages: the studio (and project) come from the URL and are checked
against the policy before any handler runs, so a page cannot forget the scope.

Subclasses set `policy_action` (or `policy_actions` per HTTP method) and never override
`dispatch`; the check happens in `dispatch` here, through the one resolver (access/scope.py)."""

from __future__ import annotations

from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views import View

from portal.access import scope
from portal.access.policy import Action, actions_of, view_action_for
from portal.projects.models import Project


class _ScopedMixin(scope.ScopeChecked):
    scope_entry_points = ("dispatch", "resolve_scope")

    def action_for(self, method: str) -> Action | str:
        action = scope.method_action(self, method)
        if action is None:
            raise TypeError(f"{type(self).__name__} declares no policy action for {method}")
        return action


def _token_user(request):
    """Sign the request in as the API token's owner (the API's own authentication, same checks), or
    answer 401 with the reason."""
    from rest_framework.exceptions import AuthenticationFailed

    from portal.accounts.authentication import BearerTokenAuthentication

    try:
        found = BearerTokenAuthentication().authenticate(request)
    except AuthenticationFailed as exc:
        response = HttpResponse(str(exc.detail), status=401, content_type="text/plain; charset=utf-8")
        response["WWW-Authenticate"] = "Bearer"
        return response
    if found is not None:
        request.user = found[0]
    return None


class StudioScopedView(LoginRequiredMixin, _ScopedMixin, View):
    """URL kwargs: studio (slug). Sets self.studio and self.actions."""

    url_scope = scope.STUDIO_SLUG

    def resolve_scope(self, request, **kwargs):
        obj = self.url_scope.find(kwargs, request.user)
        if isinstance(obj, Project):
            self.studio, self.project = obj.studio, obj
        else:
            self.studio = obj
        return obj

    # A page a script may fetch with an API token (`Authorization: Bearer ...`) as well as a signed-in
    # browser: the originals' downloads, whose links the API hands out.
    accepts_api_tokens = False

    def dispatch(self, request, *args, **kwargs):
        if self.accepts_api_tokens and not request.user.is_authenticated and "HTTP_AUTHORIZATION" in request.META:
            refused = _token_user(request)
            if refused is not None:
                return refused
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        obj = self.resolve_scope(request, **kwargs)
        method = request.method.lower()
        if method in self.http_method_names and hasattr(self, method) and method != "options":
            scope.enter(request.user, obj, self.action_for(request.method))
        else:
            # No handler (Django will answer 405) or OPTIONS: outsiders must still get 404, or the
            # status would tell them that the studio or project exists.
            scope.enter(request.user, obj, view_action_for(obj))
        self.actions = actions_of(request.user, obj)
        return View.dispatch(self, request, *args, **kwargs)

    # Where a GET lands on a route that only takes forms (its address typed, bookmarked or reloaded):
    # the page the form lives on, at this section, instead of Django's blank 405.
    form_section = ""

    def http_method_not_allowed(self, request, *args, **kwargs):
        if request.method not in ("GET", "HEAD"):
            return super().http_method_not_allowed(request, *args, **kwargs)
        if getattr(self, "project", None) is not None:
            page = reverse("projects:detail", kwargs={"studio": self.studio.slug, "project": self.project.code})
        else:
            page = reverse("studios:dashboard", kwargs={"studio": self.studio.slug})
        return redirect(page + (f"#{self.form_section}" if self.form_section else ""))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs) if hasattr(super(), "get_context_data") else {}
        context.update({"studio": self.studio, "actions": self.actions})
        if getattr(self, "project", None) is not None:
            context["project"] = self.project
        context.update(kwargs)
        return context


class ProjectScopedView(StudioScopedView):
    """URL kwargs: studio (slug), project (code). Sets self.studio, self.project."""

    url_scope = scope.PROJECT_CODE
