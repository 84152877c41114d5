"""Template helpers for tool pages, and the tools section of the project page."""

from __future__ import annotations

import json

from django import template

from portal.access.policy import Action
from portal.toolruns import selectors, wording
from portal.toolruns.registry import all_tools

register = template.Library()


@register.filter
def tool_title(spec) -> str:
    """The tool's name in the page's language (its machine name stays in the URL and the API)."""
    return wording.tool_title(spec) if spec else ""


@register.filter
def tool_description(spec) -> str:
    return wording.tool_description(spec) if spec else ""


@register.filter
def kind_word(kind) -> str:
    return wording.kind_word(getattr(kind, "value", kind))


@register.simple_tag
def slot_label(spec, slot_name: str) -> str:
    words = wording.input_words(spec, slot_name)
    return words[0] if words else slot_name


@register.simple_tag
def param_label(tool, name: str) -> str:
    return wording.param_label(tool, name)


@register.simple_tag
def param_value(tool, name: str, value) -> str:
    return wording.param_value(tool, name, value)


@register.filter
def duration(seconds) -> str:
    """12 s · 3 min 05 s · 1 h 02 min."""
    if seconds is None or seconds == "":
        return ""
    total = max(0, round(float(seconds)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


@register.filter
def percent(fraction) -> str:
    try:
        return f"{float(fraction) * 100:.0f}%"
    except (TypeError, ValueError):
        return ""


@register.filter
def pretty_json(value) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


@register.inclusion_tag("toolruns/_project_section.html", takes_context=True)
def tools_section(context):
    """The project page's "Tools" section: the tools, the latest runs, the way to the tools page."""
    project, actions = context.get("project"), context.get("actions") or ()
    visible = project is not None and Action.FOOTAGE_VIEW in actions
    runs, active_count = selectors.recent_runs_and_active_count(project, limit=5) if visible else ([], 0)
    return {
        "visible": visible,
        "project": project,
        "studio": context.get("studio"),
        "actions": actions,
        "tools": [t.spec for t in all_tools()] if visible else [],
        "runs": runs,
        "active_count": active_count,
    }


@register.simple_tag
def run_findings(run):
    """The machine-made notes a run left in review, per reviewed version: [(version, [notes])]."""
    notes = run.findings.select_related("version__asset").order_by("version_id", "frame_start", "pk")
    grouped: dict[int, tuple] = {}
    for note in notes:
        grouped.setdefault(note.version_id, (note.version, []))[1].append(note)
    return list(grouped.values())
