"""Shot boundaries and per-frame picture signals, from one pass over a downscaled decode.

Hard cuts come from PySceneDetect's `AdaptiveDetector` (its content score against a rolling average
of its neighbours, so fast camera moves do not read as cuts), fed frame by frame with each frame's
real presentation time, so variable-frame-rate files are timed right.

The adaptive detector is built for cuts: over a dissolve the per-frame change is spread thinly and
evenly, which is exactly what it is designed to ignore. Dissolves are found by a second, small
detector on the same frames: a stretch whose frame-to-frame change stands out from the shot's own
motion is a dissolve when its frames are, all along, a blend of the frames either side of it (a
moving camera or subject does not make ghosted in-between frames; a dissolve does). The boundary is
put at the first frame that is at least half the new shot, which is where an editor's cut would be.

On the same pass we keep, per frame, its time and a motion value (mean luma change from the frame
before), and every half second a colour histogram, for grouping shots into scenes later.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from fractions import Fraction

import cv2
import numpy as np
from scenedetect.common import FrameTimecode, Timecode
from scenedetect.detectors import AdaptiveDetector

DETECTOR_VERSION = "adaptive+dissolve/2"
_SMALL = (32, 18)  # the dissolve detector's picture: small and blurred, so motion inside a shot matters little
_HIST_EVERY = 0.5  # seconds between colour histograms
_HIST_BINS = (16, 4)  # hue x saturation


@dataclass(frozen=True)
class Boundary:
    frame: int  # index of the first frame of the new shot
    time: float  # its presentation time, seconds from the start of the file
    kind: str  # "cut" or "dissolve"
    length: int = 0  # frames of the dissolve (0 for a cut)


@dataclass
class FrameAnalysis:
    """What one pass over a video yields."""

    times: np.ndarray  # float64 seconds, one per decoded frame
    motion: np.ndarray  # float32, mean absolute luma change from the previous frame (0..255)
    boundaries: list[Boundary]
    hist_times: np.ndarray  # seconds of each sampled histogram
    hists: np.ndarray  # (n, 64) float32, normalised hue x saturation histograms
    end_time: float  # time at which the last frame ends
    extra: dict = field(default_factory=dict)


class ShotDetector:
    """Feed frames in order with `feed(time, bgr)`, then `finish()`."""

    def __init__(
        self,
        nominal_fps: float,
        *,
        adaptive_threshold: float = 3.0,
        min_shot_seconds: float = 0.4,
        min_content_val: float = 15.0,
        max_dissolve_seconds: float = 3.0,
    ) -> None:
        self.rate = Fraction(nominal_fps).limit_denominator(100_000) if nominal_fps and nominal_fps > 0 else Fraction(25)
        self.adaptive = AdaptiveDetector(
            adaptive_threshold=adaptive_threshold,
            min_scene_len=float(min_shot_seconds),
            min_content_val=min_content_val,
        )
        self.min_shot_seconds = min_shot_seconds
        self.max_dissolve_frames = max(4, int(round(max_dissolve_seconds * float(self.rate))))
        self._times: list[float] = []
        self._motion: list[float] = []
        self._cuts: list[int] = []
        self._frame_of_us: dict[int, int] = {}
        self._prev_luma: np.ndarray | None = None
        self._hist_times: list[float] = []
        self._hists: list[np.ndarray] = []
        self._next_hist = 0.0
        self._dissolves = _DissolveFinder(self.max_dissolve_frames)

    def feed(self, seconds: float, bgr: np.ndarray) -> None:
        index = len(self._times)
        if self._times and seconds <= self._times[-1]:
            seconds = self._times[-1] + 1e-6  # a repeated or backward timestamp must not reorder frames
        self._times.append(seconds)
        micros = int(round(seconds * 1_000_000))
        self._frame_of_us[micros] = index
        timecode = FrameTimecode(Timecode(pts=micros, time_base=Fraction(1, 1_000_000)), self.rate)
        for cut in self.adaptive.process_frame(timecode, bgr):
            self._cuts.append(self._frame_of(cut))

        luma = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        if self._prev_luma is None:
            self._motion.append(0.0)
        else:
            self._motion.append(float(cv2.absdiff(luma, self._prev_luma).mean()))
        self._prev_luma = luma

        # INTER_AREA averages 8x8 blocks here: that is the blur (a Gaussian before it changed nothing but the cost).
        small = cv2.resize(bgr, _SMALL, interpolation=cv2.INTER_AREA).astype(np.float32)
        self._dissolves.feed(index, small)

        if seconds >= self._next_hist:
            hsv = cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV)
            hist = cv2.calcHist([hsv], [0, 1], None, list(_HIST_BINS), [0, 180, 0, 256]).flatten()
            total = float(hist.sum()) or 1.0
            self._hist_times.append(seconds)
            self._hists.append((hist / total).astype(np.float32))
            self._next_hist = seconds + _HIST_EVERY

    def _frame_of(self, timecode: FrameTimecode) -> int:
        micros = int(round(timecode.seconds * 1_000_000))
        found = self._frame_of_us.get(micros)
        if found is not None:
            return found
        return int(np.argmin(np.abs(np.asarray(self._times) - timecode.seconds)))

    def finish(self) -> FrameAnalysis:
        times = np.asarray(self._times, dtype=np.float64)
        if len(times) == 0:
            return FrameAnalysis(times, np.zeros(0, np.float32), [], np.zeros(0), np.zeros((0, 64), np.float32), 0.0)
        last_step = float(np.median(np.diff(times[-5:]))) if len(times) > 1 else 1 / float(self.rate)
        end_time = float(times[-1] + max(last_step, 1e-3))
        boundaries = self._merge(times, self._dissolves.finish())
        hists = np.asarray(self._hists, dtype=np.float32).reshape(-1, _HIST_BINS[0] * _HIST_BINS[1])
        return FrameAnalysis(
            times=times,
            motion=np.asarray(self._motion, dtype=np.float32),
            boundaries=boundaries,
            hist_times=np.asarray(self._hist_times, dtype=np.float64),
            hists=hists,
            end_time=end_time,
        )

    def _merge(self, times: np.ndarray, dissolves: list[tuple[int, int, int]]) -> list[Boundary]:
        """Cuts and dissolves in one list; a cut the adaptive detector saw inside a dissolve is that dissolve."""
        found: list[Boundary] = []
        spans = []
        for start, end, half in dissolves:
            spans.append((start, end))
            found.append(Boundary(half, float(times[half]), "dissolve", end - start - 1))
        for cut in self._cuts:
            if any(start - 1 <= cut <= end + 1 for start, end in spans):
                continue
            found.append(Boundary(cut, float(times[cut]), "cut"))
        found.sort(key=lambda b: b.frame)
        # Two boundaries closer than the shortest shot are one transition seen twice; keep the first.
        merged: list[Boundary] = []
        for boundary in found:
            if boundary.frame <= 0:
                continue
            if merged and boundary.time - merged[-1].time < self.min_shot_seconds:
                if boundary.kind == "dissolve" and merged[-1].kind == "cut":
                    merged[-1] = boundary
                continue
            merged.append(boundary)
        return merged


class _DissolveFinder:
    """Gradual transitions: runs of raised frame-to-frame change whose frames blend their two ends."""

    def __init__(self, max_frames: int) -> None:
        self.max_frames = max_frames
        self.window: deque[tuple[int, np.ndarray]] = deque(maxlen=max_frames + 8)
        self.diffs: deque[float] = deque(maxlen=64)  # recent frame-to-frame changes outside candidates
        self.run_start: int | None = None  # index of the last frame before the raised run
        self.quiet = 0
        self.found: list[tuple[int, int, int]] = []
        self.prev: np.ndarray | None = None
        self.frames: dict[int, np.ndarray] = {}

    def feed(self, index: int, small: np.ndarray) -> None:
        self.frames[index] = small
        # Only what a candidate could still need is kept.
        for old in [k for k in self.frames if k < index - self.max_frames - 8]:
            del self.frames[old]
        if self.prev is None:
            self.prev = small
            return
        diff = float(np.abs(small - self.prev).mean())
        self.prev = small
        baseline = float(np.median(self.diffs)) if len(self.diffs) >= 3 else diff
        raised = diff > max(1.0, 2.0 * baseline + 0.6)
        if self.run_start is None:
            if raised:
                self.run_start = index - 1
                self.quiet = 0
            else:
                self.diffs.append(diff)
            return
        if raised:
            self.quiet = 0
        else:
            self.quiet += 1
        length = index - self.run_start
        if self.quiet >= 2 or length > self.max_frames + 2:
            end = index - self.quiet  # first frame after the raised run
            self._judge(self.run_start, end)
            self.run_start = None
            self.quiet = 0
            if not raised:
                self.diffs.append(diff)

    def finish(self) -> list[tuple[int, int, int]]:
        return self.found

    def _judge(self, start: int, end: int) -> None:
        """Is start..end (the last frame before and the first frame after) a dissolve? If so, record it."""
        inner = end - start - 1
        if inner < 2 or inner > self.max_frames or start not in self.frames or end not in self.frames:
            return
        a, b = self.frames[start], self.frames[end]
        delta = b - a
        span = float(np.abs(delta).mean())
        if span < 12.0:  # the two ends look alike: a flash or a move, not a change of shot
            return
        norm = float((delta * delta).sum())
        alphas = []
        errors = []
        for k in range(start + 1, end):
            frame = self.frames.get(k)
            if frame is None:
                return
            alpha = float(((frame - a) * delta).sum() / norm)
            blend = a + alpha * delta
            alphas.append(alpha)
            errors.append(float(np.abs(frame - blend).mean()) / span)
        if max(errors) > 0.35 or float(np.mean(errors)) > 0.2:
            return  # in-between frames are not mixes of the two ends
        steps = [b - a for a, b in zip([0.0, *alphas], [*alphas, 1.0], strict=True)]
        if min(steps) < -0.12 or max(steps) > 0.5 or alphas[-1] - alphas[0] < 0.3:
            return  # not a steady move from one picture to the other (a jump is a cut with a blurred frame beside it)
        half = next((start + 1 + i for i, value in enumerate(alphas) if value >= 0.5), end)
        self.found.append((start, end, half))
