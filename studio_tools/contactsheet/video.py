"""The contact sheet's view of its clip, read only through the media layer.

`probe_clip` accepts the clip with `studio_tools.media.probe` (measured rate and frame count, display
size after rotation and pixel aspect, start timecode); `read_cells` decodes the sampled frames with
the one frame reader (`studio_tools.media.reader`), which runs ffmpeg in the sandbox, numbers frames
on a constant-rate timeline at the true rate and hands them over in display orientation with square
pixels. Nothing here starts a process of its own.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from studio_tools.core import BadInput
from studio_tools.core.messages import define, message
from studio_tools.media import MediaCancelled, MediaInfo, MediaRejected, MediaToolError, probe, reader

# Samples closer than this many frames are read in one pass instead of one seek each: decoding a few
# frames at thumbnail size costs less than starting ffmpeg and seeking again.
_ONE_PASS_GAP_SECONDS = 2.0
_CANCEL_POLL = 0.25  # seconds between the caller's cancel checks while frames decode

define("contactsheet.still", "{name} is a still image, not a video")
define("contactsheet.no_video", "{name} has no video stream (it is {kind})")
define("contactsheet.no_rate", "{name} has no frames with a known rate")


def probe_clip(path: Path, display_name: str) -> MediaInfo:
    """Accept the clip through the media layer; BadInput with the user's file name if it is not a video."""
    try:
        info = probe(path, filename=display_name)
    except MediaRejected as exc:
        raise BadInput(f"{display_name}: {exc.reason}") from None
    if info.kind == "still":
        raise BadInput(message("contactsheet.still", name=display_name))
    if info.video is None:
        raise BadInput(message("contactsheet.no_video", name=display_name, kind=info.kind))
    if not info.video.frame_rate or not info.video.timeline_frame_count:
        raise BadInput(message("contactsheet.no_rate", name=display_name))
    return info


def read_cells(
    path: Path,
    info: MediaInfo,
    frames: list[int],
    size: tuple[int, int],
    *,
    cancelled: Callable[[], bool] | None = None,
    workers: int = 1,
) -> Iterator[tuple[int, np.ndarray | None, str | None]]:
    """(frame, RGB image at `size`, None) for each distinct frame number asked for, or (frame, None,
    why not) for one that could not be decoded: one damaged spot costs one cell.

    Neighbouring frames are read in one pass, distant ones each after a seek; with `workers` > 1
    that many passes run at once and cells come in the order they are decoded. `cancelled` is only
    ever called on the caller's thread (a portal's cancel check may use its database connection);
    when it turns true every decoder is killed and MediaCancelled is raised.
    """
    runs = _runs(sorted(set(frames)), max(2, round(float(info.video.fps or 25.0) * _ONE_PASS_GAP_SECONDS)))
    if workers <= 1 or len(runs) == 1:
        for run in runs:
            yield from _read_run(path, info, run, size, cancelled)
        return
    results: queue.Queue[tuple[int, np.ndarray | None, str | None] | BaseException | None] = queue.Queue()
    stop = threading.Event()

    def work(run: list[int]) -> None:
        try:
            for item in _read_run(path, info, run, size, stop.is_set):
                results.put(item)
        except BaseException as exc:  # handed to the caller's thread, raised there
            results.put(exc)
        finally:
            results.put(None)

    pool = ThreadPoolExecutor(max_workers=min(workers, len(runs)), thread_name_prefix="contactsheet")
    try:
        for run in runs:
            pool.submit(work, run)
        running = len(runs)
        while running:
            if cancelled is not None and cancelled():
                raise MediaCancelled("the contact sheet was cancelled")
            try:
                item = results.get(timeout=_CANCEL_POLL)
            except queue.Empty:
                continue
            if item is None:
                running -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item
    finally:
        stop.set()  # passes still decoding are killed, not waited for
        pool.shutdown(wait=True, cancel_futures=True)


def _runs(wanted: list[int], gap: int) -> list[list[int]]:
    runs: list[list[int]] = []
    for index in wanted:
        if runs and index - runs[-1][-1] <= gap:
            runs[-1].append(index)
        else:
            runs.append([index])
    return runs


def _read_run(
    path: Path, info: MediaInfo, run: list[int], size: tuple[int, int], cancelled: Callable[[], bool] | None
) -> Iterator[tuple[int, np.ndarray | None, str | None]]:
    left = set(run)
    problem = "no frame at this point of the clip"
    stream = reader.read_frames(path, info, start=run[0], stop=run[-1] + 1, size=size, pix_fmt="rgb24", cancelled=cancelled)
    try:
        for frame in stream:
            if frame.index in left:
                left.discard(frame.index)
                yield frame.index, frame.image, None
    except MediaToolError as exc:
        problem = str(exc).splitlines()[0][:200]
    finally:
        stream.close()
    for index in sorted(left):
        yield index, None, problem
