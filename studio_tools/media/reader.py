"""The one frame reader: every tool and ingest read decoded pictures through here.

Frames come out as a viewer sees them: in display orientation (ffmpeg applies the rotation) and with
square pixels (scaled to the probe's display size, or a size of the same aspect), numbered on one of two
timelines:

- `cfr` (the default): a constant-rate timeline at the probe's measured rate. Frame n starts at
  n / rate after the first frame. A variable-rate source has its gaps filled by repeating the frame
  before (`Frame.repeated`) and its crowded frames dropped, so index arithmetic, timecode and the
  outputs' durations hold; `FrameStream.repeated` and `.dropped` say how many.
- `native`: every decoded frame once, numbered in order, with its own presentation time.

Frames are located by their presentation time, never by counting what a header promised, so an AVI
whose header claims twice its rate, a Matroska file with millisecond timestamps or a VFR phone clip all
land frame n on frame n. Seeking jumps to the keyframe before the target and decodes forward.

The child runs hardened like every other ffmpeg here: the input built by `sandbox.ffmpeg_input` (one
local file, one forced demuxer, the `file` protocol only), the compiled command line checked by the
sandbox, a clean environment, rlimits, its own process group, killed on cancel, on the wall-clock
deadline and when the caller stops reading. Frames are read ahead on a thread, so the caller's work
on frame n overlaps the decode of frame n+1.
"""

from __future__ import annotations

import math
import os
import queue
import re
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import ffmpeg
import numpy as np

from studio_tools.media import sandbox
from studio_tools.media.errors import MediaCancelled, MediaLimitExceeded, MediaToolError
from studio_tools.media.probe import MediaInfo, VideoInfo
from studio_tools.media.sandbox import Limits

Timeline = Literal["cfr", "native"]

_PTS_TIME = re.compile(rb"Parsed_showinfo.*?\bpts_time:\s*(-?[0-9.]+|nan|NOPTS)")
_STDERR_KEEP = 16 * 1024
_READ_AHEAD_BYTES = 32 * 1024 * 1024
# Bytes per pixel of the pixel formats a caller may ask for, and the array shape they come back in.
_PIXEL_FORMATS: dict[str, tuple[float, int | None]] = {
    "bgr24": (3, 3),
    "rgb24": (3, 3),
    "gray": (1, None),
    "gray16le": (2, None),
    "yuv420p": (1.5, 0),
    "yuv444p": (3, 0),
    "yuv422p10le": (4, 0),
    "yuva444p10le": (8, 0),
}  # shape: 3 -> (h, w, 3); None -> (h, w); 0 -> flat bytes (planar: the caller splits the planes)


@dataclass(frozen=True)
class Frame:
    index: int  # the frame's number on the timeline it was read on
    time: float  # seconds from the first frame: index / rate on `cfr`, its presentation time on `native`
    image: np.ndarray
    repeated: bool = False  # a copy of the frame before, filling a variable-rate gap


def display_size(video: VideoInfo, *, max_width: int | None = None, max_long_side: int | None = None) -> tuple[int, int]:
    """The size frames are read at by default: square pixels, display orientation, both sides even;
    shrunk (never enlarged) to `max_width` or a `max_long_side`, keeping the display aspect."""
    width = video.display_width or round(video.width * video.pixel_aspect_ratio)
    height = video.display_height or video.height
    scale = 1.0
    if max_width:
        scale = min(scale, max_width / width)
    if max_long_side:
        scale = min(scale, max_long_side / max(width, height))
    width, height = width * scale, height * scale
    return max(2, int(round(width / 2)) * 2), max(2, int(round(height / 2)) * 2)


def frame_index_at(info: MediaInfo, seconds: float) -> int:
    """The frame on the constant-rate timeline showing `seconds` after the first frame."""
    rate = _rate(info)
    return max(0, int(Fraction(seconds).limit_denominator(10**6) * rate + Fraction(1, 10**6)))


@dataclass
class FrameStream:
    """Iterate for frames; afterwards `repeated`, `dropped` and `decoded` tell what the timeline did."""

    frames: Iterator[Frame]
    repeated: int = 0
    dropped: int = 0
    decoded: int = 0

    def __iter__(self) -> Iterator[Frame]:
        return self.frames

    def close(self) -> None:
        close = getattr(self.frames, "close", None)
        if close is not None:
            close()


