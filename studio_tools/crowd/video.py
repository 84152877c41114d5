"""Frames in and out of ffmpeg as numpy arrays, for tools that work frame by frame.

Reading a plate goes through the media layer's one frame reader (`studio_tools.media.reader`): its
hardened, sandboxed decode, its constant-rate timeline at the probe's measured rate (so an AVI whose
header claims twice its rate, or a variable-rate phone clip, gives the plate's true frames), display
orientation and square pixels. The crowd tool therefore works, and writes its outputs, in the plate's
display geometry at its true rate and frame count. Writing only ever reads our own raw frames from a
pipe, so the encoders need no input hardening, but they get the sandbox's limits and are killed with
their group on any failure.

The writers run their pipe I/O on a thread, so Python composes frame t+1 while ffmpeg encodes frame t;
pipes are widened to 1 MiB, and big frames can be recycled through a `BufferPool`. The analysis pass
can also keep the full-size frames in a scratch file (`FrameFile`) for later passes.
"""

from __future__ import annotations

import fcntl
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from studio_tools.crowd.colour import Yuv, YuvFrame
from studio_tools.media import reader as media_reader
from studio_tools.media import sandbox
from studio_tools.media.errors import MediaLimitExceeded, MediaToolError
from studio_tools.media.probe import MediaInfo

QUEUE_FRAMES = 3
YUV_FORMAT = "yuv422p10le"  # full-resolution passes work in the plate's own kind of pixels (see colour.py)
YUVA_FORMAT = "yuva444p10le"  # ProRes 4444's own format: the layer is handed over in it, no conversion in ffmpeg
_END = object()
_PIPE_BYTES = 1 << 20  # frames are megabytes: a bigger pipe buffer than the default 64 KiB halves the copying cost
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)


def _widen_pipe(stream) -> None:
    """Ask for a 1 MiB pipe buffer (fewer, larger transfers); the default stays if the system refuses."""
    if stream is None:
        return
    try:
        fcntl.fcntl(stream.fileno(), _F_SETPIPE_SZ, _PIPE_BYTES)
    except OSError:
        pass


@dataclass(frozen=True)
class PlateVideo:
    """What the crowd tool needs to know about one probed video input."""

    path: Path
    name: str  # the user's name for it, for messages
    info: MediaInfo
    width: int
    height: int
    frame_rate: str  # exact rational, e.g. "25/1"
    fps: float
    frame_count: int | None
    duration: float

    @property
    def stream_index(self) -> int:
        assert self.info.video is not None
        return self.info.video.index


def colour_matrix(video: PlateVideo) -> tuple[str, str, list[str]]:
    """The YUV matrix and range used both to decode a plate and to encode what is made from it, and the
    tags to write.

    The same conversion both ways keeps untouched pixels where they were; an untagged plate stays
    untagged (and is read as BT.601 limited range, as ffmpeg reads it).
    """
    v = video.info.video
    full = v is not None and (v.colour_range == "pc" or (v.pix_fmt or "").startswith("yuvj"))
    value_range = "pc" if full else "tv"
    space = (v.colour_space if v else None) or ""
    matrices = {
        "bt709": "bt709",
        "bt470bg": "bt601",
        "smpte170m": "bt601",
        "bt2020nc": "bt2020",
        "fcc": "fcc",
        "smpte240m": "smpte240m",
    }
    matrix = matrices.get(space)
    tags: list[str] = ["-color_range", "pc"] if full else []
    if matrix is None or v is None:
        return "bt601", value_range, tags
    tags += ["-colorspace", space]
    for flag, value in (("-color_primaries", v.colour_primaries), ("-color_trc", v.colour_transfer)):
        if value:
            tags += [flag, value]
    return matrix, value_range, tags


def yuv_for(video: PlateVideo) -> Yuv:
    """The conversion between the plate's YUV and BGR patches."""
    matrix, value_range, _tags = colour_matrix(video)
    return Yuv(matrix, value_range == "pc")


