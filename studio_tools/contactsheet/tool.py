"""Contact sheet: a grid of evenly spaced frames from one clip, each labelled with its timecode.

The clip is read only through the media layer (see `video`): the probe's measured rate and frame
count place the samples, the frame reader decodes them by frame number on a constant-rate timeline
at that rate (an AVI whose header claims twice its rate, a variable-rate phone clip: frame n is frame
n), in display orientation and with square pixels, so cells keep the shape a viewer sees. Sample
points are the centres of N equal parts of the clip (centres avoid the black first frame and the end
of file). Labels are SMPTE timecode at the true rate, counted from the clip's own start timecode when
it has one; a variable-rate clip is labelled at its nominal rate, and the report says so.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from pydantic import Field

from studio_tools.contactsheet import video
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
from studio_tools.media.timecode import source_timecode

OUTPUT_NAME = "contactsheet.png"

# What the contact sheet says to people, by code (studio_tools.core.messages; the portal words each code).
define(
    "contactsheet.variable_rate",
    "{name} has a variable frame rate: frames are numbered and timecodes written at its nominal rate of {fps} fps",
)
define("contactsheet.frames_missing", "{missing} of {total} frames of {name} could not be decoded: their cells are empty")
# About 300 MB of RGB while composing; a 12x12 sheet of 1024-wide 16:9 thumbnails still fits.
MAX_SHEET_PIXELS = 100_000_000
_BACKGROUND = (20, 20, 20)
_LABEL_COLOUR = (235, 235, 235)
_MISSING_COLOUR = (70, 20, 20)
_WORKERS = 4  # decoders at once (each a sandboxed ffmpeg) on distant sample points


class ContactSheetParams(ToolParams):
    columns: int = Field(4, ge=1, le=12, description="Thumbnails per row.")
    rows: int = Field(4, ge=1, le=12, description="Rows of thumbnails.")
    thumb_width: int = Field(320, ge=64, le=1024, description="Width of each thumbnail in pixels.")
    timecodes: bool = Field(True, description="Print each frame's timecode under its thumbnail.")


SPEC = ToolSpec(
    name="contactsheet",
    version="1.0.0",
    title="Contact sheet",
    description="A grid of evenly spaced frames from one clip, each labelled with its timecode.",
    inputs=(InputSlot("clip", (InputKind.FOOTAGE, InputKind.PLATE), 1, 1, "The video to sample."),),
    params_model=ContactSheetParams,
    uses_external_ai=False,
)


@dataclass(frozen=True)
class Sample:
    index: int  # the cell's position on the sheet
    frame: int  # frame number on the clip's constant-rate timeline (0 = its first frame)
    seconds: float  # the frame's time from the first frame: frame / rate


class ContactSheet:
    spec = SPEC

    def run(self, inputs: list[ToolInput], params: ContactSheetParams, workdir: Path, progress: Progress) -> ToolResult:
        clip = inputs[0]
        name = clip.display_name
        progress.update(0.0, stage="probe")
        info = video.probe_clip(clip.path, name)
        clip_video = info.video
        progress.check_cancelled()

        display_width, display_height = clip_video.display_width, clip_video.display_height
        thumb_height = max(1, round(params.thumb_width * display_height / display_width))
        band = label_band_height(params.thumb_width) if params.timecodes else 0
        sheet_width = params.columns * params.thumb_width
        sheet_height = params.rows * (thumb_height + band)
        if sheet_width * sheet_height > MAX_SHEET_PIXELS:
            raise BadInput(
                f"a {params.columns}x{params.rows} sheet of {params.thumb_width}px thumbnails of {name} would be "
                f"{sheet_width}x{sheet_height} pixels; use fewer rows or a smaller thumb_width"
            )
        samples = plan_samples(clip_video.timeline_frame_count, clip_video.frame_rate, params.columns * params.rows)
        progress.update(0.05, stage="frames", message=f"0/{len(samples)} frames")

        sheet = Image.new("RGB", (sheet_width, sheet_height), _BACKGROUND)
        draw = ImageDraw.Draw(sheet)
        font = ImageFont.load_default(size=max(8, round(band * 0.7))) if band else None
        frames_progress = progress.scaled(0.05, 0.9)
        cells: list[dict] = []
        missing: dict[int, str] = {}
        t0 = time.monotonic()

        def place(sample: Sample, image: np.ndarray | None, problem: str | None) -> None:
            x = (sample.index % params.columns) * params.thumb_width
            y = (sample.index // params.columns) * (thumb_height + band)
            label = timecode(sample.frame, clip_video.frame_rate, clip_video.start_timecode)
            if image is None:
                missing[sample.index] = problem or "no frame"
                draw.rectangle((x, y, x + params.thumb_width - 1, y + thumb_height - 1), fill=_MISSING_COLOUR)
            else:
                sheet.paste(Image.fromarray(image, "RGB"), (x, y))
            if font is not None:
                text = label if image is not None else f"{label} (no frame)"
                centre = (x + params.thumb_width / 2, y + thumb_height + band / 2)
                draw.text(centre, text, fill=_LABEL_COLOUR, font=font, anchor="mm")
            cell = {
                "index": sample.index,
                "time": round(sample.seconds, 6),
                "frame": sample.frame,
                "timecode": label,
                "x": x,
                "y": y,
                "width": params.thumb_width,
                "height": thumb_height,
                "decoded": image is not None,
            }
            if image is None:
                cell["problem"] = missing[sample.index]
            cells.append(cell)

        self._grab_all(clip.path, info, samples, (params.thumb_width, thumb_height), frames_progress, place)
        cells.sort(key=lambda c: c["index"])
        decode_seconds = time.monotonic() - t0
        if len(missing) == len(samples):
            raise BadInput(f"no frame of {name} could be decoded ({next(iter(missing.values()))})")

        progress.update(0.9, stage="compose", message="writing the sheet")
        target = out_dir(workdir) / OUTPUT_NAME
        sheet.save(target, format="PNG", optimize=False)

        said = []
        if clip_video.variable_frame_rate:
            said.append(message("contactsheet.variable_rate", name=name, fps=_rate_value(clip_video.frame_rate)))
        notes = texts(said)
        if missing:
            said.append(message("contactsheet.frames_missing", missing=len(missing), total=len(samples), name=name))
        report = {
            "clip": {
                "name": name,
                "duration": round(clip_video.duration if clip_video.duration is not None else info.duration or 0.0, 6),
                "width": clip_video.width,
                "height": clip_video.height,
                "display_width": display_width,
                "display_height": display_height,
                "rotation": clip_video.rotation,
                "pixel_aspect_ratio": clip_video.pixel_aspect,
                "frame_rate": clip_video.frame_rate,
                "fps": round(clip_video.fps, 6) if clip_video.fps else None,
                "variable_frame_rate": clip_video.variable_frame_rate,
                "frame_count": clip_video.timeline_frame_count,
                "start_timecode": clip_video.start_timecode,
                "first_frame_timecode": timecode(0, clip_video.frame_rate, clip_video.start_timecode),
                "video_codec": clip_video.codec,
                "container": info.container_label,
            },
            "sheet": {
                "path": OUTPUT_NAME,
                "width": sheet_width,
                "height": sheet_height,
                "columns": params.columns,
                "rows": params.rows,
                "thumb_width": params.thumb_width,
                "thumb_height": thumb_height,
                "timecodes": params.timecodes,
            },
            "frames": cells,
            "notes": notes,
            # what the run page shows above the outputs
            "warnings": texts(said),
            "messages": {"warnings": said, "summary_lines": []},
        }
        metrics = {"frames": len(samples), "frames_missing": len(missing), "decode_seconds": round(decode_seconds, 3)}
        output = OutputFile(OUTPUT_NAME, OutputKind.IMAGE, "contactsheet", "image/png", label=f"Contact sheet of {name}")
        return ToolResult(outputs=[output], report=report, metrics=metrics)

    def _grab_all(
        self,
        path: Path,
        info,
        samples: list[Sample],
        size: tuple[int, int],
        progress: Progress,
        on_frame: Callable[[Sample, np.ndarray | None, str | None], None],
    ) -> None:
        """Decode the sampled frames through the frame reader, handing each cell to `on_frame` as its
        frame arrives, so only the frame being placed is held in memory. A cancel kills the decoder at
        once (the reader polls it while it waits for a frame) and is re-checked after every cell."""

        cancelled = progress.is_cancelled
        by_frame: dict[int, list[Sample]] = {}
        for sample in samples:
            by_frame.setdefault(sample.frame, []).append(sample)
        done_count = 0
        workers = max(1, min(_WORKERS, os.cpu_count() or 1))
        cells = video.read_cells(path, info, list(by_frame), size, cancelled=cancelled, workers=workers)
        for frame, image, problem in cells:
            for sample in by_frame.get(frame, []):
                on_frame(sample, image, problem)
                done_count += 1
                progress.update(done_count / len(samples), message=f"{done_count}/{len(samples)} frames")
            progress.check_cancelled()


def plan_samples(frame_count: int, frame_rate: str, count: int) -> list[Sample]:
    """`count` sample points at the centres of equal parts of a clip of `frame_count` frames."""
    rate = Fraction(frame_rate)
    samples = []
    for i in range(count):
        frame = min(frame_count - 1, int(frame_count * (i + 0.5) / count))
        samples.append(Sample(i, frame, float(frame / rate)))
    return samples


def timecode(frame: int, frame_rate: str | None, start_timecode: str | None = None) -> str:
    """The SMPTE label of a frame at the clip's true rate (drop-frame at 29.97/59.94), counted from
    the clip's start timecode when it has one."""
    return source_timecode(frame, frame_rate, start=start_timecode) or f"frame {frame}"


def _rate_value(frame_rate: str | None) -> float | int | str:
    """The rate as a number a reader's locale can format (25, 29.97), "?" when unknown; printed as _rate_label."""
    if not frame_rate:
        return "?"
    value = round(float(Fraction(frame_rate)), 3)
    return int(value) if value.is_integer() else value


def _rate_label(frame_rate: str | None) -> str:
    return f"{float(Fraction(frame_rate)):.3f}".rstrip("0").rstrip(".") if frame_rate else "?"


def label_band_height(thumb_width: int) -> int:
    """Room under each thumbnail for its label, in proportion so labels stay readable at any size."""
    return max(14, round(thumb_width * 0.08))