def read_frames(
    path: str | os.PathLike[str],
    info: MediaInfo,
    *,
    start: int = 0,
    stop: int | None = None,
    size: tuple[int, int] | None = None,
    pix_fmt: str = "bgr24",
    timeline: Timeline = "cfr",
    limits: Limits | None = None,
    cancelled: Callable[[], bool] | None = None,
    scale_flags: str = "area",
    input_options: dict[str, Any] | None = None,
) -> FrameStream:
    """Frames `start` to `stop` (exclusive; None: to the end) of the file's first video stream.

    `size` is (width, height) in display orientation (default: the display size). Raises
    MediaCancelled, MediaLimitExceeded or MediaToolError (from the iteration).
    """
    video = _video(info)
    if pix_fmt not in _PIXEL_FORMATS:
        raise MediaToolError(f"the frame reader does not deliver {pix_fmt!r}")
    if timeline == "native" and start:
        raise MediaToolError("the native timeline is read from the first frame (its numbering is by count)")
    width, height = size or display_size(video)
    stream = FrameStream(iter(()))
    stream.frames = _frames(
        stream,
        Path(path),
        info,
        video,
        start,
        stop,
        width,
        height,
        pix_fmt,
        timeline,
        limits,
        cancelled,
        scale_flags,
        input_options,
    )
    return stream


def read_frame(path: str | os.PathLike[str], info: MediaInfo, index: int, **options: Any) -> Frame:
    """Frame `index` of the constant-rate timeline; MediaToolError if the file has no such frame."""
    frames = read_frames(path, info, start=index, stop=index + 1, **options)
    got = next(iter(frames), None)
    frames.close()
    if got is None:
        raise MediaToolError(f"frame {index} could not be decoded (the file has {_video(info).timeline_frame_count} frames)")
    return got


def read_frames_at(path: str | os.PathLike[str], info: MediaInfo, indices: Iterable[int], **options: Any) -> dict[int, Frame]:
    """Several single frames by index, each run of neighbours read in one pass; a frame that cannot be
    decoded is missing from the answer rather than an error (one bad spot costs one frame)."""
    wanted = sorted(set(indices))
    found: dict[int, Frame] = {}
    runs: list[list[int]] = []
    for index in wanted:
        if runs and index - runs[-1][-1] <= 2:
            runs[-1].append(index)
        else:
            runs.append([index])
    for run in runs:
        frames = read_frames(path, info, start=run[0], stop=run[-1] + 1, **options)
        try:
            for frame in frames:
                if frame.index in run:
                    found[frame.index] = frame
        except MediaToolError:
            continue
        finally:
            frames.close()
    return found


def _video(info: MediaInfo) -> VideoInfo:
    if info.video is None:
        raise MediaToolError("this file has no picture to read frames from")
    return info.video


def _rate(info: MediaInfo) -> Fraction:
    video = _video(info)
    return Fraction(video.frame_rate) if video.frame_rate else Fraction(1)


def _frame_bytes(pix_fmt: str, width: int, height: int) -> int:
    per_pixel, _shape = _PIXEL_FORMATS[pix_fmt]
    return int(width * height * per_pixel)


def _as_array(data: bytes, pix_fmt: str, width: int, height: int) -> np.ndarray:
    _per_pixel, shape = _PIXEL_FORMATS[pix_fmt]
    if pix_fmt == "gray16le":
        return np.frombuffer(data, dtype="<u2").reshape(height, width)
    flat = np.frombuffer(data, dtype=np.uint8)
    if shape == 3:
        return flat.reshape(height, width, 3)
    if shape is None:
        return flat.reshape(height, width)
    return flat


