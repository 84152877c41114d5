"""Thumbnails of moments, as one sprite sheet (a grid of equal tiles) the run page crops with CSS.

One frame per moment (its middle), grabbed by a hardened ffmpeg with an input seek, scaled to fit
the tile and letterboxed, then laid out left to right, top to bottom. One JPEG for all moments keeps
the report small and the page to a single request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import ffmpeg
import numpy as np

from studio_tools.media import sandbox
from studio_tools.media.sandbox import Limits

TILE_WIDTH = 192
TILE_HEIGHT = 108
COLUMNS = 8
_LIMITS = Limits(wall_seconds=120.0, stdout_bytes=TILE_WIDTH * TILE_HEIGHT * 3 + 1024)


@dataclass(frozen=True)
class Grab:
    path: Path
    demuxer: str
    video_index: int
    time: float


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


def frame(grab: Grab, width: int = TILE_WIDTH, height: int = TILE_HEIGHT) -> np.ndarray:
    """The frame at `grab.time`, fitted into width x height (BGR); black when the file has none there."""
    inp = sandbox.ffmpeg_input(grab.path, grab.demuxer, ss=f"{max(0.0, grab.time):.3f}")
    picture = (
        inp[str(grab.video_index)]
        .filter("scale", width, height, force_original_aspect_ratio="decrease")
        .filter("pad", width, height, "(ow-iw)/2", "(oh-ih)/2")
        .filter("setsar", 1)
    )
    out = ffmpeg.output(picture, "pipe:", format="rawvideo", pix_fmt="bgr24", vframes=1)
    args = ffmpeg.get_args(out)
    sandbox._assert_hardened(args)  # noqa: SLF001 - the sandbox's own check, reused on purpose
    argv = [sandbox.binary("ffmpeg"), "-nostdin", "-hide_banner", "-loglevel", "error", *args]
    done = sandbox.run(argv, limits=_LIMITS)
    data = done.stdout
    if len(data) < width * height * 3:
        return np.zeros((height, width, 3), np.uint8)
    return np.frombuffer(data[: width * height * 3], np.uint8).reshape(height, width, 3)


def sprite(grabs: list[Grab], dst: Path, *, cancelled: Callable[[], bool] | None = None, quality: int = 82) -> Sprite:
    """Write the sprite sheet of `grabs` (in order) to dst as JPEG."""
    count = len(grabs)
    columns = max(1, min(COLUMNS, count))
    rows = max(1, -(-count // columns))
    sheet = np.zeros((rows * TILE_HEIGHT, columns * TILE_WIDTH, 3), np.uint8)
    for i, grab in enumerate(grabs):
        if cancelled is not None and cancelled():
            break
        row, col = divmod(i, columns)
        sheet[row * TILE_HEIGHT : (row + 1) * TILE_HEIGHT, col * TILE_WIDTH : (col + 1) * TILE_WIDTH] = frame(grab)
    ok, encoded = cv2.imencode(".jpg", sheet, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("could not encode the thumbnail sheet as JPEG")
    dst.write_bytes(encoded.tobytes())
    return Sprite(dst, count, columns, rows)
