from __future__ import annotations

from django import template

register = template.Library()


@register.simple_tag
def run_findings_by_character(run):
    """The machine-made notes of a run that name a character (`finding["character"]`), per character:
    [(name, [notes])], names in order, and the characters the run checked that got no finding."""
    notes = run.findings.select_related("version__asset").order_by("frame_start", "pk")
    grouped: dict[str, list] = {}
    for note in notes:
        data = note.finding_data or {}
        name = data.get("character")
        if not name and isinstance(data.get("reference"), dict):
            # A finding against a reference still: the still's input says whose it is.
            index = data["reference"].get("input")
            entry = run.inputs[index] if isinstance(index, int) and 0 <= index < len(run.inputs) else {}
            name = entry.get("character") if isinstance(entry, dict) else None
        if name:
            grouped.setdefault(str(name), []).append(note)
    checked = sorted({str(i["character"]) for i in run.inputs if isinstance(i, dict) and i.get("character")}, key=str.lower)
    return {
        "groups": sorted(grouped.items(), key=lambda item: item[0].lower()),
        "clean": [name for name in checked if name not in grouped],
        "checked": checked,
    }
