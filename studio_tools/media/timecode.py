"""SMPTE timecode from frame numbers and back, exact for rational frame rates.

Any positive rational rate counts: the standard ones (23.976, 24, 25, 29.97, 30, 48, 50, 59.94, 60)
and others (12.5 counts like 12, 2400/89 like 27), so nothing that has a frame rate makes timecode
fail. A variable-frame-rate source has no frame-accurate SMPTE timecode at all: `source_rate` gives
the nominal rate to count it at (its timecode is then time x nominal rate, not a frame count) and says
so in a note for the report.

Drop-frame (29.97 = 30000/1001, 59.94 = 60000/1001) skips frame *labels* 00 and 01 (or 00-03
at 59.94) at the start of every minute except every tenth, so the label tracks wall-clock time;
no frame is dropped. Non-drop rates count plainly at their nominal rate (23.976 counts like 24).
The same arithmetic lives in static/js/timecode.js; a browser test holds the two to the same pairs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

_TC = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})([:;.,])(\d{2,3})$")


@dataclass(frozen=True)
class Rate:
    """A frame rate as a rational, with its nominal (integer) counting base and drop-frame flag."""

    rate: Fraction
    nominal: int
    drop_frame: bool

    @classmethod
    def parse(cls, value: str | Fraction | float | int | Rate, *, drop_frame: bool | None = None) -> Rate:
        if isinstance(value, Rate):
            return value if drop_frame is None or drop_frame == value.drop_frame else cls.parse(value.rate, drop_frame=drop_frame)
        rate = _fraction(value)
        if rate <= 0:
            raise ValueError(f"frame rate must be positive, not {value!r}")
        nominal = max(1, round(rate))
        can_drop = rate.denominator == 1001 and nominal in (30, 60)
        if drop_frame is None:
            drop_frame = can_drop  # SMPTE practice: 29.97 and 59.94 are drop-frame unless told otherwise
        elif drop_frame and not can_drop:
            raise ValueError(f"drop-frame timecode exists only for 29.97 and 59.94, not {value}")
        return cls(rate=rate, nominal=nominal, drop_frame=drop_frame)

    @property
    def dropped_per_minute(self) -> int:
        return (self.nominal // 30) * 2 if self.drop_frame else 0

    @property
    def text(self) -> str:
        """The rate as a rational string, "24000/1001" or "25/1"."""
        return f"{self.rate.numerator}/{self.rate.denominator}"


# The rates footage is made at; a measured rate within 2% of one of them is that rate (a phone's
# 29.87 average is 30000/1001). Beyond that the measured rate stands as it is.
STANDARD_RATES = tuple(
    Fraction(n, d) for n, d in ((24000, 1001), (24, 1), (25, 1), (30000, 1001), (30, 1), (48, 1), (50, 1), (60000, 1001), (60, 1))
)
_SNAP_TOLERANCE = 0.02


def _fraction(value: str | Fraction | float | int) -> Fraction:
    if isinstance(value, str):
        text = value.strip()
        return Fraction(text) if "/" in text else Fraction(text).limit_denominator(1001)
    return Fraction(value).limit_denominator(1001)


def standard_rate(value: str | Fraction | float | int) -> Fraction:
    """The standard rate `value` approximates (within 2%), else `value` itself as a rational."""
    rate = _fraction(value)
    if rate <= 0:
        raise ValueError(f"frame rate must be positive, not {value!r}")
    nearest = min(STANDARD_RATES, key=lambda s: abs(float(s) - float(rate)))
    if abs(float(nearest) - float(rate)) / float(rate) < _SNAP_TOLERANCE:
        return nearest
    return rate.limit_denominator(1001)


@dataclass(frozen=True)
class SourceRate:
    """What a source's timecode counts at: `rate`, and for a variable-frame-rate source, why (`note`)."""

    rate: Rate
    variable: bool = False
    note: str | None = None


def source_rate(
    frame_rate: str | Fraction | float | int | None,
    *,
    variable: bool = False,
    min_frame_duration: float | None = None,
    max_frame_duration: float | None = None,
    fps: float | None = None,
) -> SourceRate:
    """The rate a source's timecode is counted at.

    A constant-rate source counts at its true rate (`frame_rate`, the probe's measured rational, or
    `fps` when that is all there is), snapped to the standard rate it approximates. A variable-rate
    source counts at its nominal rate: the standard rate of its fastest stretch (1 / the shortest frame
    duration: the rate it was shot at before frames were dropped or held; of two that fit, the one
    nearer the probed `frame_rate`, which is the probe's nominal rate or an average), or of `frame_rate`
    when the shortest frame is implausibly short. Its timecode is then its time in seconds x the
    nominal rate, which the note says. Never raises for a positive rate."""
    if frame_rate:
        measured = _fraction(frame_rate)
    elif fps:
        measured = _fraction(fps)
    else:
        raise ValueError("a source needs a frame rate for timecode")
    if not variable:
        rate = standard_rate(measured)
        return SourceRate(Rate.parse(rate))
    fastest = Fraction(1) / _fraction(min_frame_duration) if min_frame_duration and min_frame_duration > 0 else None
    basis = fastest if fastest is not None and fastest <= 2 * measured else measured
    # Durations kept to the millisecond cannot tell 29.97 from 30 (both 33 ms): of the standard rates
    # that fit the basis, the one nearest to the probed rate.
    fitting = [r for r in STANDARD_RATES if abs(float(r) - float(basis)) / float(basis) < _SNAP_TOLERANCE]
    nominal = min(fitting, key=lambda r: abs(r - measured)) if fitting else standard_rate(basis)
    rate = Rate.parse(nominal)
    spacing = ""
    if min_frame_duration and max_frame_duration:
        spacing = f", frames {min_frame_duration * 1000:.0f} to {max_frame_duration * 1000:.0f} ms apart"
    note = (
        f"variable frame rate{spacing}: timecode is written at the nominal {_label(nominal)} fps, "
        "from each frame's time, not by counting frames"
    )
    return SourceRate(rate, variable=True, note=note)


