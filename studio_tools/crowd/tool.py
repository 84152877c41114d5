"""Crowd extension: grow the crowd in a locked-off plate with copies of its own people.

The run, in passes over the plate:

1. analysis (reduced size): background, people, tubes, perspective, the person-detector check. The
   same decode also keeps the full-size frames in the scratch folder when they fit its budget
   (`KEEP_FRAMES_BYTES`), so the plate is decoded once instead of three times;
2. planning: placements inside the region without overlaps (no frame is read);
3. extraction (full size, from the kept frames or a second decode): the pixels and alpha of the
   tubes the plan uses, and the full-size background and grain, on two threads;
4. compositing (full size): every frame drawn (only around the copies) and streamed to three
   encoders running side by side: the comp (ProRes 422 HQ plus an H.264 proxy), the added-crowd
   layer with alpha (ProRes 4444 from 10-bit YUVA, or PNG frames) and its matte (ProRes 422 HQ), each
   fed in its encoder's own pixel format so ffmpeg converts nothing.

The report lists the tiles (tubes) used and every placement (position, scale, time offset, mirror,
colour shift, grain) so a compositor can rebuild or adjust the shot.
"""

from __future__ import annotations

import itertools
import shutil
import time
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from functools import partial
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from studio_tools.core import (
    BadInput,
    InputKind,
    InputSlot,
    OutputFile,
    OutputKind,
    Progress,
    ToolFailed,
    ToolInput,
    ToolResult,
    ToolSpec,
    out_dir,
)
from studio_tools.core.messages import TEMPLATES, define, message, texts
from studio_tools.crowd import analysis as an
from studio_tools.crowd import people, placement
from studio_tools.crowd.colour import YuvFrame
from studio_tools.crowd.composite import BgraLayer, Compositor, MatteFrame, OriginalPerson, YuvaLayer
from studio_tools.crowd.params import CrowdParams
from studio_tools.crowd.placement import PlanResult, Region, plan
from studio_tools.crowd.source import CrowdSource, PlatePeopleSource, banded_median
from studio_tools.crowd.video import (
    QUEUE_FRAMES,
    YUV_FORMAT,
    YUVA_FORMAT,
    BufferPool,
    FrameFile,
    FrameWriter,
    PlateVideo,
    colour_matrix,
    keep_budget,
    read_frames,
    reduced_bgr,
    writer_limits,
    yuv_for,
)
from studio_tools.media import probe
from studio_tools.media.errors import MediaRejected, MediaToolError
from studio_tools.media.reader import display_size

# The outputs' fixed labels, defined as messages so a front end can word them in its reader's language.
OUTPUT_LABELS = {
    "comp": "Comp: the plate with the added crowd (ProRes 422 HQ)",
    "comp_proxy": "Comp proxy for review (H.264)",
    "layer_png": "Added crowd alone: RGBA PNG frames, straight alpha",
    "layer": "Added crowd alone with straight alpha (ProRes 4444)",
    "matte": "Matte of the added crowd, white = added (ProRes 422 HQ)",
}
for _name, _label in OUTPUT_LABELS.items():
    define(f"crowd.output.{_name}", _label)

VERSION = "1.0.0"
MAX_FRAMES = 9000  # six minutes at 25 fps; crowd plates are shots, not reels
MAX_TILES = 8
CLEAN_PLATE_SAMPLES = 15
PRORES_QSCALE = 2
# The analysis pass keeps the plate's full-size frames (raw 10-bit 4:2:2, 4 bytes a pixel) in the scratch folder when
# they take at most this much and half its free space, so the extraction and compositing passes read them back instead
# of decoding the plate twice more (about 2 GB for 10 s of 1080p at 25 fps).
KEEP_FRAMES_BYTES = 8 * 1024**3

SPEC = ToolSpec(
    name="crowd",
    version=VERSION,
    title="Crowd extension",
    description=(
        "Grows the crowd in a locked-off plate with copies of the plate's own people (no generative model): "
        "placed in a region without overlaps, scaled for perspective, offset in time, mirrored and colour-varied. "
        "Delivers the comp, the added crowd as a layer with alpha, its matte and a report to rebuild it."
    ),
    inputs=(
        InputSlot("plate", (InputKind.PLATE, InputKind.FOOTAGE), 1, 1, "The locked-off plate with people in it."),
        InputSlot(
            "tiles",
            (InputKind.PLATE, InputKind.FOOTAGE),
            0,
            MAX_TILES,
            "Optional tile plates: the same camera, the extras moved. Their people are added too.",
        ),
        InputSlot(
            "clean_plate",
            (InputKind.STILL, InputKind.PLATE, InputKind.FOOTAGE, InputKind.REFERENCE),
            0,
            1,
            "Optional clean plate (the same camera, no people), a still or a clip; otherwise the background is a "
            "temporal median of the plate.",
        ),
    ),
    params_model=CrowdParams,
    uses_external_ai=False,
)


