"""The recap run page: what it shows (moments, suggestions, cited narration) and the reviewer's re-render.

A re-render is a new run of the recap tool on the same input versions, with the same parameters plus
the reviewer's `edit` (moments in playing order, narration sentences). The tool reuses the cached
analysis and chooses nothing; the verifier judges every sentence again. Where a sentence comes from
is decided here, on the server, by comparing its text with the run it was edited from: a client
cannot label its own words as quoted subtitles or as the model's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse

from portal.access.enforce import require
from portal.access.policy import Action
from portal.audit.services import record
from portal.core.errors import ServiceError
from portal.toolruns.models import ToolRun
from portal.toolruns.services import toolrun_create

TOOL = "recap"
THUMBNAILS_OUTPUT = "moments"
VIDEO_OUTPUT = "recap"


class NotEditable(ServiceError):
    pass


def is_editable(run: ToolRun) -> bool:
    report = run.report or {}
    return run.tool == TOOL and run.status == ToolRun.Status.SUCCEEDED and bool(report.get("moments"))


def _clock(seconds: float) -> str:
    total = max(0.0, float(seconds))
    minutes, rest = divmod(total, 60)
    hours, minutes = divmod(int(minutes), 60)
    return f"{hours:02d}:{minutes:02d}:{rest:06.3f}" if hours else f"{minutes:02d}:{rest:06.3f}"


def page_data(run: ToolRun) -> dict[str, Any] | None:
    """What the run page's recap section needs, as plain JSON (the script reads it from the page)."""
    if not is_editable(run):
        return None
    report = run.report
    project = run.project
    kwargs = {"studio": project.studio.slug, "project": project.code}
    outputs = {o.name: o for o in run.outputs.all()}
    video = outputs.get(VIDEO_OUTPUT)
    names = {v["episode"]: v["name"] for v in report.get("videos", [])}
    # How far a moment may be stretched: the episode's usable end (the spoiler boundary), else its end.
    limits = {v["episode"]: v.get("usable_until", v.get("duration")) for v in report.get("videos", [])}

    def moment(m: dict[str, Any]) -> dict[str, Any]:
        return {
            "episode": m["episode"],
            "episode_name": names.get(m["episode"], f"episode {m['episode']}"),
            "start": m["start"],
            "end": m["end"],
            "duration": m.get("duration", m["end"] - m["start"]),
            "timecode": f"{_clock(m['start'])}–{_clock(m['end'])}",
            "score": m.get("score"),
            "reasons": m.get("reasons", []),
            "lines": [{"id": c["id"], "text": c["text"]} for c in m.get("lines", [])],
            "thumb": m.get("thumb"),
            "recap_start": m.get("recap_start"),
            "limit": limits.get(m["episode"]),
        }

    narration = report.get("narration", {})
    sentences = [
        {
            "text": s["text"],
            "origin": s["origin"],
            "verdict": s["verdict"],
            "shipped": s["shipped"],
            "problems": s.get("problems", []),
            "repairs": s.get("repairs", []),
            "citations": [
                {"id": c["id"], "episode": c["episode"], "start": c["start"], "clock": _clock(c["start"]), "text": c["text"]}
                for c in s.get("citations", [])
            ],
            "recap_start": s.get("recap_start"),
            "recap_end": s.get("recap_end"),
        }
        for s in narration.get("sentences", [])
    ]
    sheet = report.get("thumbnails")
    thumbs = None
    if sheet and THUMBNAILS_OUTPUT in outputs:
        thumbs = {
            **sheet,
            "url": reverse("toolruns:output_image", kwargs={**kwargs, "run_id": run.pk, "name": THUMBNAILS_OUTPUT}),
        }
    return {
        "run": run.pk,
        "moments": [moment(m) for m in report["moments"]],
        "suggestions": [moment(m) for m in report.get("suggestions", [])],
        "sentences": sentences,
        "narration": {"mode": narration.get("mode"), "label": narration.get("label"), "verdicts": narration.get("verdicts", {})},
        "duration": report.get("selection", {}).get("duration_seconds"),
        "target": report.get("selection", {}).get("target_seconds"),
        "edit_applied": bool(report.get("edit_applied")),
        "thumbnails": thumbs,
        "video": (
            {
                "proxy": reverse("footage:media", kwargs={**kwargs, "version_id": video.version_id, "what": "proxy"}),
                "asset": reverse("footage:asset", kwargs={**kwargs, "asset_id": video.version.asset_id}),
            }
            if video is not None and video.version.proxy_key
            else None
        ),
        "rerender_url": reverse("api:project-toolrun-rerender", kwargs={"project_pk": project.pk, "pk": run.pk}),
    }


def _origins(run: ToolRun) -> dict[str, str]:
    """Text -> where it came from, for the sentences of the run being edited."""
    found: dict[str, str] = {}
    for s in (run.report or {}).get("narration", {}).get("sentences", []):
        text = " ".join(str(s.get("text", "")).split())
        if s.get("origin") in ("claude", "extractive") and text:
            found.setdefault(text, s["origin"])
    return found


def rerender(*, actor, run: ToolRun, edit: Any) -> ToolRun:
    """Start a new recap run that renders the reviewer's edit of `run`."""
    require(actor, Action.TOOLRUN_START, run.project)
    if not is_editable(run):
        raise NotEditable("Only a finished recap run can be edited and rendered again.")
    if not isinstance(edit, Mapping):
        raise ValidationError({"edit": ["The edit must be an object with moments and sentences."]})
    unknown = set(edit) - {"moments", "sentences"}
    if unknown:
        raise ValidationError({"edit": [f"Unknown field(s): {', '.join(sorted(map(str, unknown)))}."]})
    moments = edit.get("moments")
    if not isinstance(moments, list) or not moments:
        raise ValidationError({"edit.moments": ["Keep at least one moment: a recap cannot be empty."]})
    sentences = edit.get("sentences") or []
    if not isinstance(sentences, list):
        raise ValidationError({"edit.sentences": ["Sentences must be a list."]})

    origins = _origins(run)
    cleaned = []
    for item in sentences:
        if not isinstance(item, Mapping):
            raise ValidationError({"edit.sentences": ["Each sentence must be an object with text and cues."]})
        text = " ".join(str(item.get("text", "")).split())
        cleaned.append({"text": text, "cues": item.get("cues", []), "origin": origins.get(text, "edited")})

    narration = (run.report or {}).get("narration", {})
    draft_model = narration.get("model") or narration.get("draft_model")
    params = {
        **run.params,
        # Nothing is written by a model on a re-render: the sentences are the reviewer's.
        "external_ai": False,
        "edit": {
            "moments": moments,
            "sentences": cleaned,
            **({"draft_model": draft_model} if draft_model else {}),
        },
    }
    slots: dict[str, list[int]] = {}
    for item in run.inputs:
        slots.setdefault(item["slot"], []).append(item["version"])
    with transaction.atomic():
        new = toolrun_create(actor=actor, project=run.project, tool=TOOL, params=params, input_version_ids=slots)
        _record_edit(actor, run, new, moments, cleaned)
    return new


def _record_edit(actor, run: ToolRun, new: ToolRun, moments: list, cleaned: list[dict[str, Any]]) -> None:
    record(
        action="toolrun.recap_edit",
        actor=actor,
        project=run.project,
        target=new,
        details={
            "from_run": run.pk,
            "moments": len(moments),
            "sentences": len(cleaned),
            "edited_sentences": sum(1 for s in cleaned if s["origin"] == "edited"),
        },
    )
