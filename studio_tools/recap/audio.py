"""Loudness with ffmpeg's EBU R128 meter (`ebur128`), run through the media sandbox.

`momentary` gives the 400 ms momentary loudness every 100 ms, which is what a shot's "how loud is
it" is built from; `measure` gives a whole file's integrated loudness and true peak, which is what the
recap's normalisation is checked against.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass

import ffmpeg
import numpy as np

from studio_tools.media import sandbox
from studio_tools.media.sandbox import Limits

SILENCE_LUFS = -70.0  # the meter's absolute gate: below this is silence
_FRAME = re.compile(rb"pts_time:\s*([0-9.]+)")
_VALUE = re.compile(rb"^lavfi\.r128\.([A-Za-z_0-9]+)=(-?[0-9.]+|-?inf|nan)")


@dataclass(frozen=True)
class Loudness:
    integrated: float  # LUFS
    true_peak: float  # dBTP (max over channels)
    lra: float


def momentary(
    path: str | os.PathLike[str],
    demuxer: str,
    stream_index: int,
    *,
    duration: float | None,
    cancelled: Callable[[], bool] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(times in seconds, momentary loudness in LUFS) every 100 ms of the given audio stream."""
    inp = sandbox.ffmpeg_input(path, demuxer)
    metered = (
        inp[str(stream_index)].filter("ebur128", metadata=1).filter("ametadata", mode="print", key="lavfi.r128.M", file="pipe:1")
    )
    out = ffmpeg.output(metered, "-", f="null")
    done = sandbox.run_ffmpeg(out, limits=_limits(duration), cancelled=cancelled)
    times, values = [], []
    current: float | None = None
    for line in done.stdout.splitlines():
        frame = _FRAME.search(line)
        if frame:
            current = float(frame.group(1))
            continue
        value = _VALUE.match(line.strip())
        if value and current is not None and value.group(1) == b"M":
            times.append(current)
            values.append(_number(value.group(2)))
    return np.asarray(times, dtype=np.float64), np.asarray(values, dtype=np.float64)


def measure(
    path: str | os.PathLike[str],
    demuxer: str,
    stream_index: int,
    *,
    duration: float | None,
    cancelled: Callable[[], bool] | None = None,
) -> Loudness:
    """Integrated loudness, true peak and loudness range of one audio stream (the meter's final values)."""
    inp = sandbox.ffmpeg_input(path, demuxer)
    metered = inp[str(stream_index)].filter("ebur128", metadata=1, peak="true").filter("ametadata", mode="print", file="pipe:1")
    out = ffmpeg.output(metered, "-", f="null")
    done = sandbox.run_ffmpeg(out, limits=_limits(duration, stdout=True), cancelled=cancelled)
    integrated, lra, peaks = SILENCE_LUFS, 0.0, {}
    for line in done.stdout.splitlines():
        value = _VALUE.match(line.strip())
        if not value:
            continue
        key, number = value.group(1).decode(), _number(value.group(2))
        if key == "I":
            integrated = number
        elif key == "LRA":
            lra = number
        elif key.startswith("true_peaks_ch"):
            peaks[key] = max(peaks.get(key, 0.0), number)  # linear, per frame: the file's peak is the largest
    peak_db = max((20 * math.log10(v) for v in peaks.values() if v > 0), default=-math.inf)
    return Loudness(integrated, peak_db if math.isfinite(peak_db) else -120.0, lra)


def mean_loudness(values: np.ndarray) -> float:
    """Power mean of LUFS values (how loud a span is overall), ignoring silence; SILENCE_LUFS if all silent."""
    loud = values[values > SILENCE_LUFS]
    if loud.size == 0:
        return SILENCE_LUFS
    return float(10 * np.log10(np.mean(10 ** (loud / 10))))


def _number(raw: bytes) -> float:
    try:
        value = float(raw)
    except ValueError:
        return SILENCE_LUFS
    if math.isnan(value) or value == -math.inf:
        return SILENCE_LUFS if raw.strip().startswith(b"-") or math.isnan(value) else value
    return value


def _limits(duration: float | None, *, stdout: bool = False) -> Limits:
    base = Limits.for_transcode(duration, realtime_factor=1.0)
    # Every 100 ms prints ~60 bytes (one key) or ~400 bytes (all keys); allow that with room to spare.
    seconds = max(duration or 0.0, 60.0)
    needed = int(seconds * 10 * (600 if stdout else 80)) + (1 << 20)
    return Limits(base.wall_seconds, base.cpu_seconds, base.memory_bytes, base.file_size_bytes, max(base.stdout_bytes, needed))
