"""The contact sheet's view of its clip, read only through the media layer.

`probe_clip` accepts the clip with `studio_tools.media.probe` (measured rate and frame count, display
size after rotation and pixel aspect, start timecode); `read_cells` decodes the sampled frames with
the one frame reader (`studio_tools.media.reader`), which runs ffmpeg in the sandbox, numbers frames
on a constant-rate timeline at the true rate and hands them over in display orientation with square
pixels. Nothing here starts a process of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from studio_tools.core import BadInput
from studio_tools.media import MediaInfo, MediaRejected, MediaToolError, probe, reader

# Samples closer than this many frames are read in one pass instead of one seek each: decoding a few
# frames at thumbnail size costs less than starting ffmpeg and seeking again.
_ONE_PASS_GAP_SECONDS = 2.0


def probe_clip(path: Path, display_name: str) -> MediaInfo:
    """Accept the clip through the media layer; BadInput with the user's file name if it is not a video."""
    try:
        info = probe(path, filename=display_name)
    except MediaRejected as exc:
        raise BadInput(f"{display_name}: {exc.reason}") from None
    if info.kind == "still":
        raise BadInput(f"{display_name} is a still image, not a video")
    if info.video is None:
        raise BadInput(f"{display_name} has no video stream (it is {info.kind})")
    if not info.video.frame_rate or not info.video.timeline_frame_count:
        raise BadInput(f"{display_name} has no frames with a known rate")
    return info


def read_cells(
    path: Path,
    info: MediaInfo,
    frames: list[int],
    size: tuple[int, int],
    *,
    cancelled: Callable[[], bool] | None = None,
) -> Iterator[tuple[int, np.ndarray | None, str | None]]:
    """(frame, RGB image at `size`, None) for each distinct frame number asked for, in order, or
    (frame, None, why not) for one that could not be decoded: one damaged spot costs one cell.

    Neighbouring frames are read in one pass, distant ones each after a seek. Raises MediaCancelled
    when `cancelled()` turns true (the ffmpeg is killed at once).
    """
    wanted = sorted(set(frames))
    gap = max(2, round(float(info.video.fps or 25.0) * _ONE_PASS_GAP_SECONDS))
    runs: list[list[int]] = []
    for index in wanted:
        if runs and index - runs[-1][-1] <= gap:
            runs[-1].append(index)
        else:
            runs.append([index])
    for run in runs:
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
