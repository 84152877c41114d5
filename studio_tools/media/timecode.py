"""SMPTE timecode from frame numbers and back, exact for rational frame rates.

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
    def parse(cls, value: str | Fraction | float | int, *, drop_frame: bool | None = None) -> Rate:
        if isinstance(value, str):
            text = value.strip()
            rate = Fraction(text) if "/" in text else Fraction(text).limit_denominator(1001)
        else:
            rate = Fraction(value).limit_denominator(1001)
        if rate <= 0:
            raise ValueError(f"frame rate must be positive, not {value!r}")
        nominal = round(rate)
        can_drop = rate.denominator == 1001 and nominal in (30, 60)
        if drop_frame is None:
            drop_frame = can_drop  # SMPTE practice: 29.97 and 59.94 are drop-frame unless told otherwise
        elif drop_frame and not can_drop:
            raise ValueError(f"drop-frame timecode exists only for 29.97 and 59.94, not {value}")
        return cls(rate=rate, nominal=nominal, drop_frame=drop_frame)

    @property
    def dropped_per_minute(self) -> int:
        return (self.nominal // 30) * 2 if self.drop_frame else 0


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
