"""The "Model providers" section of the studio settings, as an inclusion tag so the studio dashboard
only includes it: `{% load providers %}{% studio_ai_providers %}`."""

from __future__ import annotations

from django import template

from portal.providers import selectors

register = template.Library()


@register.inclusion_tag("providers/studio_settings.html", takes_context=True)
def studio_ai_providers(context):
    studio = context["studio"]
    found = selectors.catalog()
    rows = selectors.studio_providers(studio)
    allowed = [r for r in rows if r["allowed"]]
    defaults = selectors.tool_defaults(studio)
    tools = []
    for spec in selectors.ai_tools():
        default = defaults.get(spec.name)
        current = ""
        if default is not None and any(r["id"] == default.provider for r in allowed):
            current = default.provider + ("|" + default.model if default.model else "")
        tools.append({"name": spec.name, "title": spec.title, "current": current})
    return {
        "studio": studio,
        "actions": context.get("actions", ()),
        "csrf_token": context.get("csrf_token"),
        "providers": rows,
        "allowed": allowed,
        "tools": tools,
        "problem": found.problem,
    }