def _limits(duration: float, frames_hint: int | None, width: int, height: int) -> sandbox.Limits:
    # Compositing runs well below realtime on big frames and the encoders wait on us, so their wall
    # clock grows with the work per frame, not only with the clip's length.
    megapixel_frames = (frames_hint or duration * 30) * width * height / 1e6
    wall = 300.0 + 12.0 * duration + 0.5 * megapixel_frames
    return sandbox.Limits(
        wall_seconds=wall, cpu_seconds=wall * sandbox.THREADS, memory_bytes=4 * sandbox.GiB, file_size_bytes=64 * sandbox.GiB
    )


def _spawn(
    argv: list[str],
    limits: sandbox.Limits,
    *,
    stdin: int | None,
    stdout: int | None,
    stderr,
    pass_fds: Sequence[int] = (),
) -> subprocess.Popen[bytes]:
    try:
        proc = subprocess.Popen(
            argv,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            env=sandbox._child_env(),
            start_new_session=True,
            preexec_fn=sandbox._limit_child(limits),
            close_fds=True,
            pass_fds=tuple(pass_fds),
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise MediaToolError(f"could not start ffmpeg: {exc}") from exc
    _widen_pipe(proc.stdin if stdin == subprocess.PIPE else None)
    _widen_pipe(proc.stdout if stdout == subprocess.PIPE else None)
    return proc


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, 9)
        except ProcessLookupError:
            pass
    proc.wait()


def _tail(errfile) -> str:
    errfile.seek(0)
    text = errfile.read()[-4000:].decode("utf-8", errors="replace").strip()
    return text


def read_frames(
    video: PlateVideo,
    size: tuple[int, int] | None = None,
    *,
    pix_fmt: str = "bgr24",
    check: Callable[[], None] | None = None,
) -> Iterator[Any]:
    """The plate's frames through the media reader: on its constant-rate timeline at the probed rate, in display
    orientation with square pixels, at `size` (default: the plate's display size, `video.width` x `video.height`).

    BGR uint8 arrays, or, with pix_fmt=YUV_FORMAT, YuvFrames at the plate's size; both read only (copy before drawing).
    `check` (e.g. progress.check_cancelled) runs per frame.
    """
    if pix_fmt not in ("bgr24", YUV_FORMAT) or (pix_fmt == YUV_FORMAT and size not in (None, (video.width, video.height))):
        raise ValueError(f"cannot read {pix_fmt} at {size}")
    width, height = size or (video.width, video.height)
    if pix_fmt == YUV_FORMAT:
        # YUV to YUV: chroma and bit depth (and the display geometry) only; the matrix and range stay the plate's
        flags = "bicubic+accurate_rnd"
    else:
        # swscale's default YUV->RGB path is about 1.3 levels dark; accurate rounding with full chroma is exact to rounding
        flags = "area+accurate_rnd+full_chroma_int"
    stream = media_reader.read_frames(
        video.path,
        video.info,
        size=(width, height),
        pix_fmt=pix_fmt,
        limits=_limits(video.duration, video.frame_count, width, height),
        scale_flags=flags,
    )
    try:
        for frame in stream:
            if check is not None:
                check()
            if pix_fmt == YUV_FORMAT:
                yield YuvFrame.from_buffer(frame.image.view("<u2"), width, height)
            else:
                yield frame.image
    except MediaToolError as exc:
        raise MediaToolError(f"reading {video.name} failed: {exc}") from exc
    finally:
        stream.close()


def reduced_bgr(yuv: Yuv, frame: YuvFrame, size: tuple[int, int]) -> np.ndarray:
    """A full-size YUV frame as BGR uint8 at `size` (area-averaged down, or the same size): planes are resized first,
    so only the small picture is converted."""
    width, height = size
    shrink = cv2.INTER_AREA
    y = frame.y if (width, height) == (frame.width, frame.height) else cv2.resize(frame.y, size, interpolation=shrink)
    # chroma sample i sits between luma columns 2i and 2i + 1: resizing the plane over the same extent keeps it there
    chroma = shrink if width <= frame.width // 2 else cv2.INTER_CUBIC
    u, v = (cv2.resize(plane, size, interpolation=chroma) for plane in (frame.u, frame.v))
    bgr = yuv.to_bgr(y, u, v)
    np.add(bgr, 0.5, out=bgr)
    np.clip(bgr, 0, 255, out=bgr)
    return bgr.astype(np.uint8)


