"""Where to look: the last frames of each outgoing shot, the first of each incoming one, a few keyframes.

Frames are decoded through the hardened media layer (`studio_tools.media.sandbox`): every input is
probed and accepted first, then read with its sniffed demuxer forced. ffmpeg scales each frame to
the analysis size and hands it over as raw RGB, so no full-size frame is ever held in Python.

Frame numbers count from 0 at the start of the input. A frame is found by an accurate seek to a
quarter frame before its time, which picks exactly that frame for constant-rate footage; when the
container does not record its frame count, the end of the shot is located from its duration and the
report says the numbers near the end are estimated.
"""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import ffmpeg
import numpy as np

from studio_tools.core import BadInput, ToolInput
from studio_tools.media import MediaInfo, MediaRejected, probe, sandbox
from studio_tools.media.sandbox import Limits

# Decoding one shot's edge never needs long; a hostile file that stalls ffmpeg is stopped.
_DECODE_WALL_SECONDS = 120.0
_TC_RE = re.compile(r"^(\d{1,2})[:;.](\d{2})[:;.](\d{2})([:;.])(\d{2,3})$")


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
            "fps": _round(video.fps) if video and video.fps else None,
            "frame_count": video.frame_count if video else None,
            "duration": _round(self.info.duration) if self.info else None,
            "start_timecode": video.start_timecode if video else None,
            "analysis_size": [self.width, self.height],
            "frames_estimated": self.frames_estimated,
            "frames_looked_at": sorted({f.frame for f in self.head + self.tail + self.keys}),
        }


def analysis_size(info: MediaInfo, max_width: int) -> tuple[int, int]:
    """Square-pixel size with width at most `max_width` (never upscaled), both sides even."""
    video = info.video
    if video is None:
        raise BadInput("no picture")
    display_width = video.width * video.pixel_aspect_ratio
    width = min(float(max_width), display_width)
    height = width * video.height / display_width
    return max(16, int(round(width / 2)) * 2), max(16, int(round(height / 2)) * 2)


def probe_input(item: ToolInput) -> MediaInfo:
    """Accept the input through the media layer; the user's file name, not a path, in every message."""
    name = item.display_name
    try:
        info = probe(item.path, filename=name)
    except MediaRejected as exc:
        raise BadInput(f"{name}: {exc.reason}") from None
    if info.video is None:
        raise BadInput(f"{name} has no picture (it is {info.kind}); continuity needs video or stills")
    return info


def load_shot(
    order: int, item: ToolInput, input_index: int, info: MediaInfo, *, edge_frames: int, keyframes: int, max_width: int
) -> Shot:
    """Decode the frames the checks need from one shot."""
    width, height = analysis_size(info, max_width)
    shot = Shot(order, input_index, item.display_name, info, width, height)
    t0 = time.monotonic()
    if shot.is_still:
        (image,) = decode(item.path, info, None, 1, width, height) or [None]
        if image is None:
            raise BadInput(f"{shot.name}: the picture could not be decoded")
        frame = Frame(input_index, shot.name, 0, None, None, image, "still")
        shot.head, shot.tail = [frame], [frame]
        shot.decode_seconds = time.monotonic() - t0
        return shot

    video = info.video
    fps = video.fps or 25.0
    count = video.frame_count or max(1, int(round((info.duration or 0.0) * fps)))
    n = max(1, min(edge_frames, count))
    head = decode(item.path, info, 0.0, n, width, height)
    if not head:
        raise BadInput(f"{shot.name}: no frame could be decoded")
    shot.head = [_frame(shot, i, img, "head", fps) for i, img in enumerate(head)]

    # The tail: start a couple of frames early and keep the last n that come out.
    first = max(0, count - n - 2)
    tail: list[np.ndarray] = []
    for start in (first, max(0, first - int(2 * fps))):
        tail = decode(item.path, info, _seek(start, fps), None, width, height, max_frames=count - start + 4 * int(fps) + 8)
        if tail:
            first = start
            break
    if not tail:
        raise BadInput(f"{shot.name}: the end of the shot could not be decoded")
    numbered = list(enumerate(tail, start=first))[-n:]
    if numbered[-1][0] != count - 1:
        shot.frames_estimated = True
    shot.tail = [_frame(shot, i, img, "tail", fps) for i, img in numbered]

    for k in range(1, keyframes + 1):
        index = int(round(count * k / (keyframes + 1)))
        if index < n or index >= count - n:
            continue  # inside the edges already read
        images = decode(item.path, info, _seek(index, fps), 1, width, height)
        if images:
            shot.keys.append(_frame(shot, index, images[0], "key", fps))
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