# What the crowd tool says to people, by code (studio_tools.core.messages; the portal words each code).
M = define
M("crowd.contact_shadows", "the plate's people cast contact shadows and the copies have none: see compositing.contact_shadows")
M("crowd.perspective.too_few", "too few people to measure perspective: copies keep their size")
M("crowd.perspective.same_depth", "the people stand at too similar depths to measure perspective")
M("crowd.perspective.no_growth", "person height does not grow with foot position: no perspective used")
M("crowd.shortfall", "placed {on_screen:.1f} of the {asked} people asked for per frame: {cause}")
M("crowd.cause.few_people", "only {n} whole people in the plate to copy; add tile plates or lower the density")
M("crowd.cause.one_person", "only {n} whole person in the plate to copy; add tile plates or lower the density")
M(
    "crowd.cause.perspective",
    "most of the region would need the plate's people scaled beyond what perspective allows ({low:g}x to {high:g}x); "
    "add tile plates with people nearer the camera, move the region or lower the density",
)
M(
    "crowd.cause.ends_only",
    "copies fill the start and end of the shot but hardly its middle: a copy comes on and goes off only out of view (at "
    "the frame edge, or before the shot starts or after it ends), and the plate's whole people are followed only for "
    "short stretches, not across the frame (the longest copy used lasts {longest} of the shot's {frames} frames); add "
    "tile plates with people who cross the whole frame, or lower the density",
)
M(
    "crowd.cause.no_room",
    "no more room in the region without overlaps at this spacing; enlarge the region, lower min_spacing or lower the density",
)
M(
    "crowd.summary.asked",
    "Asked: {asked} added people per frame; on screen: {on_screen} on average, from {copies} copies.",
)
M("crowd.summary.people", "People in the plate: {followed} followed, {whole} whole enough to copy.")
M("crowd.summary.rejected", "Rejected: {reasons}.")
M("crowd.summary.shortfall", "{shortfall}.")
M("crowd.rejected", "{n} {why}")
REJECTED_CODES = {
    "two people in one cut-out": M("crowd.reject.two_people", "two people in one cut-out"),
    "more than one person": M("crowd.reject.more_than_one", "more than one person"),
    "shorter than a whole person at that depth": M("crowd.reject.shorter", "shorter than a whole person at that depth"),
    "taller than a whole person at that depth": M("crowd.reject.taller", "taller than a whole person at that depth"),
    "incomplete person: the pose model sees no person": M(
        "crowd.reject.no_pose", "incomplete person: the pose model sees no person"
    ),
    "incomplete person: no head": M("crowd.reject.no_head", "incomplete person: no head"),
    "incomplete person: no feet": M("crowd.reject.no_feet", "incomplete person: no feet"),
    "incomplete person: no head and feet": M("crowd.reject.no_head_feet", "incomplete person: no head and feet"),
    "incomplete person: cut at the feet": M("crowd.reject.cut_feet", "incomplete person: cut at the feet"),
    "incomplete person: head missing from the cut-out": M(
        "crowd.reject.cut_head", "incomplete person: head missing from the cut-out"
    ),
    "incomplete person: more than one person": M("crowd.reject.incomplete_several", "incomplete person: more than one person"),
    "incomplete person: not a whole person": M("crowd.reject.incomplete", "incomplete person: not a whole person"),
}
M("crowd.reject.other", "{why}")
PERSPECTIVE_CODES = {
    TEMPLATES["crowd.perspective.too_few"]: "crowd.perspective.too_few",
    TEMPLATES["crowd.perspective.same_depth"]: "crowd.perspective.same_depth",
    TEMPLATES["crowd.perspective.no_growth"]: "crowd.perspective.no_growth",
}
M("crowd.perspective.other", "{why}")
M(
    "crowd.no_people",
    "no people were found in {name}: nothing moved against the background in most frames. The crowd tool copies the "
    "plate's own people, so it needs a locked-off plate with people who move.",
)
M(
    "crowd.none_followed",
    "people were found in {name} but none could be followed cleanly for {seconds:.1f} s (always at the frame edge, "
    "merged with others or too short)",
)