def read_analysis_frames(
    video: PlateVideo,
    size: tuple[int, int],
    *,
    check: Callable[[], None] | None = None,
    keep: Path | None = None,
) -> Iterator[np.ndarray]:
    """BGR uint8 frames at `size` made from one decode of the plate's full-size YUV frames (see `read_frames`).

    With `keep`, the same decode also writes every full-size frame, as raw yuv422p10le, to that file on a thread
    (complete once the iteration has ended; see `FrameFile`); if that fails the file is removed and the reading goes on.
    """
    yuv = yuv_for(video)
    try:
        kept = _KeptFrames(keep) if keep is not None else None
    except OSError:
        kept = None  # the kept frames are only ever an optimisation
    finished = False
    try:
        for frame in read_frames(video, pix_fmt=YUV_FORMAT, check=check):
            if kept is not None:
                kept.add(frame.data)
            yield reduced_bgr(yuv, frame, size)
        finished = True
    finally:
        if kept is not None:
            kept.close(complete=finished)


class _KeptFrames:
    """Writes frames to a file on a thread of its own, so the page cache work overlaps the analysis."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._queue: queue.Queue = queue.Queue(maxsize=QUEUE_FRAMES + 1)
        self._failed = threading.Event()
        self._handle = open(self.path, "wb", buffering=0)  # noqa: SIM115 - closed by the thread
        self._thread = threading.Thread(target=self._pump, name="crowd-keeper", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        try:
            while (item := self._queue.get()) is not _END:
                if self._failed.is_set():
                    continue
                try:
                    data = memoryview(item).cast("B")
                    while data:
                        data = data[self._handle.write(data) :]
                except OSError:
                    self._failed.set()  # the kept frames are only ever an optimisation
        finally:
            self._handle.close()

    def add(self, data: np.ndarray) -> None:
        """Queue one frame (it must not change afterwards: the media reader's frames never do)."""
        if not self._failed.is_set():
            self._queue.put(data)

    def close(self, *, complete: bool) -> None:
        self._queue.put(_END)
        self._thread.join()
        if not complete or self._failed.is_set():
            self.path.unlink(missing_ok=True)  # whoever wanted the frames decodes again


class FrameWriter:
    """Feed raw frames of one pixel format to an ffmpeg that writes one or more outputs.

    `output_args` is everything after the input (codecs, filters, output paths); `input_args` describe the
    raw frames (e.g. their colour tags, which only reach the outputs when set on the input). Frames are queued
    and written from a thread, so a frame must not be changed after `write()` until its `done` callback
    (if given) has been called from that thread; `close()` waits for ffmpeg and raises if it failed,
    `abort()` kills it.
    """

    def __init__(
        self,
        output_args: Sequence[str],
        *,
        width: int,
        height: int,
        pix_fmt: str,
        frame_rate: str,
        limits: sandbox.Limits,
        label: str,
        input_args: Sequence[str] = (),
    ) -> None:
        self.label = label
        self._channels = {"bgr24": 3, "bgra": 4, "gray": 1, YUV_FORMAT: 0, YUVA_FORMAT: 0}[pix_fmt]
        if pix_fmt == YUV_FORMAT:
            self._shape, self._dtype = (2 * width * height,), np.uint16
        elif pix_fmt == YUVA_FORMAT:
            self._shape, self._dtype = (4 * width * height,), np.uint16
        else:
            self._shape = (height, width, self._channels) if self._channels > 1 else (height, width)
            self._dtype = np.uint8
        argv = [
            sandbox.binary("ffmpeg"), "-nostdin", "-hide_banner", "-nostats", "-loglevel", "error", "-y",
            "-f", "rawvideo", "-pix_fmt", pix_fmt, "-s", f"{width}x{height}", "-framerate", frame_rate, *input_args,
            "-i", "pipe:0",
            *output_args,
        ]  # fmt: skip
        self._limits = limits
        self._err = tempfile.TemporaryFile()
        self._proc = _spawn(argv, limits, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._err)
        self._started = time.monotonic()
        self._queue: queue.Queue = queue.Queue(maxsize=QUEUE_FRAMES)
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._pump, name=f"crowd-writer-{label}", daemon=True)
        self._thread.start()
        self.frames = 0

    def _pump(self) -> None:
        assert self._proc.stdin is not None
        try:
            while True:
                item = self._queue.get()
                if item is _END:
                    break
                frame, done = item
                try:
                    if self._failure is None:
                        self._proc.stdin.write(memoryview(frame).cast("B"))
                finally:
                    if done is not None:
                        done()
        except BaseException as exc:  # noqa: BLE001 - reported by write()/close()
            self._failure = exc
            # keep draining so a producer blocked on put() is released (and its buffers come back)
            while (item := self._queue.get()) is not _END:
                if item[1] is not None:
                    item[1]()
        finally:
            try:
                self._proc.stdin.close()
            except OSError:
                pass

    def write(self, frame: np.ndarray | YuvFrame, done: Callable[[], None] | None = None) -> None:
        """Queue one frame; `done()` is called (from the writer's thread) once ffmpeg has it or it is dropped."""
        if isinstance(frame, YuvFrame):
            frame = frame.data
        if frame.shape != self._shape or frame.dtype != self._dtype:
            raise ValueError(f"{self.label}: frame of shape {frame.shape} {frame.dtype}, expected {self._shape} {self._dtype}")
        self.check()
        self._queue.put((np.ascontiguousarray(frame), done))
        self.frames += 1

    def check(self) -> None:
        """Raise if the encoder has failed or run out of time (for a producer waiting on something else)."""
        if self._failure is not None or self._proc.poll() not in (None, 0):
            self._raise("stopped while writing")
        if time.monotonic() - self._started > self._limits.wall_seconds:
            self.abort()
            raise MediaLimitExceeded(
                f"Encoding the {self.label} took longer than {self._limits.wall_seconds:.0f} seconds.", limit="wall"
            )

    def close(self) -> None:
        self._queue.put(_END)
        self._thread.join()
        remaining = max(1.0, self._limits.wall_seconds - (time.monotonic() - self._started))
        try:
            code = self._proc.wait(timeout=remaining)
        except subprocess.TimeoutExpired:
            self.abort()
            raise MediaLimitExceeded(f"Encoding the {self.label} did not finish in time.", limit="wall") from None
        if code != 0 or self._failure is not None:
            self._raise(f"exited with status {code}")
        self._err.close()

    def abort(self) -> None:
        _kill(self._proc)
        try:
            self._queue.put_nowait(_END)
        except queue.Full:
            pass
        if not self._err.closed:
            self._err.close()

    def _raise(self, what: str) -> None:
        stderr = _tail(self._err) if not self._err.closed else ""
        _kill(self._proc)
        raise MediaToolError(f"ffmpeg writing the {self.label} {what}", returncode=self._proc.returncode, stderr=stderr)