def decode(
    path: Path, info: MediaInfo, seek: float | None, count: int | None, width: int, height: int, *, max_frames: int = 64
) -> list[np.ndarray]:
    """Up to `count` frames (all to the end when None, at most `max_frames`) from `seek` seconds, as RGB."""
    options = {"ss": f"{seek:.6f}"} if seek else {}
    if info.container == "exr":
        options["apply_trc"] = "iec61966_2_1"  # scene-linear light would look black
    inp = sandbox.ffmpeg_input(path, info.demuxer, **options)
    picture = inp[str(info.video.index)].filter("scale", width, height, flags="area").filter("setsar", 1)
    frames = count if count is not None else max_frames
    out = ffmpeg.output(picture, "pipe:", format="rawvideo", pix_fmt="rgb24", **{"frames:v": frames})
    frame_bytes = width * height * 3
    limits = Limits(
        wall_seconds=_DECODE_WALL_SECONDS, cpu_seconds=_DECODE_WALL_SECONDS * 2, stdout_bytes=frame_bytes * frames + 1
    )
    try:
        done = sandbox.run_ffmpeg(out, limits=limits)
    except sandbox.ProcessFailed:
        return []
    data = done.stdout
    usable = len(data) // frame_bytes
    return [np.frombuffer(data, np.uint8, frame_bytes, i * frame_bytes).reshape(height, width, 3) for i in range(usable)]


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
    """SMPTE timecode of `frame`, counted from the file's start timecode (00:00:00:00 without one)."""
    video = info.video
    if video is None or not video.fps:
        return None
    nominal = max(1, int(round(video.fps)))
    drop = False
    start = 0
    match = _TC_RE.match(video.start_timecode or "")
    if match:
        hh, mm, ss, sep, ff = match.groups()
        drop = sep == ";" and nominal in (30, 60)
        start = _tc_to_frames(int(hh), int(mm), int(ss), int(ff), nominal, drop)
    return _frames_to_tc(start + frame, nominal, drop)


def _tc_to_frames(hh: int, mm: int, ss: int, ff: int, nominal: int, drop: bool) -> int:
    total_minutes = 60 * hh + mm
    frames = (3600 * hh + 60 * mm + ss) * nominal + ff
    if drop:
        dropped = nominal // 15  # 2 at 29.97, 4 at 59.94
        frames -= dropped * (total_minutes - total_minutes // 10)
    return frames


def _frames_to_tc(frames: int, nominal: int, drop: bool) -> str:
    sep = ":"
    if drop:
        sep = ";"
        dropped = nominal // 15
        per_minute = nominal * 60 - dropped
        per_ten = per_minute * 10 + dropped
        tens, rem = divmod(frames, per_ten)
        extra = 0 if rem < dropped else dropped * ((rem - dropped) // per_minute)
        frames += dropped * 9 * tens + extra
    ff = frames % nominal
    seconds = frames // nominal
    hh, mm, ss = (seconds // 3600) % 24, (seconds // 60) % 60, seconds % 60
    return f"{hh:02d}:{mm:02d}:{ss:02d}{sep}{ff:02d}"


def _frame(shot: Shot, index: int, image: np.ndarray, role: str, fps: float) -> Frame:
    return Frame(shot.input_index, shot.name, index, index / fps, timecode_for(shot.info, index), image, role)


def _seek(index: int, fps: float) -> float:
    return max(0.0, (index - 0.25) / fps)


def _small(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    scale = min(1.0, 320.0 / w)
    if scale >= 1.0:
        return image
    return cv2.resize(image, (int(w * scale), max(1, int(h * scale))), interpolation=cv2.INTER_AREA)


def _round(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(float(value), digits)