def _label(rate: Fraction) -> str:
    return str(rate.numerator) if rate.denominator == 1 else f"{float(rate):.3f}".rstrip("0").rstrip(".")


def frames_to_timecode(frame: int, rate: Rate | str, *, drop_frame: bool | None = None) -> str:
    """Frame number (0 = 00:00:00:00) to SMPTE. Drop-frame uses ';' before the frames field."""
    rate = rate if isinstance(rate, Rate) else Rate.parse(rate, drop_frame=drop_frame)
    if frame < 0:
        raise ValueError("frame numbers start at 0")
    fps = rate.nominal
    if rate.drop_frame:
        drop = rate.dropped_per_minute
        per_ten_minutes = fps * 600 - drop * 9
        per_minute = fps * 60 - drop
        tens, rest = divmod(frame, per_ten_minutes)
        if rest < drop:
            frame += drop * 9 * tens
        else:
            frame += drop * 9 * tens + drop * ((rest - drop) // per_minute)
    frames = frame % fps
    seconds = (frame // fps) % 60
    minutes = (frame // (fps * 60)) % 60
    hours = (frame // (fps * 3600)) % 24
    separator = ";" if rate.drop_frame else ":"
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{separator}{frames:02d}"


def timecode_to_frames(timecode: str, rate: Rate | str, *, drop_frame: bool | None = None) -> int:
    """SMPTE to frame number; refuses labels that do not exist (e.g. 00:01:00;00 at 29.97 DF)."""
    match = _TC.match(timecode.strip())
    if not match:
        raise ValueError(f"“{timecode}” is not a timecode (HH:MM:SS:FF)")
    hours, minutes, seconds, separator, frames = match.groups()
    if drop_frame is None and separator in ";,.":
        drop_frame = True
    rate = rate if isinstance(rate, Rate) else Rate.parse(rate, drop_frame=drop_frame)
    h, m, s, f = int(hours), int(minutes), int(seconds), int(frames)
    fps = rate.nominal
    if m > 59 or s > 59 or f >= fps:
        raise ValueError(f"“{timecode}” is out of range at {fps} fps")
    total_minutes = h * 60 + m
    if rate.drop_frame:
        drop = rate.dropped_per_minute
        if s == 0 and f < drop and m % 10 != 0:
            raise ValueError(f"“{timecode}” does not exist in drop-frame timecode")
        return ((h * 3600 + m * 60 + s) * fps + f) - drop * (total_minutes - total_minutes // 10)
    return (h * 3600 + m * 60 + s) * fps + f


def frame_at(seconds: float, rate: Rate | str) -> int:
    """The frame showing at a time in seconds (floor, with a hair of tolerance for float input)."""
    rate = rate if isinstance(rate, Rate) else Rate.parse(rate)
    return int(Fraction(seconds).limit_denominator(10**6) * rate.rate + Fraction(1, 10**6))


def nearest_frame(seconds: float, rate: Rate | str) -> int:
    """The frame whose start is nearest to a time in seconds: for frame times rounded by a container
    (Matroska keeps milliseconds, so frame 1 at 24 fps is stored as 0.041 s), where `frame_at` would
    floor to the frame before."""
    rate = rate if isinstance(rate, Rate) else Rate.parse(rate)
    return max(0, int(round(Fraction(seconds).limit_denominator(10**6) * rate.rate)))


def frame_start(frame: int, rate: Rate | str) -> float:
    """When a frame starts, in seconds (exact rational arithmetic, then one float)."""
    rate = rate if isinstance(rate, Rate) else Rate.parse(rate)
    return float(Fraction(frame) / rate.rate)


def source_timecode(frame: int, rate: Rate | str | None, *, start: str | None = None) -> str | None:
    """The timecode label of frame `frame` of a source (0 = its first frame), counted from the
    source's start timecode `start` (00:00:00:00 without one), at the source's rate.

    A start timecode written with ';' makes the count drop-frame, one written with ':' non-drop;
    without one, 29.97 and 59.94 count drop-frame (SMPTE practice); a ';' at a rate that has no
    drop-frame counts plainly. A start timecode that cannot be read at this rate (frames past the
    nominal rate) is ignored rather than fatal. For a variable-rate source pass its nominal rate:
    the label then names the frame of the constant-rate timeline the media reader numbers. None
    when there is no rate (a still).
    """
    if rate is None:
        return None
    try:
        parsed = rate if isinstance(rate, Rate) else Rate.parse(rate)
    except (ValueError, ZeroDivisionError):
        return None
    offset = 0
    if start:
        match = _TC.match(start.strip())
        drop = bool(match and match.group(4) in ";,.")
        for drop_frame in dict.fromkeys((drop, False)):  # a ';' at a rate without drop-frame counts plainly
            try:
                counted = Rate.parse(parsed.rate, drop_frame=drop_frame)
                offset = timecode_to_frames(start, counted)
            except ValueError:
                continue
            parsed = counted
            break
    return frames_to_timecode(max(0, frame) + offset, parsed)
