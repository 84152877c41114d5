"""Thumbnails of moments, as one sprite sheet (a grid of equal tiles) the run page crops with CSS.

One frame per moment (its middle), read by the media reader (upright, square pixels, found by its
index on the episode's constant-rate timeline), scaled to fit the tile and letterboxed, then laid out
left to right, top to bottom. One JPEG for all moments keeps
the report small and the page to a single request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from studio_tools.media import MediaInfo
from studio_tools.media.errors import MediaToolError
from studio_tools.media.reader import frame_index_at, read_frame
from studio_tools.media.sandbox import Limits
from studio_tools.recap.analysis import format_start_time

TILE_WIDTH = 192
TILE_HEIGHT = 108
COLUMNS = 8
_LIMITS = Limits(wall_seconds=120.0)


@dataclass(frozen=True)
class Grab:
    path: Path
    info: MediaInfo
    time: float  # seconds from the container's start, as the analysis counts


@dataclass(frozen=True)
class Sprite:
    path: Path
    count: int
    columns: int
    rows: int
    tile_width: int = TILE_WIDTH
    tile_height: int = TILE_HEIGHT

    def to_dict(self) -> dict:
        return {
            "file": self.path.name,
            "count": self.count,
            "columns": self.columns,
            "rows": self.rows,
            "tile_width": self.tile_width,
            "tile_height": self.tile_height,
        }


def frame(grab: Grab, width: int = TILE_WIDTH, height: int = TILE_HEIGHT, *, first_frame: float | None = None) -> np.ndarray:
    """The frame at `grab.time`, fitted into width x height (BGR); black when the file has none there.

    `first_frame` is the first frame's time counted from the container's start (asked of the file when not given)."""
    tile = np.zeros((height, width, 3), np.uint8)
    video = grab.info.video
    if video is None:
        return tile
    shown_w = video.display_width or round(video.width * video.pixel_aspect_ratio)
    shown_h = video.display_height or video.height
    scale = min(width / shown_w, height / shown_h)
    fit_w, fit_h = max(2, min(width, round(shown_w * scale))), max(2, min(height, round(shown_h * scale)))
    if first_frame is None:
        first_frame = video.first_frame_time - format_start_time(grab.path, grab.info.demuxer)
    index = frame_index_at(grab.info, max(0.0, grab.time - first_frame))
    last = (video.timeline_frame_count or index + 1) - 1
    try:
        got = read_frame(grab.path, grab.info, min(index, last), size=(fit_w, fit_h), limits=_LIMITS)
    except MediaToolError:
        return tile
    x, y = (width - fit_w) // 2, (height - fit_h) // 2
    tile[y : y + fit_h, x : x + fit_w] = got.image
    return tile


def sprite(grabs: list[Grab], dst: Path, *, cancelled: Callable[[], bool] | None = None, quality: int = 82) -> Sprite:
    """Write the sprite sheet of `grabs` (in order) to dst as JPEG."""
    count = len(grabs)
    columns = max(1, min(COLUMNS, count))
    rows = max(1, -(-count // columns))
    sheet = np.zeros((rows * TILE_HEIGHT, columns * TILE_WIDTH, 3), np.uint8)
    first_frames: dict[Path, float] = {}
    for i, grab in enumerate(grabs):
        if cancelled is not None and cancelled():
            break
        if grab.path not in first_frames and grab.info.video is not None:
            first_frames[grab.path] = grab.info.video.first_frame_time - format_start_time(grab.path, grab.info.demuxer)
        row, col = divmod(i, columns)
        tile = frame(grab, first_frame=first_frames.get(grab.path, 0.0))
        sheet[row * TILE_HEIGHT : (row + 1) * TILE_HEIGHT, col * TILE_WIDTH : (col + 1) * TILE_WIDTH] = tile
    ok, encoded = cv2.imencode(".jpg", sheet, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("could not encode the thumbnail sheet as JPEG")
    dst.write_bytes(encoded.tobytes())
    return Sprite(dst, count, columns, rows)