def _frames(
    stream: FrameStream,
    path: Path,
    info: MediaInfo,
    video: VideoInfo,
    start: int,
    stop: int | None,
    width: int,
    height: int,
    pix_fmt: str,
    timeline: Timeline,
    limits: Limits | None,
    cancelled: Callable[[], bool] | None,
    scale_flags: str,
    input_options: dict[str, Any] | None,
) -> Iterator[Frame]:
    if stop is not None and stop <= start:
        return
    rate = _rate(info)
    limits = limits or Limits.for_transcode(video.duration or info.duration, realtime_factor=8.0)
    anchor = _first_frame_time(path, info, video, limits, input_options)
    seek = float(Fraction(start) / rate) - 1.0 if start else 0.0
    for attempt in ("seek", "from-start") if seek > 0 else ("from-start",):
        offset = seek if attempt == "seek" else 0.0
        produced = False
        decoded_here = 0
        next_index = start if timeline == "cfr" else 0
        previous: np.ndarray | None = None  # the last frame decoded, for filling a gap
        for pts, data in _decode(
            path, info, video, offset, width, height, pix_fmt, limits, cancelled, scale_flags, input_options
        ):
            stream.decoded += 1
            decoded_here += 1
            image = _as_array(data, pix_fmt, width, height)
            if timeline == "native":
                index = decoded_here - 1
                if stop is not None and index >= stop:
                    return
                yield Frame(index, pts - anchor if pts is not None else float(index / rate), image)
                continue
            slot = next_index if pts is None else math.floor((pts - anchor) * rate + 0.5)
            if slot < next_index:
                if produced:
                    stream.dropped += 1  # a second frame in one slot of the timeline
                else:
                    previous = image  # before the range: kept in case the range starts in a gap
                continue
            if attempt == "seek" and not produced and slot > start and previous is None:
                break  # the seek landed past the frame asked for (a sparse index): decode from the start
            while next_index < slot:
                if stop is not None and next_index >= stop:
                    return
                stream.repeated += 1
                yield Frame(next_index, float(next_index / rate), previous if previous is not None else image, repeated=True)
                next_index += 1
            if stop is not None and next_index >= stop:
                return
            produced = True
            yield Frame(next_index, float(next_index / rate), image)
            previous = image
            next_index += 1
        else:
            if produced or decoded_here:
                return  # the end of the file (nothing is invented past its last frame)
        if produced:
            return


def _first_frame_time(
    path: Path, info: MediaInfo, video: VideoInfo, limits: Limits, input_options: dict[str, Any] | None
) -> float:
    """The presentation time ffmpeg gives the first frame, the zero of every timeline; asked once per
    file (the same bytes: path, size and modification time) and stream, then remembered."""
    try:
        stat = path.stat()
    except OSError:
        stat = None
    key = (str(path.absolute()), stat.st_size if stat else -1, stat.st_mtime_ns if stat else -1, info.demuxer, video.index)
    with _ANCHORS_LOCK:
        if key in _ANCHORS:
            return _ANCHORS[key]
    anchor = video.first_frame_time
    for pts, _data in _decode(path, info, video, 0.0, 2, 2, "gray", limits, None, "fast_bilinear", input_options, frames=1):
        if pts is not None:
            anchor = pts
            break
    with _ANCHORS_LOCK:
        _ANCHORS[key] = anchor
        while len(_ANCHORS) > 256:
            _ANCHORS.pop(next(iter(_ANCHORS)))
    return anchor


_ANCHORS: dict[tuple[Any, ...], float] = {}
_ANCHORS_LOCK = threading.Lock()


def _decode(
    path: Path,
    info: MediaInfo,
    video: VideoInfo,
    seek: float,
    width: int,
    height: int,
    pix_fmt: str,
    limits: Limits,
    cancelled: Callable[[], bool] | None,
    scale_flags: str,
    input_options: dict[str, Any] | None,
    *,
    frames: int | None = None,
) -> Iterator[tuple[float | None, bytes]]:
    """(presentation time as in the file, raw frame) for every frame decoded from `seek` on."""
    options: dict[str, Any] = dict(input_options or {})
    if seek > 0:
        options.update({"ss": f"{seek:.6f}", "noaccurate_seek": None})
    if info.container == "exr":
        options.setdefault("apply_trc", "iec61966_2_1")  # scene-linear light would look black
    inp = sandbox.ffmpeg_input(path, info.demuxer, **options)
    picture = inp[str(video.index)].filter("scale", width, height, flags=scale_flags).filter("setsar", 1).filter("showinfo")
    output_options: dict[str, Any] = {"format": "rawvideo", "pix_fmt": pix_fmt, "fps_mode": "passthrough", "an": None, "sn": None}
    if frames is not None:
        output_options["frames:v"] = frames
    out = picture.output("pipe:", **output_options)
    args = ffmpeg.get_args(out)
    sandbox._assert_hardened(args)  # noqa: SLF001 - the sandbox's own check, reused on purpose
    argv = [sandbox.binary("ffmpeg"), "-nostdin", "-hide_banner", "-nostats", "-loglevel", "info", "-copyts", *args]
    yield from _stream(argv, _frame_bytes(pix_fmt, width, height), limits, cancelled)


