"""Contact sheet: a grid of evenly spaced frames from one clip, each labelled with its timecode.

Sample points are the centres of N equal parts of the clip, snapped to real frame numbers when the
frame rate is known: centres avoid the black first frame and the end of file, and snapping makes
the label name exactly the frame shown (ffmpeg's accurate seek returns the first frame at or after
the asked time, so we ask a quarter frame early).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont
from pydantic import Field

from studio_tools.contactsheet.video import VideoInfo, grab_frame, probe_video
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

OUTPUT_NAME = "contactsheet.png"
# About 300 MB of RGB while composing; a 12x12 sheet of 1024-wide 16:9 thumbnails still fits.
MAX_SHEET_PIXELS = 100_000_000
_BACKGROUND = (20, 20, 20)
_LABEL_COLOUR = (235, 235, 235)
_MISSING_COLOUR = (70, 20, 20)
_CANCEL_POLL = 0.25  # seconds between cancel checks while frames decode


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
    index: int
    seconds: float  # the frame's time from the start of the clip
    frame: int | None  # frame number when the frame rate is known
    seek: float  # what ffmpeg is asked for


class ContactSheet:
    spec = SPEC

    def run(self, inputs: list[ToolInput], params: ContactSheetParams, workdir: Path, progress: Progress) -> ToolResult:
        clip = inputs[0]
        name = clip.display_name
        progress.update(0.0, stage="probe")
        info = probe_video(clip.path, name)
        progress.check_cancelled()

        thumb_height = max(1, round(params.thumb_width * info.display_height / info.display_width))
        band = label_band_height(params.thumb_width) if params.timecodes else 0
        sheet_width = params.columns * params.thumb_width
        sheet_height = params.rows * (thumb_height + band)
        if sheet_width * sheet_height > MAX_SHEET_PIXELS:
            raise BadInput(
                f"a {params.columns}x{params.rows} sheet of {params.thumb_width}px thumbnails of {name} would be "
                f"{sheet_width}x{sheet_height} pixels; use fewer rows or a smaller thumb_width"
            )
        samples = plan_samples(info, params.columns * params.rows)
        progress.update(0.05, stage="frames", message=f"0/{len(samples)} frames")

        sheet = Image.new("RGB", (sheet_width, sheet_height), _BACKGROUND)
        draw = ImageDraw.Draw(sheet)
        font = ImageFont.load_default(size=max(8, round(band * 0.7))) if band else None
        frames_progress = progress.scaled(0.05, 0.9)
        cells: list[dict] = []
        missing: dict[int, str] = {}
        t0 = time.monotonic()

        def place(sample: Sample, pixels: bytes | None, problem: str | None) -> None:
            x = (sample.index % params.columns) * params.thumb_width
            y = (sample.index // params.columns) * (thumb_height + band)
            label = timecode(sample.seconds, sample.frame, info.fps)
            if pixels is None:
                missing[sample.index] = problem or "no frame"
                draw.rectangle((x, y, x + params.thumb_width - 1, y + thumb_height - 1), fill=_MISSING_COLOUR)
            else:
                sheet.paste(Image.frombytes("RGB", (params.thumb_width, thumb_height), pixels), (x, y))
            if font is not None:
                text = label if pixels is not None else f"{label} (no frame)"
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
                "decoded": pixels is not None,
            }
            if pixels is None:
                cell["problem"] = missing[sample.index]
            cells.append(cell)

        self._grab_all(clip.path, name, info, samples, params.thumb_width, thumb_height, frames_progress, place)
        cells.sort(key=lambda c: c["index"])
        decode_seconds = time.monotonic() - t0
        if len(missing) == len(samples):
            raise BadInput(f"no frame of {name} could be decoded ({next(iter(missing.values()))})")

        progress.update(0.9, stage="compose", message="writing the sheet")
        target = out_dir(workdir) / OUTPUT_NAME
        sheet.save(target, format="PNG", optimize=False)

        report = {
            "clip": {
                "name": name,
                "duration": round(info.duration, 6),
                "width": info.width,
                "height": info.height,
                "display_width": info.display_width,
                "display_height": info.display_height,
                "fps": round(info.fps, 6) if info.fps else None,
                "frame_count": info.frame_count,
                "video_codec": info.codec,
                "container": info.container,
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
        }
        metrics = {"frames": len(samples), "frames_missing": len(missing), "decode_seconds": round(decode_seconds, 3)}
        output = OutputFile(OUTPUT_NAME, OutputKind.IMAGE, "contactsheet", "image/png", label=f"Contact sheet of {name}")
        return ToolResult(outputs=[output], report=report, metrics=metrics)

    def _grab_all(
        self,
        path: Path,
        name: str,
        info: VideoInfo,
        samples: list[Sample],
        width: int,
        height: int,
        progress: Progress,
        on_frame: Callable[[Sample, bytes | None, str | None], None],
    ) -> None:
        """Decode the samples a few at a time, handing each to `on_frame` (in this thread) as it arrives.

        One ffmpeg per frame keeps each seek cheap on long clips, and placing frames as they come keeps
        only a handful of thumbnails in memory at once.
        """
        workers = max(1, min(4, os.cpu_count() or 1, len(samples)))
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="contactsheet")
        stop = threading.Event()
        try:
            pending: dict[Future, Sample] = {}
            queue = list(samples)
            done_count = 0
            while queue or pending:
                while queue and len(pending) < workers:
                    progress.check_cancelled()
                    sample = queue.pop(0)
                    future = pool.submit(grab_frame, path, info, sample.seek, width, height, name, stop=stop)
                    pending[future] = sample
                # A timeout, so a cancel is seen while a slow frame is still decoding.
                finished, _ = wait(pending, timeout=_CANCEL_POLL, return_when=FIRST_COMPLETED)
                for future in finished:
                    pixels, problem = future.result()
                    on_frame(pending.pop(future), pixels, problem)
                    done_count += 1
                if finished:
                    progress.update(done_count / len(samples), message=f"{done_count}/{len(samples)} frames")
                progress.check_cancelled()
        except BaseException:
            stop.set()  # frames still decoding are killed, not waited for
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def plan_samples(info: VideoInfo, count: int) -> list[Sample]:
    """`count` sample points at the centres of equal parts of the clip."""
    samples = []
    for i in range(count):
        centre = (i + 0.5) / count
        if info.fps and info.frame_count:
            frame = min(info.frame_count - 1, int(info.frame_count * centre))
            seconds = frame / info.fps
            samples.append(Sample(i, seconds, frame, max(0.0, seconds - 0.25 / info.fps)))
        else:
            seconds = info.duration * centre
            samples.append(Sample(i, seconds, None, seconds))
    return samples


def timecode(seconds: float, frame: int | None, fps: float | None) -> str:
    """HH:MM:SS:FF (non-drop-frame, counted at the nominal rate) when frames are known, else HH:MM:SS.mmm."""
    if frame is not None and fps:
        nominal = max(1, round(fps))
        total_seconds, ff = divmod(frame, nominal)
        hh, rem = divmod(total_seconds, 3600)
        mm, ss = divmod(rem, 60)
        return f"{hh:02d}:{mm:02d}:{ss:02d}:{ff:02d}"
    millis = round(seconds * 1000)
    hh, rem = divmod(millis, 3_600_000)
    mm, rem = divmod(rem, 60_000)
    ss, ms = divmod(rem, 1000)
    return f"{hh:02d}:{mm:02d}:{ss:02d}.{ms:03d}"


def label_band_height(thumb_width: int) -> int:
    """Room under each thumbnail for its label, in proportion so labels stay readable at any size."""
    return max(14, round(thumb_width * 0.08))
