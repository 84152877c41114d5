"""Where to look: the last frames of each outgoing shot, the first of each incoming one, a few keyframes.

Everything is read through the media layer: every input is probed and accepted first
(`studio_tools.media.probe`, which measures the true rate and frame count), then its frames come from
the one frame reader (`studio_tools.media.reader`), sandboxed, scaled to the analysis size, in
display orientation with square pixels (a phone clip shot upright is analysed and drawn upright), so
no full-size frame is ever held in Python.

Frame numbers count from 0 at the first frame on the reader's constant-rate timeline at the true
rate: head, tail and keyframes are read by exact index from the probe's frame count, whatever the
container's header claims. Timecodes come from `studio_tools.media.timecode`, counted from the
file's start timecode; a variable-rate file is numbered and labelled at its nominal rate.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from studio_tools.core import BadInput, ToolInput
from studio_tools.core.messages import define, message
from studio_tools.media import MediaInfo, MediaRejected, MediaToolError, probe, reader
from studio_tools.media.timecode import source_timecode

define("continuity.no_picture", "{name} has no picture (it is {kind}); continuity needs video or stills")


@dataclass
class Frame:
    """One decoded frame at analysis size, with where it came from."""

    input_index: int
    name: str
    frame: int
    time: float | None
    timecode: str | None
    image: np.ndarray  # RGB uint8, analysis size
    role: str  # "head", "tail", "key" or "still"
    moving: np.ndarray | None = field(default=None, repr=False)  # (H, W) bool: what moves in the shot around this frame

    def ref(self) -> dict:
        return {
            "input": self.input_index,
            "name": self.name,
            "frame": self.frame,
            "time": _round(self.time),
            "timecode": self.timecode,
        }


@dataclass
class Shot:
    order: int  # position in cut order, from 0
    input_index: int  # position among all the run's inputs
    name: str
    info: MediaInfo | None  # None for a picture handed over in memory (tests, benchmarks)
    width: int  # analysis size
    height: int
    head: list[Frame] = field(default_factory=list)
    tail: list[Frame] = field(default_factory=list)
    keys: list[Frame] = field(default_factory=list)
    frames_estimated: bool = False
    decode_seconds: float = 0.0

    @classmethod
    def from_image(cls, order: int, input_index: int, name: str, image: np.ndarray) -> Shot:
        """A one-picture shot from an RGB array already in memory."""
        image = np.ascontiguousarray(image, np.uint8)
        frame = Frame(input_index, name, 0, None, None, image, "still")
        return cls(order, input_index, name, None, image.shape[1], image.shape[0], head=[frame], tail=[frame])

    @property
    def is_still(self) -> bool:
        return self.info is None or self.info.kind == "still"

    @property
    def frames_read(self) -> int:
        if self.is_still:
            return 1
        return len(self.head) + len(self.tail) + len(self.keys)

    def describe(self) -> dict:
        video = self.info.video if self.info else None
        return {
            "order": self.order,
            "input": self.input_index,
            "name": self.name,
            "kind": self.info.kind if self.info else "still",
            "width": video.width if video else None,
            "height": video.height if video else None,
            "display_width": video.display_width if video else None,
            "display_height": video.display_height if video else None,
            "rotation": video.rotation if video else 0,
            "frame_rate": video.frame_rate if video else None,
            "fps": _round(video.fps) if video and video.fps else None,
            "variable_frame_rate": video.variable_frame_rate if video else False,
            "frame_count": video.frame_count if video else None,
            "duration": _round(self.info.duration) if self.info else None,
            "start_timecode": video.start_timecode if video else None,
            "analysis_size": [self.width, self.height],
            "frames_estimated": self.frames_estimated,
            "frames_looked_at": sorted({f.frame for f in self.head + self.tail + self.keys}),
        }


def analysis_size(info: MediaInfo, max_width: int) -> tuple[int, int]:
    """Display size (square pixels, after rotation) with width at most `max_width` (never upscaled),
    both sides even."""
    video = info.video
    if video is None:
        raise BadInput("no picture")
    width, height = reader.display_size(video, max_width=max_width)
    return max(16, width), max(16, height)


def probe_input(item: ToolInput) -> MediaInfo:
    """Accept the input through the media layer; the user's file name, not a path, in every message."""
    name = item.display_name
    try:
        info = probe(item.path, filename=name)
    except MediaRejected as exc:
        raise BadInput(f"{name}: {exc.reason}") from None
    if info.video is None:
        raise BadInput(message("continuity.no_picture", name=name, kind=info.kind))
    return info


