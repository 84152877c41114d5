"""The recap section of a run page."""

from __future__ import annotations

from django import template

from portal.toolruns import recap

register = template.Library()


@register.simple_tag
def recap_page_data(run):
    """The JSON the recap editor reads, or None when the run is not a finished recap."""
    data = recap.page_data(run)
    if data is not None:
        data["crossfade"] = float((run.params or {}).get("crossfade_seconds") or 0.0)
    return data