def writer_limits(duration: float, frames: int, width: int, height: int) -> sandbox.Limits:
    return _limits(duration, frames, width, height)


class BufferPool:
    """A fixed set of reusable frames handed out by `get()` and given back by `put()` (e.g. from a writer's
    `done` callback), so big frames are not allocated and paged in again for every picture."""

    def __init__(self, items: Sequence[Any]) -> None:
        self._free: queue.Queue = queue.Queue()
        for item in items:
            self._free.put(item)

    def get(self, waiting: Callable[[], None] = lambda: None) -> Any:
        """The next free item; `waiting()` runs every half second meanwhile (to raise if a writer died)."""
        while True:
            try:
                return self._free.get(timeout=0.5)
            except queue.Empty:
                waiting()

    def take(self, timeout: float) -> Any | None:
        """The next free item, or None if none came back within `timeout` seconds."""
        try:
            return self._free.get(timeout=timeout)
        except queue.Empty:
            return None

    def put(self, item: Any) -> None:
        self._free.put(item)


class FrameFile:
    """A plate's full-size frames as raw yuv422p10le in a scratch file, written by the analysis pass
    (`read_frames(..., keep=path)`), so later passes read them back instead of decoding the plate again:
    the same pixels, bit for bit, without a decoder or a colour conversion. Costs 4 bytes per pixel and frame
    of disk (or page cache), so the tool only keeps plates that fit its budget (see `keep_budget`)."""

    def __init__(self, path: Path, width: int, height: int, count: int) -> None:
        self.path = Path(path)
        self.width, self.height, self.count = width, height, count
        self.frame_bytes = YuvFrame.frame_bytes(width, height)
        size = self.path.stat().st_size
        if size != count * self.frame_bytes:
            raise MediaToolError(f"kept frames of {count} frames hold {size} bytes, not {count * self.frame_bytes}")
        self._map = np.memmap(self.path, dtype="<u2", mode="r", shape=(count, 2 * width * height)) if count else None

    def discard(self) -> None:
        """Done with the frames: the file goes, on a thread of its own (freeing gigabytes of page cache takes a
        moment that nothing needs to wait for)."""
        self._map = None
        path = self.path
        threading.Thread(target=lambda: path.unlink(missing_ok=True), name="crowd-discard", daemon=True).start()

    def view(self, index: int) -> YuvFrame:
        """Frame `index`, read only, straight from the file (pages are read as they are touched)."""
        assert self._map is not None
        return YuvFrame.from_buffer(self._map[index], self.width, self.height)

    def stream(
        self, check: Callable[[], None] | None = None, buffers: int = 3 * QUEUE_FRAMES + 1
    ) -> Iterator[tuple[YuvFrame, Callable[[], None]]]:
        """Writable copies of the frames in order, read ahead on a thread into `buffers` reusable buffers. Each comes
        with the callback that gives its buffer back once nothing uses the frame any more (e.g. an encoder has it)."""
        pool = BufferPool([np.empty(2 * self.width * self.height, np.uint16) for _ in range(max(2, buffers))])
        ready: queue.Queue = queue.Queue()
        stop = threading.Event()
        failure: list[BaseException] = []

        def pump() -> None:
            try:
                with open(self.path, "rb", buffering=0) as handle:
                    for _ in range(self.count):
                        buffer = None
                        while buffer is None and not stop.is_set():
                            buffer = pool.take(timeout=0.2)
                        if buffer is None:
                            return
                        view = memoryview(buffer).cast("B")
                        filled = 0
                        while filled < self.frame_bytes:
                            got = handle.readinto(view[filled:])
                            if not got:
                                raise MediaToolError(f"kept frames in {self.path.name} ended early")
                            filled += got
                        ready.put(buffer)
            except BaseException as exc:  # noqa: BLE001 - handed to the consumer
                failure.append(exc)
            finally:
                ready.put(_END)

        thread = threading.Thread(target=pump, name="crowd-kept-frames", daemon=True)
        thread.start()
        try:
            while (item := ready.get()) is not _END:
                if check is not None:
                    check()
                yield YuvFrame.from_buffer(item, self.width, self.height), partial(pool.put, item)
            if failure:
                raise MediaToolError(f"reading kept frames failed: {failure[0]}")
        finally:
            stop.set()
            thread.join(timeout=5)


def keep_budget(folder: Path, frames: int, width: int, height: int, limit: int) -> bool:
    """Whether `frames` full-size frames may be kept in `folder`: under `limit` bytes and under half its free space."""
    need = frames * YuvFrame.frame_bytes(width, height)
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return False
    return need <= limit and need <= free // 2
