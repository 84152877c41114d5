"""The recap run page: what it shows (moments, suggestions, cited narration) and the reviewer's re-render.

A re-render is a new run of the recap tool on the same input versions, with the same parameters plus
the reviewer's `edit` (moments in playing order, narration sentences). The tool reuses the cached
analysis and chooses nothing; the verifier judges every sentence again. Where a sentence comes from
is decided here, on the server, by comparing its text with the run it was edited from: a client
cannot label its own words as quoted subtitles or as the model's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from portal.access.enforce import require
from portal.access.policy import Action
from portal.audit.services import record
from portal.core.errors import Conflict, ServiceError
from portal.toolruns import messages
from portal.toolruns.models import RecapSignoff, ToolRun, ToolRunOutput
from portal.toolruns.services import toolrun_create

TOOL = "recap"
THUMBNAILS_OUTPUT = "moments"
VIDEO_OUTPUT = "recap"


# The verifier's verdicts: "verified" ships; "unverified" is rendered so a person can judge it but
# holds back approval and export until a producer signs it off; "contradicted" never ships.
VERIFIED, UNVERIFIED, CONTRADICTED = "verified", "unverified", "contradicted"
# Runs made before claim-level verification carry the old verdict names; none of them counts as verified
# except a plain "ok", and "repaired" (which read as success) needs a person like any unverified sentence.
_OLD_VERDICTS = {"ok": VERIFIED, "repaired": UNVERIFIED, "flagged": UNVERIFIED, "rejected": CONTRADICTED}


class NotEditable(ServiceError):
    pass


def text_sha256(text: str) -> str:
    return hashlib.sha256(" ".join(str(text).split()).encode("utf-8")).hexdigest()


def sentences_of(report: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The narration sentences of a recap report, each with its stable id, text hash and verdict."""
    found = []
    for index, s in enumerate(((report or {}).get("narration") or {}).get("sentences") or [], 1):
        text = " ".join(str(s.get("text", "")).split())
        verdict = s.get("verdict")
        found.append(
            {
                **s,
                "text": text,
                "id": str(s.get("id") or f"s{index}"),
                "text_sha256": s.get("text_sha256") or text_sha256(text),
                "verdict": _OLD_VERDICTS.get(verdict, verdict),
            }
        )
    return found


def signoff_state(run: ToolRun) -> dict[str, Any]:
    """Which unverified sentences are signed off (by whom, when) and whether the recap may be approved."""
    sentences = sentences_of(run.report)
    signed = {(s.sentence, s.text_sha256): s for s in run.signoffs.select_related("signed_by")}
    signoffs: dict[str, dict[str, Any]] = {}
    pending = []
    for s in sentences:
        if s["verdict"] != UNVERIFIED:
            continue
        done = signed.get((s["id"], s["text_sha256"]))
        if done is None:
            pending.append(s["id"])
        else:
            signoffs[s["id"]] = {
                "by": done.signed_by.display_name,
                "email": done.signed_by.email,
                "at": done.signed_at.isoformat(),
            }
    unverified = sum(1 for s in sentences if s["verdict"] == UNVERIFIED)
    message = ""
    if pending:
        message = ngettext(
            "%(n)d unverified narration sentence is not signed off: a producer signs it off or it is edited "
            "before the recap can be approved or exported.",
            "%(n)d unverified narration sentences are not signed off: a producer signs them off or they are "
            "edited before the recap can be approved or exported.",
            len(pending),
        ) % {"n": len(pending)}
    return {
        "unverified": unverified,
        "signed": len(signoffs),
        "pending": pending,
        "signoffs": signoffs,
        "approvable": not pending,
        "message": message,
    }


def approval_blocker(version) -> str | None:
    """Why an output of a recap run cannot be approved or leave the portal yet; None when it can."""
    output = ToolRunOutput.objects.filter(version_id=version.pk).select_related("run").first()
    if output is None or output.run.tool != TOOL:
        return None
    state = signoff_state(output.run)
    return None if state["approvable"] else state["message"]