def load_shot(
    order: int, item: ToolInput, input_index: int, info: MediaInfo, *, edge_frames: int, keyframes: int, max_width: int
) -> Shot:
    """Decode the frames the checks need from one shot."""
    width, height = analysis_size(info, max_width)
    shot = Shot(order, input_index, item.display_name, info, width, height)
    t0 = time.monotonic()
    if shot.is_still:
        image = read_picture(item.path, info, width, height)
        if image is None:
            raise BadInput(f"{shot.name}: the picture could not be decoded")
        frame = Frame(input_index, shot.name, 0, None, None, image, "still")
        shot.head, shot.tail = [frame], [frame]
        shot.decode_seconds = time.monotonic() - t0
        return shot

    video = info.video
    count = video.timeline_frame_count or video.frame_count or 1
    n = max(1, min(edge_frames, count))
    head = decode(item.path, info, 0, n, width, height)
    if not head:
        raise BadInput(f"{shot.name}: no frame could be decoded")
    shot.head = [_frame(shot, f, "head") for f in head]

    tail = decode(item.path, info, count - n, count, width, height)
    if len(tail) < n:
        # The probe's count is measured, so this is a file that decodes differently on a second
        # look: read the end again from a little earlier and keep the last frames that came out.
        tail = decode(item.path, info, max(0, count - n - 2 * edge_frames - 8), None, width, height)[-n:]
    if not tail:
        raise BadInput(f"{shot.name}: the end of the shot could not be decoded")
    if tail[-1].index != count - 1:
        shot.frames_estimated = True
    shot.tail = [_frame(shot, f, "tail") for f in tail]

    wanted = []
    for k in range(1, keyframes + 1):
        index = int(round(count * k / (keyframes + 1)))
        if n <= index < count - n:  # outside the edges already read
            wanted.append(index)
    if wanted:
        found = reader.read_frames_at(item.path, info, wanted, size=(width, height), pix_fmt="rgb24")
        shot.keys = [_frame(shot, found[i], "key") for i in wanted if i in found]
    shot.decode_seconds = time.monotonic() - t0
    return shot


def load_shots(items: list[tuple[int, ToolInput, MediaInfo]], *, edge_frames: int, keyframes: int, max_width: int) -> list[Shot]:
    """Decode every shot, two at a time: ffmpeg runs in its own process, so threads overlap the work."""
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="continuity-decode") as pool:
        futures = [
            pool.submit(load_shot, order, item, index, info, edge_frames=edge_frames, keyframes=keyframes, max_width=max_width)
            for order, (index, item, info) in enumerate(items)
        ]
        return [f.result() for f in futures]


def decode(path: Path, info: MediaInfo, start: int, stop: int | None, width: int, height: int) -> list[reader.Frame]:
    """Frames `start` to `stop` (exclusive; None: to the end) of the constant-rate timeline, RGB at
    width x height in display orientation; what decodes before a damaged spot is kept."""
    frames: list[reader.Frame] = []
    stream = reader.read_frames(path, info, start=start, stop=stop, size=(width, height), pix_fmt="rgb24")
    try:
        frames.extend(stream)
    except MediaToolError:
        pass  # a damaged spot: the frames before it still count
    finally:
        stream.close()
    return frames