class CrowdTool:
    spec = SPEC

    def run(self, inputs: list[ToolInput], params: CrowdParams, workdir: Path, progress: Progress) -> ToolResult:
        timings: dict[str, float] = {}
        started = time.monotonic()
        scratch = Path(workdir) / "crowd-scratch"
        scratch.mkdir(parents=True, exist_ok=True)
        try:
            return self._run(inputs, params, Path(workdir), scratch, progress, timings, started)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _run(self, inputs, params: CrowdParams, workdir: Path, scratch: Path, progress: Progress, timings, started) -> ToolResult:
        check = progress.check_cancelled
        progress.update(0.0, stage="probe")
        plate = open_video(_one(inputs, "plate"))
        tiles = [open_video(i) for i in inputs if i.slot == "tiles"]
        clean_input = next((i for i in inputs if i.slot == "clean_plate"), None)
        for tile in tiles:
            if (tile.width, tile.height) != (plate.width, plate.height):
                raise BadInput(
                    f"tile plate {tile.name} is {tile.width}x{tile.height} but {plate.name} is {plate.width}x{plate.height}; "
                    "tiles must come from the same camera set-up"
                )
            if abs(tile.fps - plate.fps) > 0.01:
                raise BadInput(f"tile plate {tile.name} runs at {tile.fps:g} fps but {plate.name} at {plate.fps:g} fps")
        clean = load_clean_plate(clean_input, plate) if clean_input is not None else None
        check()

        # 1. analysis
        t0 = time.monotonic()
        progress.update(0.02, stage="analyse", message=f"reading {plate.name}")
        analyses: list[an.PlateAnalysis] = []
        videos = [plate, *tiles]
        for index, video in enumerate(videos):
            step = progress.scaled(0.02 + 0.16 * index / len(videos), 0.02 + 0.16 * (index + 1) / len(videos))
            analyses.append(analyse(video, index, scratch, params, clean, step))
        main = analyses[0]
        timings["analyse_seconds"] = time.monotonic() - t0
        counts = main.counts
        people_in = float(counts.mean())
        if people_in < 0.5:
            raise BadInput(message("crowd.no_people", name=plate.name))
        tubes_all = [t for a in analyses for t in a.tubes]
        if not tubes_all:
            seconds = round(an.min_tube_length(plate.fps) / plate.fps, 1)
            raise BadInput(message("crowd.none_followed", name=plate.name, seconds=seconds))
        check()
        # with the pose model's completeness gate on, OpenCV's HOG check only reporting would repeat it at a cost
        # (about 10 ms a tube on the CPU): it runs when asked to decide, or when the gate is off
        wanted_check = params.person_check == "require" or (params.person_check == "report" and params.completeness != "pose")
        detector = wanted_check and an.detector_available()
        if params.person_check == "require" and not detector:
            raise ToolFailed(
                "person_check=require needs OpenCV's HOG person detector, which this OpenCV build lacks "
                "(install opencv-contrib-python-headless, as requirements.txt pins)"
            )
        if detector:
            progress.update(0.19, stage="analyse", message="person detector check")
            for a in analyses:
                an.check_tubes(a)
        usable = [t for t in tubes_all if params.person_check != "require" or t.confirmed]
        if not usable:
            raise BadInput(
                f"OpenCV's person detector confirmed none of the {len(tubes_all)} people followed in the plate; "
                "use person_check=report to copy them anyway"
            )
        verdicts: dict[str, people.TubeVerdict] = {}
        heights = people.HeightModel(0.0, 0.0, 0, "none")
        if params.completeness == "pose":
            progress.update(0.19, stage="analyse", message="checking the people are whole (pose model)")
            began = time.monotonic()
            verdicts, heights = gate_tubes(analyses, check)
            timings["pose_gate_seconds"] = time.monotonic() - began
            usable = [t for t in usable if verdicts[t.id].passed]
            if not usable:
                raise BadInput(
                    f"none of the {len(verdicts)} people followed in {plate.name} is whole enough to copy "
                    f"({_reasons(verdicts)}); the crowd tool copies only people seen from head to feet. "
                    "Add tile plates with whole people, or use completeness=off to copy them anyway"
                )
        monochrome = is_monochrome(main.background)
        colour_variation = 0.0 if monochrome else params.colour_variation

        # 2. planning
        t0 = time.monotonic()
        progress.update(0.2, stage="plan")
        source = PlatePeopleSource(
            analyses, scratch, clean_plate=clean, feather=feather_for(plate.height), pose_matte=params.completeness == "pose"
        )
        assert isinstance(source, CrowdSource)
        usable_ids = {t.id for t in usable}
        candidates = [t for t in source.tubes() if t.id in usable_ids]
        factor = main.factor
        if params.perspective == "auto" and heights.kind == "linear":
            perspective = an.Perspective(
                "auto",
                "linear",
                heights.slope,
                heights.intercept,
                -heights.intercept / heights.slope if heights.slope > 0 else None,
                "fitted to the height of the plate's whole people (pose model) against foot position",
            )
        else:
            ok = {t.id for t in usable}
            perspective = an.fit_perspective(
                [
                    [(d.y1 * a.factor, d.height * a.factor) for d in t.whole_frames]
                    for a in analyses
                    for t in a.tubes
                    if t.id in ok
                ],
                plate.height,
                params.perspective,
                params.horizon,
            )
        region = Region(params.region, plate.width, plate.height)
        # the plate's people: what the background difference found, less fragments far smaller than a whole person there
        people_dets = [[d for d in dets if _person_sized(d, heights, factor)] for dets in main.detections]
        people_in = float(np.mean([len(d) for d in people_dets]))
        originals = [
            np.array([[d.x0, d.y0, d.x1, d.y1] for d in dets], np.float64).reshape(-1, 4) * factor for dets in people_dets
        ]
        wanted = max(1, int(round((params.density - 1.0) * people_in)))
        result = plan(
            candidates,
            originals,
            main.frame_count,
            plate.fps,
            region,
            perspective,
            wanted=wanted,
            spacing=params.min_spacing,
            min_height=1.5 * an.min_person_height(main.size[1]) * factor,
            offsets=params.time_offset,
            mirror=params.mirror,
            colour_variation=colour_variation,
            seed=params.seed,
            check=check,
        )
        timings["plan_seconds"] = time.monotonic() - t0
        if not result.placements:
            raise BadInput(_no_room(result, region, params, len(usable)))

        # 3. extraction
        t0 = time.monotonic()
        progress.update(0.25, stage="extract", message="cutting out the people to copy")
        used = sorted({p.tube.id for p in result.placements})
        source.prepare(used, progress.scaled(0.25, 0.4).update, check)
        for analysis in analyses[1:]:
            if analysis.full is not None:
                analysis.full.discard()  # tile plates' frames are only needed for their sprites
        timings["extract_seconds"] = time.monotonic() - t0

        # 4. compositing
        t0 = time.monotonic()
        compositor = Compositor(
            source,
            result.placements,
            region,
            plate.width,
            plate.height,
            source.noise[0],
            params.grain,
            params.seed,
            [
                [OriginalPerson((d.x0 * factor, d.y0 * factor, d.x1 * factor, d.y1 * factor), d.mask) for d in dets]
                for dets in people_dets
            ],
            yuv_for(plate),
        )
        compositor.prepare()
        outputs, stats = composite(
            plate, main.frame_count, compositor, region, params, workdir, scratch, progress.scaled(0.4, 1.0), check, main.full
        )
        timings["composite_seconds"] = time.monotonic() - t0
        timings["total_seconds"] = time.monotonic() - started

        report = build_report(
            plate, tiles, clean_input, main, analyses, source, perspective, region, result, compositor, params, people_in
        )
        report["completeness"] = completeness_report(params, verdicts, heights, factor, plate.height)
        shadows = an.measure_shadows(main.frames, main.background, main.detections)
        report["compositing"]["contact_shadows"] = {
            **shadows.to_report(),
            "drawn": False,
            "reason": (
                "the plate's people cast contact shadows, and none is drawn for the copies (they are cut out without "
                "their own): add them in the comp, using the offset and darkening measured here"
                if shadows.casts
                else "none drawn: the plate's own people cast no measurable contact shadow (diffuse light), so a copy "
                "without one matches them"
            ),
        }
        if shadows.casts:
            report["messages"]["warnings"].append(message("crowd.contact_shadows"))
        report["colour_variation"] = {
            "asked": params.colour_variation,
            "used": colour_variation,
            "reason": "the plate is monochrome: copies keep its grey" if monochrome else "bounded shift in LAB",
        }
        report["placement_summary"] = placement_summary(result, verdicts, len(tubes_all), len(usable))
        shortfall = report["placement_summary"].pop("shortfall_message")
        if shortfall is not None:
            report["messages"]["warnings"].insert(0, shortfall)
        report["warnings"] = texts(report["messages"]["warnings"])
        report["messages"]["summary_lines"] = summary_messages(report["placement_summary"], shortfall)
        report["summary_lines"] = texts(report["messages"]["summary_lines"])
        for entry in report["placements"]:
            verdict = verdicts.get(entry["source_person"])
            entry["completeness_score"] = verdict.score if verdict is not None else None
        metrics: dict[str, Any] = {
            "frames": main.frame_count,
            "people_in_mean": round(people_in, 3),
            "people_wanted": wanted,
            "people_added": len(result.placements),
            "copies_on_screen_mean": round(result.mean_on_screen, 3),
            "tubes_whole": sum(1 for v in verdicts.values() if v.passed) if verdicts else None,
            "tubes_found": len(tubes_all),
            "tubes_confirmed_by_detector": sum(1 for t in tubes_all if t.confirmed),
            "holdout_pixels": stats["holdout_pixels"],
            "region_luma_max_step_in": stats["luma_step_in"],
            "region_luma_max_step_out": stats["luma_step_out"],
            "composite_fps": round(main.frame_count / max(1e-6, timings["composite_seconds"]), 2),
            "fps": round(main.frame_count / max(1e-6, timings["total_seconds"]), 2),
        }
        timings["pose_matte_seconds"] = sum(source.pose_seconds)  # CPU-bound model calls, on the extraction threads
        metrics["pose_calls"] = len(source.pose_seconds) + sum(len(v.samples) for v in verdicts.values())
        metrics.update({k: round(v, 3) for k, v in timings.items()})
        return ToolResult(outputs=outputs, report=report, metrics=metrics)