def signoff(*, actor, run: ToolRun, sentence: str, text_sha256: str) -> RecapSignoff:
    """A producer signs off one unverified sentence of a finished recap run, for its exact text."""
    require(actor, Action.PLATE_APPROVE, run.project)
    if run.tool != TOOL or run.status != ToolRun.Status.SUCCEEDED:
        raise NotEditable(_("Only the sentences of a finished recap run can be signed off."))
    with transaction.atomic():
        run = ToolRun.objects.select_for_update().select_related("project__studio").get(pk=run.pk)
        found = next((s for s in sentences_of(run.report) if s["id"] == str(sentence)), None)
        if found is None:
            raise ValidationError({"sentence": [_("This recap has no sentence %(id)s.") % {"id": sentence}]})
        if found["verdict"] == VERIFIED:
            raise ValidationError({"sentence": [_("This sentence is verified: there is nothing to sign off.")]})
        if found["verdict"] != UNVERIFIED:
            raise ValidationError(
                {"sentence": [_("A contradicted sentence never ships and cannot be signed off: edit it instead.")]}
            )
        if text_sha256 != found["text_sha256"]:
            raise Conflict(_("This sentence changed since you read it: reload the page and read it again."), code="stale")
        earlier = RecapSignoff.objects.filter(run=run, sentence=found["id"], text_sha256=found["text_sha256"]).first()
        if earlier is not None:
            who = earlier.signed_by.display_name
            raise Conflict(_("This sentence is already signed off by %(who)s.") % {"who": who}, code="done")
        done = RecapSignoff.objects.create(
            run=run, sentence=found["id"], text_sha256=found["text_sha256"], text=found["text"], signed_by=actor
        )
        record(
            action="toolrun.recap_signoff",
            actor=actor,
            project=run.project,
            target=run,
            details={
                "sentence": found["id"],
                "text": found["text"][:500],
                "text_sha256": found["text_sha256"],
                "signed_by": actor.display_name,
                "signed_by_email": actor.email,
                "failed_claims": [c.get("text") for c in found.get("claims") or [] if c.get("verdict") != "supported"][:10],
                "citations": [c.get("id") for c in found.get("citations") or []],
            },
        )
    return done


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
    state = signoff_state(run)
    sentences = [
        {
            "id": s["id"],
            "text_sha256": s["text_sha256"],
            "text": s["text"],
            "origin": s["origin"],
            "verdict": s["verdict"],
            "shipped": s["shipped"],
            "problems": s.get("problems", []),
            "claims": [
                {
                    "text": c.get("text", ""),
                    "verdict": c.get("verdict", ""),
                    "reason": c.get("reason", ""),
                    "span": c.get("span", ""),
                    "local": c.get("local"),
                    "model": c.get("model"),
                }
                for c in s.get("claims") or []
            ],
            "citations": [
                {
                    "id": c["id"],
                    "episode": c["episode"],
                    "start": c["start"],
                    "clock": _clock(c["start"]),
                    "speaker": c.get("speaker") or "",
                    "text": c["text"],
                }
                for c in s.get("citations", [])
            ],
            "signoff": state["signoffs"].get(s["id"]),
            "recap_start": s.get("recap_start"),
            "recap_end": s.get("recap_end"),
        }
        for s in sentences_of(report)
    ]
    verdicts: dict[str, int] = {}
    for s in sentences:
        verdicts[s["verdict"]] = verdicts.get(s["verdict"], 0) + 1
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
        "narration": {
            "mode": narration.get("mode"),
            "label": messages.render_known(narration.get("label")),
            "verdicts": verdicts,
        },
        "gate": {k: state[k] for k in ("unverified", "signed", "pending", "approvable", "message")},
        "signoff_url": reverse("api:project-toolrun-signoff", kwargs={"project_pk": project.pk, "pk": run.pk}),
        "duration": report.get("selection", {}).get("duration_seconds"),
        "target": report.get("selection", {}).get("target_seconds"),
        "shortfall": report.get("selection", {}).get("shortfall"),
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
        # The rendered edit's outputs are the next versions of the edited run's (its cut, its narration...).
        new = toolrun_create(
            actor=actor, project=run.project, tool=TOOL, params=params, input_version_ids=slots, new_version_of=run.pk
        )
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
