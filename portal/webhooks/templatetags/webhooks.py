"""The webhooks section of the project page and the webhooks summary of the studio settings."""

from __future__ import annotations

from django import template

from portal.access.policy import Action, can
from portal.webhooks import net, selectors
from portal.webhooks.forms import EndpointForm
from portal.webhooks.models import Event

register = template.Library()


@register.inclusion_tag("webhooks/_project_section.html", takes_context=True)
def webhooks_section(context):
    project, actions = context.get("project"), context.get("actions") or ()
    visible = project is not None and Action.WEBHOOKS_MANAGE in actions
    return {
        "visible": visible,
        "project": project,
        "studio": context.get("studio"),
        "request": context.get("request"),
        "csrf_token": context.get("csrf_token"),
        "endpoints": list(selectors.endpoints_for_project(project)) if visible else [],
        "recent": list(selectors.deliveries_for_project(project)[:10]) if visible else [],
        "form": EndpointForm() if visible else None,
        "event_labels": dict(Event.choices),
        "https_only": net.require_https(),
    }


@register.inclusion_tag("webhooks/_studio_summary.html", takes_context=True)
def webhooks_studio_summary(context):
    studio, request = context.get("studio"), context.get("request")
    visible = studio is not None and request is not None and can(request.user, Action.STUDIO_MANAGE, studio)
    return {"visible": visible, "studio": studio, "rows": selectors.studio_summary(studio) if visible else []}


@register.filter
def event_label(value) -> str:
    return dict(Event.choices).get(value, value)
