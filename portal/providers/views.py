"""Pages: the studio settings' "Model providers" section posts here (the section itself is the inclusion tag
in templatetags/providers.py, shown on the studio dashboard)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

from portal.access.policy import Action
from portal.access.views import StudioScopedView
from portal.providers import selectors, services


def _back(studio) -> str:
    return reverse("studios:dashboard", kwargs={"studio": studio.slug}) + "#ai-providers"


class ProviderAllowView(StudioScopedView):
    policy_action = Action.STUDIO_MANAGE

    def post(self, request, provider: str, **kwargs):
        allowed = request.POST.get("allowed") == "1"
        try:
            changed = services.studio_provider_set_allowed(
                actor=request.user, studio=self.studio, provider=provider, allowed=allowed
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect(_back(self.studio))
        label = selectors.catalog().providers[provider].label
        if changed and allowed:
            messages.success(request, _("%(provider)s is allowed for this studio.") % {"provider": label})
        elif changed:
            messages.success(request, _("%(provider)s is no longer allowed for this studio.") % {"provider": label})
        return redirect(_back(self.studio))


class ToolDefaultView(StudioScopedView):
    policy_action = Action.STUDIO_MANAGE

    def post(self, request, **kwargs):
        tool = request.POST.get("tool", "")
        choice = request.POST.get("provider", "")
        # The form offers "provider" and "provider|model" choices from one list.
        provider, _sep, model = choice.partition("|")
        try:
            services.studio_tool_default_set(actor=request.user, studio=self.studio, tool=tool, provider=provider, model=model)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("Default model provider for %(tool)s saved.") % {"tool": tool})
        return redirect(_back(self.studio))
