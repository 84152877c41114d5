"""A downscaled decode of one video stream, frame by frame, with each frame's own timestamp.

The media sandbox's `run` collects a child's output in memory, which suits probes and encodes but not
a decode of a whole episode (a 45-minute 1080p episode is gigabytes even at 256 pixels wide). This
reader streams instead, with the same hardening: the ffmpeg input is built by `sandbox.ffmpeg_input`
(one local file, one forced demuxer, no protocols but `file`), the compiled command line is checked by
the sandbox's own `_assert_hardened`, and the child runs with the sandbox's clean environment and
rlimits, in its own process group, killed on cancel, on the wall-clock deadline and on early exit.

Timestamps come from ffmpeg's `showinfo` filter (one log line per frame, in output order) rather than
from a frame counter, so a variable-frame-rate file gets each frame's real presentation time.
"""

from __future__ import annotations

import os
import queue
import re
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import ffmpeg
import numpy as np

from studio_tools.media import sandbox
from studio_tools.media.errors import MediaCancelled, MediaLimitExceeded, MediaToolError
from studio_tools.media.sandbox import Limits

_PTS_TIME = re.compile(rb"Parsed_showinfo.*?\bpts_time:\s*(-?[0-9.]+|nan|NOPTS)")
_STDERR_KEEP = 16 * 1024


@dataclass(frozen=True)
class DecodeSize:
    width: int
    height: int

    @classmethod
    def for_display(cls, display_aspect: float, width: int) -> DecodeSize:
        """`width` wide (even), height from the display aspect (even, at least 2)."""
        width = max(2, width - width % 2)
        height = max(2, round(width / max(display_aspect, 1e-6) / 2) * 2)
        return cls(width, height)


def iter_frames(
    path: str | os.PathLike[str],
    demuxer: str,
    stream_index: int,
    size: DecodeSize,
    *,
    start_time: float = 0.0,
    limits: Limits,
    cancelled: Callable[[], bool] | None = None,
    scale_flags: str = "area",
) -> Iterator[tuple[float, np.ndarray]]:
    """Yield (seconds from `start_time`, BGR frame of `size`) for every decoded frame, in order.

    Frames without a timestamp get the previous one plus a nominal step, so a damaged spot shifts
    nothing after it. Raises MediaCancelled, MediaLimitExceeded or MediaToolError.
    """
    inp = sandbox.ffmpeg_input(path, demuxer)
    video = inp[str(stream_index)].filter("scale", size.width, size.height, flags=scale_flags).filter("showinfo")
    out = video.output("pipe:", format="rawvideo", pix_fmt="bgr24", **{"fps_mode": "passthrough", "an": None, "sn": None})
    args = ffmpeg.get_args(out)
    sandbox._assert_hardened(args)  # noqa: SLF001 - the sandbox's own check, reused on purpose
    argv = [sandbox.binary("ffmpeg"), "-nostdin", "-hide_banner", "-nostats", "-loglevel", "info", *args]

    frame_bytes = size.width * size.height * 3
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
                elif line.strip():
                    tail.extend(line + b"\n")
                    del tail[:-_STDERR_KEEP]
            if found:
                with ready:
                    stamps.extend(found)
                    ready.notify_all()
        stderr_done.set()
        with ready:
            ready.notify_all()

    reader = threading.Thread(target=drain_stderr, name="recap-ffmpeg-stderr", daemon=True)
    reader.start()

    # Frames are read ahead on a thread of their own: a frame is larger than a pipe's buffer, so
    # without it ffmpeg would wait for every frame to be analysed before decoding the next one.
    ahead: queue.Queue[bytes | None] = queue.Queue(maxsize=_READ_AHEAD)
    stop = threading.Event()

    def offer(item: bytes | None) -> bool:
        while not stop.is_set():
            try:
                ahead.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def read_frames() -> None:
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

    frame_reader = threading.Thread(target=read_frames, name="recap-ffmpeg-frames", daemon=True)
    frame_reader.start()
    deadline = time.monotonic() + limits.wall_seconds
    last_time: float | None = None
    step = 1 / 25
    stopped_for: str | None = None
    try:
        assert proc.stdout is not None
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
                break
            with ready:
                while not stamps and not stderr_done.is_set():
                    if not ready.wait(timeout=max(0.01, min(1.0, deadline - time.monotonic()))) and time.monotonic() > deadline:
                        break
                stamp = stamps.popleft() if stamps else None
            if stamp is None:
                seconds = (last_time + step) if last_time is not None else 0.0
            else:
                seconds = stamp - start_time
                if last_time is not None and seconds > last_time:
                    step = min(step, seconds - last_time) if step > 0 else seconds - last_time
            last_time = seconds
            frame = np.frombuffer(data, dtype=np.uint8).reshape(size.height, size.width, 3)
            yield seconds, frame
    finally:
        stop.set()
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, 9)
            except ProcessLookupError:
                pass
        returncode = proc.wait()
        frame_reader.join(timeout=5)
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
    if returncode != 0:
        raise MediaToolError(f"ffmpeg exited with status {returncode} while decoding", stderr=tail.decode("utf-8", "replace"))


_READ_AHEAD = 24  # frames decoded ahead of the analysis (about 2.6 MB at the analysis size)


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


def format_start_time(path: str | os.PathLike[str], demuxer: str) -> float:
    """The container's start time in seconds (0 when unknown): what `ffmpeg -ss` counts from."""
    data = sandbox.ffprobe(Path(path), demuxer)
    try:
        value = float((data.get("format") or {}).get("start_time") or 0.0)
    except (TypeError, ValueError):
        return 0.0
    return value if np.isfinite(value) else 0.0