def _person_sized(d: an.Detection, heights: people.HeightModel, factor: float) -> bool:
    """At least half a whole person's height at its foot row (always, when there is no height model)."""
    expected = heights.at(d.y1 * factor)
    return expected is None or d.height * factor >= 0.5 * expected


def _first_shown(p, frames: int) -> int:
    """The tube frame a placement shows first in the shot."""
    shown = p.loop.frames(frames, p.offset)
    return int(shown[shown >= 0][0]) if (shown >= 0).any() else 0


def gate_tubes(analyses: list[an.PlateAnalysis], check) -> tuple[dict[str, people.TubeVerdict], people.HeightModel]:
    """The completeness gate on every tube (see people.py); heights in full-size pixels of the main plate."""
    sampled = []
    points: list[tuple[float, float]] = []
    for a in analyses:
        for tube in a.tubes:
            check()
            whole = tube.whole_frames  # a person walking in or out of view is judged where they are seen whole
            samples = people.sample_tube(lambda i, a=a: np.asarray(a.frames[i]), [(d.frame, d.box) for d in whole])
            sampled.append((a, tube, samples))
            points += [(s.foot_y * a.factor, s.height * a.factor) for s in samples if s.whole]
    model = people.fit_heights(points, analyses[0].video.height)
    verdicts = {}
    for a, tube, samples in sampled:
        boxes = np.array([d.box for d in tube.whole_frames], np.float64).reshape(-1, 4) * a.factor
        verdicts[tube.id] = people.judge(tube.id, samples, boxes[:, 3] - boxes[:, 1], boxes[:, 3], model)
    return verdicts, model


def _reasons(verdicts: dict[str, people.TubeVerdict]) -> str:
    counts: dict[str, int] = {}
    for v in verdicts.values():
        if not v.passed and v.reason:
            key = v.reason.split(" (")[0]
            counts[key] = counts.get(key, 0) + 1
    return ", ".join(f"{n} {reason}" for reason, n in sorted(counts.items(), key=lambda kv: -kv[1])) or "none rejected"


def is_monochrome(background: np.ndarray) -> bool:
    """A black-and-white plate: no pixel of its background carries colour beyond the codec's noise."""
    lab = cv2.cvtColor(background, cv2.COLOR_BGR2LAB).astype(np.int16)
    chroma = np.maximum(np.abs(lab[..., 1] - 128), np.abs(lab[..., 2] - 128))
    return float(np.percentile(chroma, 99)) <= 3.0


def completeness_report(params: CrowdParams, verdicts, heights: people.HeightModel, factor: float, height: int) -> dict[str, Any]:
    if params.completeness == "off":
        return {"mode": "off", "note": "every person the background difference followed may be copied"}
    from studio_tools.vision import models

    return {
        "mode": "pose",
        "model": "BlazePose GHUM full (pose_landmark_full.tflite): landmarks and person mask",
        **models.describe(),
        "whole_person_height": heights.to_report(height),
        "tubes": [
            {
                "id": v.tube_id,
                "passed": v.passed,
                "score": v.score,
                "reason": v.reason,
                "height_ratio": None if v.height_ratio is None else round(v.height_ratio, 3),
            }
            for v in verdicts.values()
        ],  # fmt: skip
    }


def placement_summary(result: PlanResult, verdicts, followed: int, usable: int) -> dict[str, Any]:
    """Asked, placed, rejected and why, and the shortfall said plainly: what the run page shows."""
    rejected: dict[str, int] = {}
    for v in verdicts.values():
        if not v.passed and v.reason:
            key = v.reason.split(" (")[0]
            rejected[key] = rejected.get(key, 0) + 1
    on_screen = result.mean_on_screen
    summary: dict[str, Any] = {
        "asked_per_frame": result.wanted,
        "on_screen_per_frame": round(on_screen, 2),
        "copies_placed": len(result.placements),
        "people_followed": followed,
        "people_whole": usable,
        "people_rejected": rejected,
        "candidates_rejected": {
            "outside the region": result.rejected_outside,
            "too close to a person of the plate": result.rejected_originals,
            "too big a change of size": result.rejected_scale,
            "would come on or go off in view": result.rejected_popping,
        },
        "shortfall": None,
        "shortfall_message": None,
    }
    if on_screen < 0.8 * result.wanted:
        sources = len({p.tube.id for p in result.placements})
        if usable < 3 or sources < 2:
            cause = message("crowd.cause.one_person" if usable == 1 else "crowd.cause.few_people", n=usable)
        elif result.candidates_valid < 3 * len(result.placements) and result.rejected_scale > max(
            result.rejected_outside, result.rejected_originals
        ):  # few places were possible at all, most for want of perspective (many possible but overlapping: room)
            cause = message("crowd.cause.perspective", low=placement.MIN_SCALE, high=placement.MAX_SCALE)
        elif result.rejected_popping and _ends_only(result.on_screen):
            # copies found room at the shot's start and end but not in its middle: they may come and go only out of
            # view, and the plate's people are not followed across the whole frame
            longest = max((p.tube.length for p in result.placements), default=0)
            cause = message("crowd.cause.ends_only", longest=int(longest), frames=len(result.on_screen))
        else:
            cause = message("crowd.cause.no_room")
        said = message("crowd.shortfall", on_screen=round(on_screen, 1), asked=result.wanted, cause=cause)
        summary["shortfall"], summary["shortfall_message"] = said["text"], said
    return summary