def read_picture(path: Path, info: MediaInfo, width: int, height: int) -> np.ndarray | None:
    """The first (for a still, the only) picture of a file, RGB at width x height, or None."""
    frames = decode(path, info, 0, 1, width, height)
    return frames[0].image if frames else None


MOTION_LEVEL = 14  # grey levels: a change between neighbouring frames larger than noise and compression


def motion_mask(frames: list[Frame]) -> np.ndarray | None:
    """Where the picture moves between the frames read at one edge of a shot (passers-by, hands,
    leaves), after taking out the camera's own move; None for a single frame.

    The continuity of the set is judged on what stays put: something that moves inside the shot is
    no prop that vanished at the cut.
    """
    if len(frames) < 2:
        return None
    h, w = frames[0].image.shape[:2]
    greys = [cv2.GaussianBlur(cv2.cvtColor(f.image, cv2.COLOR_RGB2GRAY), (0, 0), max(1.0, w / 480.0)) for f in frames]
    moving = np.zeros((h, w), bool)
    # every frame against the first and the last: animation held for two frames still shows its moves
    couples = [(greys[0], g) for g in greys[1:]] + [(g, greys[-1]) for g in greys[1:-1]]
    for a, b in couples:
        diff = cv2.absdiff(a, b) > MOTION_LEVEL
        if diff.mean() > 0.15:
            # the camera moves: align the two frames first (translation and scale are enough between neighbours)
            warp = np.eye(2, 3, dtype=np.float32)
            try:
                _, warp = cv2.findTransformECC(
                    b, a, warp, cv2.MOTION_AFFINE, (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 30, 1e-4)
                )
                aligned = cv2.warpAffine(
                    b, warp, (w, h), flags=cv2.INTER_LINEAR + cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE
                )
                diff = cv2.absdiff(a, aligned) > MOTION_LEVEL
            except cv2.error:
                pass
            if diff.mean() > 0.4:
                continue  # nothing stays still: motion says nothing here
        moving |= diff
    if not moving.any():
        return moving
    k = max(3, int(round(w / 120.0)))
    moving = cv2.morphologyEx(moving.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    moving = cv2.dilate(moving, np.ones((2 * k + 1, 2 * k + 1), np.uint8)) > 0
    return moving


def pick_edge_frame(frames: list[Frame], *, at_end: bool) -> Frame:
    """The frame nearest the cut that is neither black nor much softer than its neighbours (a fade or a
    motion-blurred whip would hide what the audience actually sees carry over)."""
    ordered = list(reversed(frames)) if at_end else list(frames)
    if len(ordered) == 1:
        return ordered[0]
    stats = []
    for f in ordered:
        grey = cv2.cvtColor(_small(f.image), cv2.COLOR_RGB2GRAY)
        stats.append((float(grey.mean()), float(cv2.Laplacian(grey, cv2.CV_32F).var())))
    sharpest = max(s for _, s in stats)
    for f, (mean, sharp) in zip(ordered, stats, strict=True):
        if mean > 10 and sharp >= 0.35 * sharpest:
            return f
    return ordered[0]


def timecode_for(info: MediaInfo, frame: int) -> str | None:
    """SMPTE timecode of `frame`, counted from the file's start timecode (00:00:00:00 without one),
    at its true rate (a variable-rate file: its nominal rate)."""
    video = info.video
    if video is None:
        return None
    return source_timecode(frame, video.frame_rate, start=video.start_timecode)


def _frame(shot: Shot, frame: reader.Frame, role: str) -> Frame:
    return Frame(shot.input_index, shot.name, frame.index, frame.time, timecode_for(shot.info, frame.index), frame.image, role)


def _small(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    scale = min(1.0, 320.0 / w)
    if scale >= 1.0:
        return image
    return cv2.resize(image, (int(w * scale), max(1, int(h * scale))), interpolation=cv2.INTER_AREA)


def _round(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(float(value), digits)
