"""The conformance matrix: small generated files, each frame carrying its own number as a bar pattern.

Frame n is a 4 x 3 grid of cells, white where bit k of n is set (k = row * 4 + column), so a test can
read back which frame it got after any scaling, chroma subsampling or compression, without OCR. Files
are made with ffmpeg from raw frames piped in, once per test session (see `matrix` in conftest.py).
Each entry says what a correct probe must report: the truth is what was encoded, not what ffprobe says.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

COLUMNS, ROWS = 4, 3
BITS = COLUMNS * ROWS


def bars(n: int, width: int, height: int) -> np.ndarray:
    """A grey (luma) frame showing the number n."""
    frame = np.full((height, width), 16, np.uint8)
    for k in range(BITS):
        if n >> k & 1:
            row, col = divmod(k, COLUMNS)
            frame[row * height // ROWS : (row + 1) * height // ROWS, col * width // COLUMNS : (col + 1) * width // COLUMNS] = 235
    return frame


def read_bars(image: np.ndarray) -> int:
    """The number a frame shows (grey or BGR/RGB; any size); the inner half of each cell is sampled."""
    grey = image.mean(axis=2) if image.ndim == 3 else image.astype(float)
    height, width = grey.shape
    n = 0
    for k in range(BITS):
        row, col = divmod(k, COLUMNS)
        y0, y1 = row * height / ROWS, (row + 1) * height / ROWS
        x0, x1 = col * width / COLUMNS, (col + 1) * width / COLUMNS
        cell = grey[int(y0 + (y1 - y0) / 4) : int(y1 - (y1 - y0) / 4), int(x0 + (x1 - x0) / 4) : int(x1 - (x1 - x0) / 4)]
        if cell.mean() > 125:
            n |= 1 << k
    return n


@dataclass(frozen=True)
class Spec:
    name: str  # file name, extension included
    rate: str  # true frame rate
    frames: int  # frames encoded (before `drop`)
    encode: tuple[str, ...] = ("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p")
    width: int = 192
    height: int = 108
    drop: frozenset[int] = frozenset()  # frame numbers left out: a variable-rate file
    audio: str | None = None  # a lavfi audio source
    audio_encode: tuple[str, ...] = ()
    remux: tuple[str, ...] = ()  # a second pass with -c copy and these options (rotation metadata)
    header_rate: str | None = None  # what the container will wrongly claim
    rotation: int = 0  # clockwise degrees a player turns it
    pixel_aspect: str = "1:1"
    display: tuple[int, int] | None = None
    start_timecode: str | None = None
    field_order: str | None = "progressive"
    variable: bool = False
    tags: tuple[str, ...] = field(default=())

    @property
    def frame_count(self) -> int:
        return self.frames - len(self.drop)

    @property
    def display_size(self) -> tuple[int, int]:
        return self.display or (self.width, self.height)


_X264 = ("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p")

SPECS: tuple[Spec, ...] = (
    Spec("r23976.mp4", "24000/1001", 48),
    Spec("r24.mov", "24/1", 48),
    Spec("r25.mkv", "25/1", 50),
    Spec("r2997df.mov", "30000/1001", 60, encode=(*_X264, "-timecode", "01:00:00;00"), start_timecode="01:00:00;00"),
    Spec("r50.mp4", "50/1", 100),
    Spec("r5994.mp4", "60000/1001", 120),
    Spec("vfr.mkv", "25/1", 60, drop=frozenset({7, 8, 20, 31, 32, 33, 45}), variable=True),
    Spec("vfr.mp4", "30/1", 60, drop=frozenset({5, 6, 30, 41}), variable=True),
    Spec(
        "avi_packed.avi",
        "25/1",
        50,
        encode=("-c:v", "mpeg4", "-bf", "2", "-q:v", "3", "-enc_time_base", "1/50"),
        header_rate="50/1",
        field_order=None,
    ),
    Spec("rot90.mp4", "25/1", 25, remux=("-metadata:s:v:0", "rotate=270"), rotation=90, display=(108, 192)),
    Spec("rot180.mp4", "25/1", 25, remux=("-metadata:s:v:0", "rotate=180"), rotation=180),
    Spec("rot270.mp4", "25/1", 25, remux=("-metadata:s:v:0", "rotate=90"), rotation=270, display=(108, 192)),
    Spec(
        "anamorphic_16x11.mp4",
        "25/1",
        25,
        width=176,
        height=144,
        encode=(*_X264, "-vf", "setsar=16/11"),
        pixel_aspect="16:11",
        display=(256, 144),
    ),
    Spec(
        "letterbox_4x3_in_16x9.mov",
        "25/1",
        25,
        width=144,
        height=108,
        encode=(*_X264, "-vf", "setsar=4/3"),
        pixel_aspect="4:3",
        display=(192, 108),
    ),
    Spec(
        "interlaced_tff.mp4",
        "25/1",
        25,
        encode=(*_X264, "-flags", "+ildct+ilme", "-x264opts", "tff=1"),
        field_order="tt",
    ),
    Spec("audio_mono.mp4", "25/1", 50, audio="sine=frequency=440:sample_rate=48000", audio_encode=("-c:a", "aac", "-ac", "1")),
    Spec(
        "audio_51.mov",
        "25/1",
        50,
        audio="sine=frequency=220:sample_rate=48000",
        audio_encode=("-c:a", "pcm_s16le", "-af", "pan=5.1|c0=c0|c1=c0|c2=c0|c3=c0|c4=c0|c5=c0"),
    ),
    Spec(
        "prores_422_10bit.mov",
        "24/1",
        24,
        encode=("-c:v", "prores_ks", "-profile:v", "2", "-pix_fmt", "yuv422p10le"),
    ),
)


def timeline(spec: Spec) -> list[int]:
    """Which encoded frame each slot of the constant-rate timeline shows: a dropped frame's slot
    repeats the frame before it."""
    kept = [n for n in range(spec.frames) if n not in spec.drop]
    return [max(n for n in kept if n <= slot) for slot in range(kept[0], kept[-1] + 1)]


def stored(upright: np.ndarray, spec: Spec) -> np.ndarray:
    """The picture to encode so that a player shows `upright` (display size, square pixels): turned back
    by the spec's rotation and squeezed to its stored size."""
    turned = np.ascontiguousarray(np.rot90(upright, k=spec.rotation // 90))
    if turned.shape[:2] == (spec.height, spec.width):
        return turned
    rows = np.arange(spec.height) * turned.shape[0] // spec.height
    columns = np.arange(spec.width) * turned.shape[1] // spec.width
    return np.ascontiguousarray(turned[rows][:, columns])


def make(spec: Spec, folder: Path, picture: Callable[[int], np.ndarray] | None = None) -> Path:
    """Encode `spec` into `folder`. Frame n shows bars(n), or `picture(n)` when given: a stored-size
    grey (height, width) or BGR (height, width, 3) frame (see `stored`)."""
    target = folder / spec.name
    rate = Fraction(spec.rate)
    draw = picture or (lambda n: bars(n, spec.width, spec.height))
    pix_fmt = "bgr24" if draw(0).ndim == 3 else "gray"
    cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
    cmd += ["-f", "rawvideo", "-pix_fmt", pix_fmt, "-s", f"{spec.width}x{spec.height}", "-framerate", spec.rate, "-i", "pipe:"]
    if spec.audio:
        cmd += ["-f", "lavfi", "-t", f"{float(spec.frames / rate):.3f}", "-i", spec.audio]
    if spec.drop:
        keep = "+".join(f"eq(n\\,{n})" for n in sorted(spec.drop))
        cmd += ["-vf", f"select=not({keep})", "-fps_mode", "vfr"]
    cmd += list(spec.encode) + list(spec.audio_encode)
    if spec.audio:
        cmd += ["-shortest"]
    first = target.with_name("pass1_" + spec.name) if spec.remux else target
    frames = b"".join(draw(n).tobytes() for n in range(spec.frames))
    subprocess.run([*cmd, str(first)], input=frames, check=True)
    if spec.remux:
        subprocess.run(
            ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(first), "-c", "copy", *spec.remux, str(target)],
            check=True,
        )
        first.unlink()
    return target


def make_all(folder: Path) -> dict[str, Path]:
    return {spec.name: make(spec, folder) for spec in SPECS}


def still(folder: Path) -> Path:
    target = folder / "still.png"
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "gray",
            "-s",
            "192x108",
            "-i",
            "pipe:",
            str(target),
        ],
        input=bars(1234, 192, 108).tobytes(),
        check=True,
    )
    return target