def _stream(
    argv: list[str], frame_bytes: int, limits: Limits, cancelled: Callable[[], bool] | None
) -> Iterator[tuple[float | None, bytes]]:
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=sandbox._child_env(),  # noqa: SLF001
        start_new_session=True,
        preexec_fn=sandbox._limit_child(limits),  # noqa: SLF001
        close_fds=True,
    )
    stamps: deque[float | None] = deque()
    ready = threading.Condition()
    tail = bytearray()
    stderr_done = threading.Event()

    def drain_stderr() -> None:
        assert proc.stderr is not None
        buffer = b""
        for chunk in iter(lambda: proc.stderr.read1(65536), b""):
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            found = []
            for line in lines:
                match = _PTS_TIME.search(line)
                if match:
                    raw = match.group(1)
                    found.append(None if raw in (b"nan", b"NOPTS") else float(raw))
                elif line.strip() and b"Parsed_showinfo" not in line:
                    tail.extend(line + b"\n")
                    del tail[:-_STDERR_KEEP]
            if found:
                with ready:
                    stamps.extend(found)
                    ready.notify_all()
        stderr_done.set()
        with ready:
            ready.notify_all()

    reader = threading.Thread(target=drain_stderr, name="media-reader-stderr", daemon=True)
    reader.start()

    # Frames are read ahead on a thread of their own: a frame is larger than a pipe's buffer, so
    # without it ffmpeg would wait for every frame to be used before decoding the next one.
    ahead: queue.Queue[bytes | None] = queue.Queue(maxsize=max(2, min(24, _READ_AHEAD_BYTES // max(1, frame_bytes))))
    stop = threading.Event()

    def offer(item: bytes | None) -> bool:
        while not stop.is_set():
            try:
                ahead.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def read_pipe() -> None:
        assert proc.stdout is not None
        try:
            while not stop.is_set():
                data = _read_exact(proc.stdout, frame_bytes)
                if len(data) < frame_bytes or not offer(data):
                    break
        except (OSError, ValueError):  # the pipe closed under us: the main loop is stopping
            pass
        finally:
            offer(None)

    pipe_reader = threading.Thread(target=read_pipe, name="media-reader-frames", daemon=True)
    pipe_reader.start()
    deadline = time.monotonic() + limits.wall_seconds
    stopped_for: str | None = None
    finished = False
    try:
        while True:
            if cancelled is not None and cancelled():
                stopped_for = "cancel"
                break
            if time.monotonic() > deadline:
                stopped_for = "wall"
                break
            try:
                data = ahead.get(timeout=0.25)
            except queue.Empty:
                continue
            if data is None:
                finished = True
                break
            with ready:
                while not stamps and not stderr_done.is_set():
                    if not ready.wait(timeout=max(0.01, min(1.0, deadline - time.monotonic()))) and time.monotonic() > deadline:
                        break
                stamp = stamps.popleft() if stamps else None
            yield stamp, data
    finally:
        stop.set()
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, 9)
            except ProcessLookupError:
                pass
        returncode = proc.wait()
        pipe_reader.join(timeout=5)
        reader.join(timeout=5)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
    if stopped_for == "cancel":
        raise MediaCancelled("decoding was cancelled")
    if stopped_for == "wall":
        raise MediaLimitExceeded(
            f"Decoding this file took longer than the {limits.wall_seconds:.0f} second limit and was stopped.", limit="wall"
        )
    if finished and returncode != 0:
        raise MediaToolError(f"ffmpeg exited with status {returncode} while decoding", stderr=tail.decode("utf-8", "replace"))


def _read_exact(pipe, count: int) -> bytes:
    chunks = []
    remaining = count
    while remaining:
        chunk = pipe.read(remaining)
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)