def _ends_only(on_screen: np.ndarray) -> bool:
    """Copies are on screen near the shot's start and end, much less in its middle half."""
    n = len(on_screen)
    if n < 8:
        return False
    middle = float(on_screen[n // 4 : n - n // 4].mean())
    ends = float(np.concatenate([on_screen[: n // 4], on_screen[n - n // 4 :]]).mean())
    return middle < 0.5 * ends


def summary_messages(summary: dict[str, Any], shortfall: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The placement summary in a few plain lines, in both forms (studio_tools.core.messages)."""
    lines = [
        message(
            "crowd.summary.asked",
            asked=summary["asked_per_frame"],
            on_screen=summary["on_screen_per_frame"],
            copies=summary["copies_placed"],
        ),
        message("crowd.summary.people", followed=summary["people_followed"], whole=summary["people_whole"]),
    ]
    if summary["people_rejected"]:
        reasons = [message("crowd.rejected", n=n, why=_rejected_why(why)) for why, n in summary["people_rejected"].items()]
        lines.append(message("crowd.summary.rejected", reasons=reasons))
    if shortfall is None and summary["shortfall"]:
        shortfall = message("crowd.perspective.other", why=summary["shortfall"])
    if shortfall is not None:
        text = shortfall["text"]
        lines.append(message("crowd.summary.shortfall", text=text[0].upper() + text[1:] + ".", shortfall=shortfall))
    return lines


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """The placement summary in a few plain lines (the CLI prints them)."""
    return texts(summary_messages(summary))


def _rejected_why(why: str) -> dict[str, Any]:
    code = REJECTED_CODES.get(why)
    return message(code) if code else message("crowd.reject.other", why=why)


def _one(inputs: list[ToolInput], slot: str) -> ToolInput:
    return next(i for i in inputs if i.slot == slot)


def feather_for(height: int) -> float:
    """Edge softness (Gaussian sigma, pixels): about a pixel at HD, less on small frames."""
    return float(np.clip(height / 900.0, 0.6, 2.5))


def open_video(item: ToolInput) -> PlateVideo:
    """Probe one video input and say, in the user's terms, why it cannot be a plate."""
    name = item.display_name
    try:
        info = probe(item.path, filename=name)
    except MediaRejected as exc:
        raise BadInput(f"{name}: {exc.reason}") from None
    if info.kind == "still":
        raise BadInput(
            f"{name} is a still image; the crowd tool needs a moving, locked-off plate (a still can only be the clean plate)"
        )
    if info.kind != "video" or info.video is None:
        raise BadInput(f"{name} has no picture (it holds only sound)")
    v = info.video
    if not v.frame_rate or not v.fps:
        raise BadInput(f"{name} has no usable frame rate")
    # the plate as a viewer sees it (upright, square pixels), on its constant-rate timeline at its true rate
    width, height = display_size(v)
    frames = v.timeline_frame_count
    duration = v.duration or info.duration or ((frames or 0) / v.fps)
    if frames and frames > MAX_FRAMES:
        raise BadInput(f"{name} has {frames} frames; the crowd tool takes plates of up to {MAX_FRAMES} frames")
    return PlateVideo(item.path, name, info, width, height, v.frame_rate, v.fps, frames, duration)


def load_clean_plate(item: ToolInput, plate: PlateVideo) -> np.ndarray:
    """The clean plate at the plate's size, BGR uint8: a still, or the median of a clip's frames."""
    name = item.display_name
    try:
        info = probe(item.path, filename=name)
    except MediaRejected as exc:
        raise BadInput(f"{name}: {exc.reason}") from None
    if info.video is None:
        raise BadInput(f"{name} has no picture, so it cannot be a clean plate")
    v = info.video
    width, height = display_size(v)
    if (width, height) != (plate.width, plate.height):
        raise BadInput(f"clean plate {name} is {width}x{height} but {plate.name} is {plate.width}x{plate.height}")
    video = PlateVideo(
        item.path,
        name,
        info,
        width,
        height,
        v.frame_rate or "25/1",
        v.fps or 25.0,
        v.timeline_frame_count,
        v.duration or info.duration or 1.0,
    )
    count = v.timeline_frame_count or 1
    step = max(1, count // CLEAN_PLATE_SAMPLES)
    if (v.pix_fmt or "").startswith(("yuv", "nv")):
        # a YUV clip with its own matrix and range, converted as the plate's frames are
        yuv = yuv_for(video)
        yuv_frames = enumerate(read_frames(video, pix_fmt=YUV_FORMAT))
        picks = (reduced_bgr(yuv, f, (width, height)) for i, f in yuv_frames if i % step == 0)
    else:
        picks = (f.copy() for i, f in enumerate(read_frames(video)) if i % step == 0)
    frames = list(itertools.islice(picks, CLEAN_PLATE_SAMPLES))
    if not frames:
        raise BadInput(f"no picture could be decoded from clean plate {name}")
    return frames[0] if len(frames) == 1 else banded_median(np.stack(frames))


def analyse(
    video: PlateVideo, index: int, scratch: Path, params: CrowdParams, clean: np.ndarray | None, progress: Progress
) -> an.PlateAnalysis:
    """Pass 1 over one plate at analysis size: frames, background, people, tubes."""
    total = max(1, video.frame_count or int(video.duration * video.fps))
    counter = {"n": 0}

    def on_read() -> None:
        progress.check_cancelled()
        counter["n"] += 1
        if counter["n"] % 16 == 0:
            progress.update(0.5 * min(1.0, counter["n"] / total), message=f"reading {video.name}")

    # keep the full-size frames from this one decode, for the extraction and compositing passes, if they fit
    keep = scratch / f"plate{index}.full.yuv"
    estimate = (video.frame_count or int(video.duration * video.fps) + 1) + 8
    if not keep_budget(scratch, estimate, video.width, video.height, KEEP_FRAMES_BYTES):
        keep = None
    width, height = an.analysis_size(video.width, video.height)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="crowd-priming") as pool:
        # the background model's seeded priming noise is drawn while the plate decodes
        priming = pool.submit(an.priming_noise, (height, width, 3), params.seed)
        frames = an.load_frames(video, scratch, f"plate{index}", check=on_read, keep=keep)
        priming_noise = priming.result()
    n = len(frames)
    full = None
    if keep is not None:
        try:
            full = FrameFile(keep, video.width, video.height, n)
        except (OSError, MediaToolError):
            keep.unlink(missing_ok=True)  # the passes that need full frames decode the plate again
    if n > MAX_FRAMES:
        raise BadInput(f"{video.name} has {n} frames; the crowd tool takes plates of up to {MAX_FRAMES} frames")
    shortest = 2 * an.min_tube_length(video.fps)
    if n < shortest:
        raise BadInput(
            f"{video.name} is {n} frames long; the crowd tool needs at least {shortest} frames ({shortest / video.fps:.1f} s)"
        )
    size = (frames.shape[2], frames.shape[1])
    median = an.median_background(frames)
    noise = an.estimate_noise(frames)
    if clean is not None:
        background = cv2.resize(clean, size, interpolation=cv2.INTER_AREA) if size != (clean.shape[1], clean.shape[0]) else clean
        method = "clean_plate"
        mismatch = float(np.median(cv2.absdiff(background, median)))
        if mismatch > max(6.0, 3.0 * noise):
            raise BadInput(
                f"the clean plate does not match {video.name} (typical difference {mismatch:.0f} levels where both show the "
                "background): it must come from the same camera position, lens and exposure"
            )
    else:
        background = median
        method = "temporal_median"

    def on_frame(i: int) -> None:
        if i % 16 == 0:
            progress.update(0.5 + 0.45 * i / n, message=f"finding people in {video.name}")

    detections = an.segment_plate(
        frames, background, noise, params.subtractor, params.seed, progress.check_cancelled, on_frame, priming_noise
    )
    del priming_noise
    tracks = an.track(detections)
    tubes = an.cut_tubes(tracks, index, an.min_tube_length(video.fps))
    progress.update(1.0)
    return an.PlateAnalysis(video, index, size, frames, background, method, noise, detections, tubes, full=full)


def composite(
    plate: PlateVideo,
    frames: int,
    compositor: Compositor,
    region: Region,
    params: CrowdParams,
    workdir: Path,
    scratch: Path,
    progress: Progress,
    check,
    kept: FrameFile | None = None,
) -> tuple[list[OutputFile], dict[str, Any]]:
    """Pass 4: draw every frame and stream the comp, proxy, layer and matte to ffmpeg.

    The plate's frames come from `kept` (the full-size frames the analysis pass kept) or, failing that, from
    decoding the plate again."""
    out = out_dir(workdir)
    w, h = plate.width, plate.height
    _matrix, value_range, tags = colour_matrix(plate)
    limits = writer_limits(plate.duration, frames, w, h)
    timecode = ["-timecode", plate.info.video.start_timecode] if plate.info.video and plate.info.video.start_timecode else []
    sar = "1:1"  # the plate is read with square pixels, and so the outputs are made
    common = ["-map_metadata", "-1", "-fflags", "+bitexact", *timecode]
    # prores_ks with a fixed quantizer: at or above the quality of its own rate control for the HQ profile
    # (which searches quantizers per slice and is about seven times slower), at some cost in file size
    prores_422 = [
        "-c:v",
        "prores_ks",
        "-profile:v",
        "3",
        "-qscale:v",
        str(PRORES_QSCALE),
        "-vendor",
        "apl0",
        "-pix_fmt",
        "yuv422p10le",
    ]
    long_side = 1920
    proxy_scale = (
        f"scale=w='max(2,2*trunc(min(1,{long_side}/max(iw*sar,ih))*iw*sar/2))':h='max(2,2*trunc(min(1,{long_side}/max(iw*sar,ih))*ih/2))'"
        ":flags=bicubic+accurate_rnd,format=yuv420p,setsar=1"
    )
    # the comp arrives in the plate's own yuv422p10le: no conversion before ProRes
    comp_args = [
        "-map", "0:v", "-vf", f"setsar={sar.replace(':', '/')}", *prores_422, *common, "-f", "mov", str(out / "comp.mov"),
        "-map", "0:v", "-vf", proxy_scale, "-c:v", "libx264", "-preset", "superfast", "-crf", "20", "-pix_fmt", "yuv420p",
        *common, "-movflags", "+faststart", "-f", "mp4", str(out / "comp.proxy.mp4"),
    ]  # fmt: skip
    png_dir = scratch / "layer-png"
    setsar = ["-vf", f"setsar={sar.replace(':', '/')}"]
    # the layer and matte arrive in their encoders' own formats, drawn only where copies are (see composite.py)
    if params.output_format == "png":
        png_dir.mkdir(exist_ok=True)
        layer_format, layer_tags = "bgra", []
        layer_args = [
            "-map", "0:v", "-c:v", "png", "-pix_fmt", "rgba", "-start_number", "0",
            "-f", "image2", str(png_dir / "layer_%06d.png"),
        ]  # fmt: skip
    else:
        layer_format, layer_tags = YUVA_FORMAT, tags
        layer_args = [
            "-map", "0:v", *setsar, "-c:v", "prores_ks", "-profile:v", "4", "-qscale:v", str(PRORES_QSCALE), "-vendor", "apl0",
            "-pix_fmt", YUVA_FORMAT, "-alpha_bits", "16", *common, "-f", "mov", str(out / "layer.mov"),
        ]  # fmt: skip
    matte_args = ["-map", "0:v", *setsar, *prores_422, *common, "-f", "mov", str(out / "matte.mov")]
    writers: list[FrameWriter] = []
    try:
        # three encoders in parallel, each fed its own pipe
        for args, pix_fmt, label, input_args in (
            (comp_args, YUV_FORMAT, "comp", tags),
            (layer_args, layer_format, "layer", layer_tags),
            (matte_args, YUV_FORMAT, "matte", []),
        ):
            writers.append(
                FrameWriter(
                    args,
                    width=w,
                    height=h,
                    pix_fmt=pix_fmt,
                    frame_rate=plate.frame_rate,
                    limits=limits,
                    label=label,
                    input_args=input_args,
                )
            )
    except BaseException:
        for writer in writers:
            writer.abort()
        raise
    comp_writer, layer_writer, matte_writer = writers
    yuv = compositor.yuv
    # enough frames for the writer's queue, the one being written and the one being drawn
    spare = range(QUEUE_FRAMES + 2)
    if params.output_format == "png":
        layers = BufferPool([BgraLayer.blank(w, h) for _ in spare])
    else:
        layers = BufferPool([YuvaLayer(YuvaLayer.blank(w, h, yuv)) for _ in spare])
    mattes = BufferPool([MatteFrame(MatteFrame.blank(w, h, yuv), yuv) for _ in spare])

    def waiting() -> None:
        check()
        for writer in writers:
            writer.check()

    holdout = 0
    luma_in: list[float] = []
    luma_out: list[float] = []
    region_sum, region_pixels = _region_luma(region)
    levels = 255.0 / (1023.0 if value_range == "pc" else 876.0)  # 10-bit luma steps to 8-bit levels
    written = 0
    # the encoders and the frame reader keep both cores busy: OpenCV's own worker threads would only contend with them
    # for the small patches drawn here
    cv_threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        progress.update(0.0, stage="composite", message=f"0/{frames} frames")
        if kept is not None:
            plate_frames = kept.stream(check)
        else:
            # the reader's frames are read only: each is copied into a buffer of its own that is drawn on
            decoded = read_frames(plate, pix_fmt=YUV_FORMAT, check=check)
            plate_frames = ((YuvFrame.from_buffer(frame.data.copy(), w, h), None) for frame in decoded)
        with closing(plate_frames):
            for t, (frame, release) in enumerate(plate_frames):
                if t >= frames:
                    break
                before = region_sum(frame.y)
                layer, matte = layers.get(waiting), mattes.get(waiting)
                layer.reset()
                matte.reset()
                stats = compositor.draw(t, frame, [layer, matte])
                luma_in.append(levels * before / region_pixels)
                luma_out.append(levels * (before + stats.luma_change) / region_pixels)
                holdout += stats.holdout_pixels
                comp_writer.write(frame, release)
                layer_writer.write(layer.data if isinstance(layer, BgraLayer) else layer.frame.data, partial(layers.put, layer))
                matte_writer.write(matte.frame.data, partial(mattes.put, matte))
                written += 1
                if t % 4 == 0:
                    progress.update(0.98 * (t + 1) / frames, message=f"{t + 1}/{frames} frames")
        if written < frames:
            raise BadInput(
                f"{plate.name} gave {written} frames on the last pass but {frames} on the first; the file may be damaged"
            )
        if kept is not None:
            kept.discard()  # while the encoders finish
        for writer in writers:
            writer.close()
    except BaseException:
        for writer in writers:
            writer.abort()
        raise
    finally:
        cv2.setNumThreads(cv_threads)
    outputs = [
        OutputFile(
            "comp.mov",
            OutputKind.GENERATED,
            "comp",
            "video/quicktime",
            label=OUTPUT_LABELS["comp"],
        ),
        OutputFile("comp.proxy.mp4", OutputKind.GENERATED, "comp_proxy", "video/mp4", label=OUTPUT_LABELS["comp_proxy"]),
    ]
    if params.output_format == "png":
        target = out / "layer.zip"
        with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED) as archive:
            for png in sorted(png_dir.glob("layer_*.png")):
                # a fixed date, not the file's: the same run gives the same bytes
                entry = zipfile.ZipInfo(png.name, date_time=(1980, 1, 1, 0, 0, 0))
                entry.external_attr = 0o644 << 16
                archive.writestr(entry, png.read_bytes(), compress_type=zipfile.ZIP_STORED)
        outputs.append(
            OutputFile(
                "layer.zip",
                OutputKind.GENERATED,
                "layer",
                "application/zip",
                label=OUTPUT_LABELS["layer_png"],
            )
        )
    else:
        outputs.append(
            OutputFile(
                "layer.mov",
                OutputKind.GENERATED,
                "layer",
                "video/quicktime",
                label=OUTPUT_LABELS["layer"],
            )
        )
    outputs.append(
        OutputFile(
            "matte.mov",
            OutputKind.GENERATED,
            "matte",
            "video/quicktime",
            label=OUTPUT_LABELS["matte"],
        )
    )
    stats = {
        "holdout_pixels": holdout,
        "luma_step_in": round(_max_step(luma_in), 4),
        "luma_step_out": round(_max_step(luma_out), 4),
    }
    return outputs, stats


def _region_luma(region: Region) -> tuple[Callable[[np.ndarray], int], int]:
    """A function giving the sum of a luma plane over the region (exact, in code values), and the region's pixel count."""
    x0, y0, x1, y1 = region.bbox()
    if region.mask is None:
        return (lambda luma: int(cv2.sumElems(luma[y0:y1, x0:x1])[0])), max(1, (x1 - x0) * (y1 - y0))
    mask = np.ascontiguousarray(region.mask[y0:y1, x0:x1], np.uint8)
    count = max(1, int(np.count_nonzero(mask)))
    # cv2.mean sums exactly and divides once: times the count, rounded, it is the integer sum again
    return (lambda luma: int(round(cv2.mean(luma[y0:y1, x0:x1], mask)[0] * count))), count


def _max_step(values: list[float]) -> float:
    return float(np.abs(np.diff(values)).max()) if len(values) > 1 else 0.0


def _no_room(result: PlanResult, region: Region, params: CrowdParams, whole: int) -> str:
    where = "the region" if params.region else "the frame"
    return (
        f"no copy fits in {where} (from the {whole} whole {'person' if whole == 1 else 'people'} of the plate): "
        f"of {result.candidates_drawn} tries, {result.rejected_outside} left {where}, "
        f"{result.rejected_originals} came within the spacing of a person already there, {result.rejected_scale} would "
        f"have needed too big a change of size and {result.rejected_popping} would have come on or gone off in view "
        "(a copy may only walk in from the frame edge or out to it, or be there at the shot's start or end). "
        "Enlarge the region, lower min_spacing or shorten the time offsets."
    )


def _norm(value: float, size: int) -> float:
    return round(float(value) / size, 5)


def build_report(
    plate,
    tiles,
    clean_input,
    main,
    analyses,
    source: PlatePeopleSource,
    perspective,
    region: Region,
    result: PlanResult,
    compositor,
    params: CrowdParams,
    people_in: float,
) -> dict[str, Any]:
    w, h = plate.width, plate.height
    used_by: dict[str, list[int]] = {}
    for p in result.placements:
        used_by.setdefault(p.tube.id, []).append(p.index)
    tubes = {t.id: t for t in source.tubes()}
    tiles_report = []
    loops = {p.tube.id: p.loop for p in result.placements}
    confirmed = {t.id: t.confirmed for a in analyses for t in a.tubes}
    for tube_id in sorted(used_by):
        tube = tubes[tube_id]
        loop = loops[tube_id]
        rx, ry = tube.reference
        tiles_report.append(
            {
                "id": tube_id,
                "plate": tube.plate,
                "first_frame": tube.start,
                "frames": tube.length,
                "loop_period_frames": loop.period if loop.repeat else None,
                "plays": "looped, cut where the person comes back to the same place and size" if loop.repeat else "once",
                "reference_foot": [_norm(rx, w), _norm(ry, h)],
                "median_height": _norm(tube.median_height, h),
                "walks_in_or_out_of_view": bool(tube.cut.any()),
                "detector_confirmed": confirmed.get(tube_id),
                "used_by": used_by[tube_id],
            }
        )
    placements = []
    for p in result.placements:
        placements.append(
            {
                "index": p.index,
                "tile": p.tube.id,
                "anchor": [_norm(p.anchor[0], w), _norm(p.anchor[1], h)],
                "anchor_px": [round(p.anchor[0], 2), round(p.anchor[1], 2)],
                "scale": round(p.scale, 5),
                "mirrored": p.mirrored,
                "time_offset_frames": p.offset,
                "time_offset_seconds": round(p.offset / plate.fps, 4),
                "colour_shift_lab": [round(v, 3) for v in p.colour],
                "grain_sigma_bgr": compositor.grain_sigma(p),
                "as_shot": p.as_shot,
                "source_person": p.tube.id,
                "reuse_count": len(used_by[p.tube.id]),
                "frames_on_screen": int((p.loop.frames(main.frame_count, p.offset) >= 0).sum()),
                "first_frame_on": int(np.argmax(p.loop.frames(main.frame_count, p.offset) >= 0)),
                "first_frame_box": [
                    _norm(v, w if i % 2 == 0 else h) for i, v in enumerate(p.box(_first_shown(p, main.frame_count)))
                ],
            }
        )
    counts = main.counts
    all_tubes = [t for a in analyses for t in a.tubes]
    report: dict[str, Any] = {
        "tool": "crowd",
        "seed": params.seed,
        "model": None,
        "provider": None,
        "source": source.report(),
        "plate": {
            "name": plate.name,
            "width": w,
            "height": h,
            "frame_rate": plate.frame_rate,
            "frames": main.frame_count,
            "start_timecode": plate.info.video.start_timecode if plate.info.video else None,
        },
        "tile_plates": [t.name for t in tiles],
        "background": {
            "method": source.background_method.get(0, main.background_method),
            "clean_plate": clean_input.display_name if clean_input is not None else None,
            "grain_sigma_bgr": [round(float(v), 3) for v in source.noise[0]],
        },
        "segmentation": {
            "subtractor": params.subtractor,
            "shadows_removed": True,
            "analysis_size": list(main.size),
        },
        "people_in": {
            "mean_per_frame": round(people_in, 3),
            "min_per_frame": int(counts.min()),
            "max_per_frame": int(counts.max()),
            "tubes": len(all_tubes),
        },
        "person_check": {
            "mode": params.person_check,
            "detector": "OpenCV HOGDescriptor with the default people SVM (Dalal-Triggs)",
            "ran": any(t.confirmed is not None for t in all_tubes),
            "note": None
            if params.person_check != "report" or params.completeness != "pose"
            else "not run: the pose model's completeness gate decides who is a whole person",
            "detector_available": an.detector_available(),
            "tubes_checked": sum(1 for t in all_tubes if t.confirmed is not None),
            "tubes_confirmed": sum(1 for t in all_tubes if t.confirmed),
        },
        "perspective": perspective.to_report(h),
        "region": [list(pt) for pt in params.region] if params.region else None,
        "target": {
            "density": params.density,
            "people_to_add": result.wanted,
            "placed": len(result.placements),
            "candidates_drawn": result.candidates_drawn,
            "candidates_valid": result.candidates_valid,
            "ordering": result.ordering,
        },
        "tiles": tiles_report,
        "placements": placements,
        "compositing": {
            "order": "far to near by foot position",
            "originals_in_front": "an original person whose feet are nearer the camera stays in front of a copy",
            "feather_sigma_px": round(feather_for(h), 3),
            "grain": "matched per copy to the plate's measured grain" if params.grain else "off",
            "alpha": "straight (unpremultiplied); opaque inside each body, soft only at its edge",
            "contact_shadows": "none: copies are cut out without their shadows and no shadow is drawn for them",
            "no_dissolves": "a copy shows one frame of one person at a time: looped with a cut where the person is back "
            "at the same place and size, or played once; a copy played once comes on and goes off only out of view "
            "(walking in from the frame edge or out to it, or before the shot starts or after it ends), never in view",
            "clones": "each source person is copied at most 3 times; two copies of one person on screen together are "
            "2 s apart in their take and a quarter of the frame apart; a person standing still is copied once at a time",
            "rebuild": "comp = plate * (1 - matte) + layer * matte. Each placement plays its tile's frame "
            "t + time_offset_frames: modulo loop_period_frames when the tile loops (a cut, never a dissolve), else only "
            "while that frame exists (the copy plays once); the tile is scaled by `scale` and mirrored about its "
            "reference foot point, which lands on `anchor`.",
        },
        "outputs": {
            "comp": "comp.mov (ProRes 422 HQ, yuv422p10le)",
            "proxy": "comp.proxy.mp4 (H.264)",
            "layer": "layer.zip (RGBA PNG frames)" if params.output_format == "png" else "layer.mov (ProRes 4444, yuva444p10le)",
            "matte": "matte.mov (ProRes 422 HQ, luma = alpha)",
        },
        "warnings": [],
        "messages": {"warnings": [], "summary_lines": []},
    }
    if perspective.model == "constant" and params.perspective == "auto":
        code = PERSPECTIVE_CODES.get(perspective.reason)
        said = message(code) if code else message("crowd.perspective.other", why=perspective.reason)
        report["messages"]["warnings"].append(said)
        report["warnings"] = texts(report["messages"]["warnings"])
    return report


def count_people(
    path: Path, scratch: Path, *, background: np.ndarray | None = None, subtractor: str = "mog2", seed: int = 0
) -> np.ndarray:
    """People per frame of a clip, found exactly as the tool finds them in a plate (for checking results).

    `background` (at analysis size, see `plate_background`) lets a comp be measured against its plate's
    background, so copies that linger cannot fade into a background taken from the comp itself.
    """
    video = open_video(ToolInput(Path(path), InputKind.PLATE, "plate"))
    frames = an.load_frames(video, Path(scratch), f"count-{Path(path).stem}")
    if background is None:
        background = an.median_background(frames)
    detections = an.segment_plate(frames, background, an.estimate_noise(frames), subtractor, seed)
    return np.array([len(d) for d in detections])


def plate_background(path: Path, scratch: Path) -> np.ndarray:
    """The temporal-median background of a clip at analysis size, as the tool computes it."""
    video = open_video(ToolInput(Path(path), InputKind.PLATE, "plate"))
    return an.median_background(an.load_frames(video, Path(scratch), f"bg-{Path(path).stem}"))
