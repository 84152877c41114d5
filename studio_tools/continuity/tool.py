"""Continuity check: flag costume, prop and lighting changes from shot to shot, with a confidence.

Inputs, in cut order: two or more shots (video or stills). Optional reference stills per character
(the continuity bible, the portal's character sheet) are inputs of kind `reference`; they are
compared with every shot and are not part of the cut order. A reference may carry, in
`ToolInput.metadata`, `character` (the character's name: references with one name form one
character), `costume` (free text, e.g. "red jacket, jeans") and `scene`; without `character` the
display name is the character's name. Every costume finding names its character (`character`: the
sheet's name, or "Person 1", "Person 2", ... for people nobody named), recognised by face where one
is seen, by clothing otherwise. Every pair has a headline `status`: "checked", "partly checked" or
"not comparable", with `why` (what was compared, and why the rest was not).

Outputs: `findings.json`, one annotated side-by-side PNG per compared pair
(and per reference finding), and `report.html`, a printable report. The run's report (report.json
from the command line) holds the shots, the pairs with their measurements, the thresholds and the
second opinion's status.

External AI: the tool itself measures everything locally, so its spec says `uses_external_ai=False`;
the optional second opinion is the parameter `external_ai` (off by default), which the portal only
lets a studio that allows external AI turn on (`requests_external_ai(params)` is the one question it
asks). Even then, nothing is sent without a model provider the run may use (`studio_tools.ai`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from studio_tools.continuity import frames as frames_module
from studio_tools.continuity.analysis import CHECK_CODES, PeopleCache, Reference, make_reference
from studio_tools.continuity.findings import Thresholds
from studio_tools.continuity.frames import Frame, Shot
from studio_tools.continuity.pipeline import CHECKS, check_shots
from studio_tools.continuity.render import report_html, save_png, side_by_side
from studio_tools.continuity.second_opinion import FindingToAsk, second_opinion
from studio_tools.core import (
    BadInput,
    InputKind,
    InputSlot,
    OutputFile,
    OutputKind,
    Progress,
    ToolInput,
    ToolParams,
    ToolResult,
    ToolSpec,
    out_dir,
)
from studio_tools.core.messages import define, message, texts

# The outputs' fixed labels, defined as messages so a front end can word them in its reader's language.
OUTPUT_LABELS = {"findings": "Continuity findings", "report": "Printable continuity report"}
for _name, _label in OUTPUT_LABELS.items():
    define(f"continuity.output.{_name}", _label)

FINDINGS_NAME = "findings.json"
REPORT_NAME = "report.html"
MAX_INPUTS = 60


class ContinuityParams(ToolParams):
    sensitivity: float = Field(
        0.5, ge=0.0, le=1.0, description="0.5 is the default; 1 halves every threshold (more findings), 0 doubles them."
    )
    checks: list[Literal["costume", "prop", "lighting"]] = Field(
        default_factory=lambda: list(CHECKS),
        min_length=1,
        description='Which checks to run: any of "costume", "prop", "lighting" (a list, or comma-separated on the command line).',
    )
    edge_frames: int = Field(3, ge=1, le=12, description="Frames read at each side of a cut; the nearest clean one is compared.")
    keyframes: int = Field(2, ge=0, le=8, description="Frames read inside each shot for the reference-still check.")
    analysis_width: int = Field(960, ge=320, le=1920, description="Frames are analysed at this width (never enlarged).")
    external_ai: bool = Field(
        False,
        description="Ask Claude to agree or disagree with each measured finding (sends crops of the two frames "
        "to the model provider; it never adds a finding). "
        "Only where the studio allows external AI and a model provider.",
    )
    ai_provider: str | None = Field(
        None,
        pattern=r"^[a-z0-9][a-z0-9-]{0,39}$",
        description="Which model provider to ask, when external_ai is on (default: the studio's default for this tool).",
        json_schema_extra={"x-ai-provider": True},
    )
    ai_model: str | None = Field(
        None,
        pattern=r"^[a-z0-9][a-z0-9.\-]{1,63}$",
        description="Claude model for the second opinion (default: $CONTINUITY_AI_MODEL or built-in).",
        json_schema_extra={"x-ai-model": True},
    )
    ai_max_pairs: int = Field(6, ge=1, le=20, description="At most this many measured findings are sent for a second opinion.")

    @field_validator("checks", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip().lower() for part in value.split(",") if part.strip()]
        if isinstance(value, list | tuple):
            seen: list[Any] = []
            for item in value:
                if item not in seen:
                    seen.append(item)
            return seen
        return value


SPEC = ToolSpec(
    name="continuity",
    version="1.0.0",
    title="Continuity check",
    description="Flags costume, prop and lighting changes across the cuts of a scene, with frames, boxes and a confidence.",
    inputs=(
        InputSlot(
            "media",
            (InputKind.FOOTAGE, InputKind.PLATE, InputKind.STILL, InputKind.REFERENCE),
            2,
            MAX_INPUTS,
            "Shots of one scene in cut order (video or stills); reference stills per character as kind 'reference'.",
        ),
    ),
    params_model=ContinuityParams,
    uses_external_ai=False,
)


def requests_external_ai(params: ContinuityParams | dict[str, Any]) -> bool:
    """Whether a run with these params may send footage to an external AI (the portal's policy question)."""
    value = params.get("external_ai", False) if isinstance(params, dict) else params.external_ai
    return bool(value)


class ContinuityTool:
    spec = SPEC

    def __init__(self, *, http_client: Any = None, environ: dict[str, str] | None = None) -> None:
        # Both only for tests: an httpx2 client with a mock transport, and a stand-in environment.
        self._http_client = http_client
        self._environ = environ

    def run(self, inputs: list[ToolInput], params: ContinuityParams, workdir: Path, progress: Progress) -> ToolResult:
        started = time.monotonic()
        shot_inputs = [(n, item) for n, item in enumerate(inputs) if item.kind != InputKind.REFERENCE]
        ref_inputs = [(n, item) for n, item in enumerate(inputs) if item.kind == InputKind.REFERENCE]
        if len(shot_inputs) < 2:
            raise BadInput(
                f"continuity needs at least two shots in cut order; got {len(shot_inputs)} "
                f"(and {len(ref_inputs)} reference still(s))"
            )

        progress.update(0.0, stage="probe")
        probed = []
        for n, item in shot_inputs + ref_inputs:
            probed.append((n, item, frames_module.probe_input(item)))
            progress.check_cancelled()
        shots_probed = probed[: len(shot_inputs)]
        refs_probed = probed[len(shot_inputs) :]

        progress.update(0.05, stage="frames", message=f"reading {len(shots_probed)} shots")
        shots = frames_module.load_shots(
            shots_probed,
            edge_frames=params.edge_frames,
            keyframes=params.keyframes if refs_probed else 0,
            max_width=params.analysis_width,
        )
        references_frames = [self._reference_frame(n, item, info, params.analysis_width) for n, item, info in refs_probed]
        decode_seconds = sum(s.decode_seconds for s in shots)
        progress.check_cancelled()

        progress.update(0.45, stage="checks")
        t_checks = time.monotonic()
        people = PeopleCache()
        references = [
            make_reference(
                frame.input_index,
                frame.name,
                frame,
                people,
                character=_text(item.metadata.get("character")),
                costume=_text(item.metadata.get("costume")),
                scene=_text(item.metadata.get("scene")),
            )
            for frame, (_, item, _) in zip(references_frames, refs_probed, strict=True)
        ]
        thresholds = Thresholds.for_sensitivity(params.sensitivity)
        checked = check_shots(
            shots, references, checks=params.checks, thresholds=thresholds, progress=progress.scaled(0.45, 0.85), people=people
        )
        checks_seconds = time.monotonic() - t_checks

        progress.update(0.85, stage="second opinion")
        opinion = second_opinion(
            _to_ask(checked, references),
            allowed=params.external_ai,
            provider=params.ai_provider,
            model=params.ai_model,
            max_findings=params.ai_max_pairs,
            environ=self._environ,
            http_client=self._http_client,
            cancelled=progress.check_cancelled,
        )
        findings = checked.findings
        by_id = {f["id"]: f for f in findings}
        for verdict in opinion.verdicts:
            by_id[verdict["finding"]]["second_opinion"] = {k: verdict[k] for k in ("verdict", "reason", "model")}

        progress.update(0.92, stage="write")
        outputs, pictures = self._pictures(workdir, checked, findings, references)
        report = self._report(shots, references, checked, findings, opinion, thresholds, params, people)
        target = out_dir(workdir)
        (target / FINDINGS_NAME).write_text(json.dumps(findings, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        (target / REPORT_NAME).write_text(report_html(report, findings, pictures), encoding="utf-8")
        outputs = [
            OutputFile(FINDINGS_NAME, OutputKind.REPORT, "findings", "application/json", label=OUTPUT_LABELS["findings"]),
            *outputs,
            OutputFile(REPORT_NAME, OutputKind.REPORT, "report", "text/html", label=OUTPUT_LABELS["report"]),
        ]
        frames_read = sum(s.frames_read for s in shots) + len(references_frames)
        metrics = {
            "shots": len(shots),
            "references": len(references),
            "pairs": len(checked.pairs),
            "findings_measured": len(checked.findings),
            "second_opinions": len(opinion.verdicts),
            "findings_model": 0,  # the second opinion never makes a finding
            "frames_read": frames_read,
            "decode_seconds": round(decode_seconds, 3),
            "checks_seconds": round(checks_seconds, 3),
            "second_opinion_seconds": round(opinion.seconds, 3),
            "total_seconds": round(time.monotonic() - started, 3),
        }
        return ToolResult(outputs=outputs, report=report, metrics=metrics)

    def _reference_frame(self, index: int, item: ToolInput, info, max_width: int) -> Frame:
        width, height = frames_module.analysis_size(info, max_width)
        image = frames_module.read_picture(item.path, info, width, height)
        if image is None:
            raise BadInput(f"{item.display_name}: the reference picture could not be decoded")
        return Frame(index, item.display_name, 0, None, None, image, "reference")

    def _pictures(self, workdir: Path, checked, findings, references: list[Reference]):
        target = out_dir(workdir)
        outputs: list[OutputFile] = []
        pictures = {}
        for pair in checked.pairs:
            name = f"pair-{pair.index + 1:02d}.png"
            mine = [f for f in findings if f.get("pair") == pair.index]
            a, b = pair.first, pair.second
            title = f"Pair {pair.index + 1}: {a.name} → {b.name}" + ("" if pair.adjacent else " (match-back across a reverse)")
            image = side_by_side(a.image, b.image, title, (_caption(a, "outgoing"), _caption(b, "incoming")), mine)
            save_png(image, target / name)
            pair.image = name
            pictures[name] = image
            outputs.append(OutputFile(name, OutputKind.IMAGE, f"pair-{pair.index + 1:02d}", "image/png", label=title))
        by_reference = {r.input_index: r for r in references}
        reference_findings = [f for f in findings if f.get("reference")]
        for n, finding in enumerate(reference_findings, start=1):
            ref = by_reference[finding["reference"]["input"]]
            shot_frame = checked.frames[(finding["shot"]["input"], finding["shot"]["frame"])]
            name = f"reference-{n:02d}.png"
            title = f"{finding['id']}: reference {ref.name} → {shot_frame.name} frame {shot_frame.frame}"
            image = side_by_side(
                ref.frame.image,
                shot_frame.image,
                title,
                (f"reference {ref.name}", _caption(shot_frame, "shot")),
                [finding],
                ("reference", "shot"),
            )
            save_png(image, target / name)
            finding["image"] = name
            pictures[name] = image
            outputs.append(OutputFile(name, OutputKind.IMAGE, f"reference-{n:02d}", "image/png", label=title))
        for finding in findings:
            if finding.get("pair") is not None:
                finding["image"] = f"pair-{finding['pair'] + 1:02d}.png"
        return outputs, pictures

    def _report(
        self, shots: list[Shot], references, checked, findings, opinion, thresholds: Thresholds, params, people=None
    ) -> dict[str, Any]:
        measured = [f for f in findings if f["source"] == "measured"]
        counts = {t: sum(1 for f in measured if f["type"] == t) for t in CHECKS}
        statuses = [p.describe()["status"] for p in checked.pairs]
        said = dict(
            shots=len(shots),
            cuts=len(checked.pairs),
            checked=statuses.count("checked"),
            partly=statuses.count("partly checked"),
            not_comparable=statuses.count("not comparable"),
            measured=len(measured),
            by_type=[message("continuity.count", n=n, check=message(TYPE_CODES[t])) for t, n in counts.items()],
        )
        if params.external_ai or opinion.ran:
            agree = sum(1 for v in opinion.verdicts if v["verdict"] == "agree")
            summary = message("continuity.summary_opinion", **said, agree=agree, disagree=len(opinion.verdicts) - agree)
        else:
            summary = message("continuity.summary", **said)
        text = summary["text"]
        pairs = [p.describe() for p in checked.pairs]
        warnings = _warnings(pairs, opinion, params, asked=bool(measured))
        return {
            # what the run page shows above the outputs: what was not checked, and why
            "summary_lines": [text],
            "warnings": texts(warnings),
            "messages": {"summary_lines": [summary], "warnings": warnings},
            "summary": {
                "text": text,
                "measured_findings": len(measured),
                "second_opinions": len(opinion.verdicts),
                "model_findings": 0,  # the second opinion only agrees or disagrees
                "by_type": counts,
            },
            "checks": list(params.checks),
            "thresholds": thresholds.describe(),
            "shots": [s.describe() for s in shots],
            "references": [
                {
                    "input": r.input_index,
                    "name": r.name,
                    "person": None if r.person is None else r.person.describe(r.frame.image.shape[1], r.frame.image.shape[0]),
                }
                for r in references
            ],
            "reference_matches": checked.reference_matches,
            "characters": _characters(references, findings, checked, people),
            "pairs": pairs,
            "second_opinion": opinion.describe(),
            "ai": opinion.session.summary() if opinion.session is not None and opinion.requests else None,
            "provider": opinion.session.provider.id if opinion.session is not None and opinion.requests else None,
            "region": opinion.session.provider.region if opinion.session is not None and opinion.requests else None,
            "findings": findings,
        }


# What the continuity tool says to people, by code (studio_tools.core.messages; the portal words each code).
TYPE_CODES = {check: define(f"continuity.type.{check}", check) for check in CHECKS}
define("continuity.count", "{n} {check}")
_SUMMARY = (
    "{shots} shots, {cuts} cut(s): {checked} checked, {partly} partly checked, {not_comparable} not comparable; "
    "{measured} measured finding(s) ({by_type})."
)
define("continuity.summary", _SUMMARY)
define(
    "continuity.summary_opinion",
    _SUMMARY + " Second opinion: agrees with {agree}, disagrees with {disagree} finding(s).",
)
define("continuity.cut_not_compared", "cut {cut} ({outgoing} → {incoming}), {check}: {words}")
define("continuity.opinion_not_run", "second opinion {status}")
define("continuity.opinion_failed", "second opinion: {n} request(s) to the model failed; those findings have no opinion")


def _warnings(pairs: list[dict[str, Any]], opinion, params, *, asked: bool) -> list[dict[str, Any]]:
    """Lines (studio_tools.core.messages) for what the run did not do that a person would assume it did: each
    check a cut could not be compared on (with the reason), and a second opinion asked for that did not run."""
    lines = []
    for pair in pairs:
        where = {"cut": pair["index"] + 1, "outgoing": pair["outgoing"]["name"], "incoming": pair["incoming"]["name"]}
        for check, coverage in pair.get("coverage", {}).items():
            if coverage.get("state") == "not compared":
                check_words = message(CHECK_CODES[check]) if check in CHECK_CODES else check
                words = coverage.get("message") or coverage["words"]
                lines.append(message("continuity.cut_not_compared", **where, check=check_words, words=words))
    if params.external_ai and asked and not opinion.ran:  # the local path ran instead
        lines.append(message("continuity.opinion_not_run", status=opinion.status[0].lower() + opinion.status[1:]))
    elif opinion.errors:
        lines.append(message("continuity.opinion_failed", n=len(opinion.errors)))
    return lines


def _caption(frame: Frame, role: str) -> str:
    tc = frame.timecode or ""
    return f"{role} | {frame.name} | frame {frame.frame}{' | ' + tc if tc else ''}"


def _text(value: Any) -> str | None:
    """A character sheet's text field (name, costume, scene): stripped, None when empty or not text."""
    if not isinstance(value, str):
        return None
    value = " ".join(value.split())
    return value[:200] or None


def _characters(references, findings, checked, people) -> list[dict[str, Any]]:
    """The run's characters: the sheet's (from the reference stills) and anyone found in a finding,
    each with the sheet's costume and scenes, where they were seen, and their findings' ids."""
    out: dict[str, dict[str, Any]] = {}
    for ref in references:
        entry = out.setdefault(ref.character, {"name": ref.character, "named": True, "costumes": [], "scenes": [], "seen_in": []})
        if ref.costume and ref.costume not in entry["costumes"]:
            entry["costumes"].append(ref.costume)
        if ref.scene and ref.scene not in entry["scenes"]:
            entry["scenes"].append(ref.scene)
    for seen in checked.reference_matches:
        entry = out.get(seen.get("character"))
        name = checked.frames.get((seen["input"], seen["frame"]))
        if entry is not None and name is not None and name.name not in entry["seen_in"]:
            entry["seen_in"].append(name.name)
    for f in findings:
        name = f.get("character")
        if not name:
            continue
        entry = out.setdefault(name, {"name": name, "named": False, "costumes": [], "scenes": [], "seen_in": []})
        for key in ("outgoing", "incoming", "shot"):
            where = f.get(key)
            if where and where["name"] not in entry["seen_in"]:
                entry["seen_in"].append(where["name"])
    for entry in out.values():
        entry["findings"] = [f["id"] for f in findings if f.get("character") == entry["name"]]
    return list(out.values())


def _to_ask(checked, references) -> list[FindingToAsk]:
    """Each measured finding with the two frames it is about and its boxes (the crops the model sees)."""
    by_reference = {r.input_index: r for r in references}
    pairs = {p.index: p for p in checked.pairs}
    items = []
    for f in checked.findings:
        if f.get("pair") is not None:
            pair = pairs[f["pair"]]
            items.append(FindingToAsk(f, pair.first, pair.second, f["outgoing"].get("box"), f["incoming"].get("box")))
        elif f.get("reference"):
            ref = by_reference[f["reference"]["input"]]
            shot = checked.frames[(f["shot"]["input"], f["shot"]["frame"])]
            items.append(FindingToAsk(f, ref.frame, shot, f["reference"].get("box"), f["shot"].get("box")))
    return items
