"""Where copies go: candidates, the conflict graph and a greedy maximal independent set.

A *placement* puts one tube somewhere else in the frame: the tube's mean foot point moves to an
anchor inside the region, the person is scaled by the perspective ratio between the old and the new
foot position, optionally mirrored about that point, shifted in time and looped with a crossfade so
the copy is there for the whole plate, and colour-shifted.

The planner draws many candidates (seeded), throws away those that leave the region or come
closer than the spacing to an original person in any frame, builds the conflict graph of the rest
(two candidates conflict when their spaced boxes meet in any frame) and keeps a maximal independent
set, greedily: random order first, then, if that falls short of the target, lowest-degree first.
Everything is a function of the seed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from studio_tools.crowd.analysis import Perspective
from studio_tools.crowd.source import SourceTube

MIN_SCALE, MAX_SCALE = 0.45, 1.6
MAX_CANDIDATES = 700
MAX_CONFLICT_STEPS = 300  # longer plates are checked on unions of neighbouring frames


@dataclass(frozen=True)
class Loop:
    """How a tube of `length` frames plays forever: period `period`, crossfading `crossfade` frames at the seam."""

    length: int
    period: int
    crossfade: int

    def shown(self, t: int, offset: int) -> list[tuple[int, float]]:
        """Tube frames (index, weight) on screen at output frame t."""
        u = (t + offset) % self.period
        if self.crossfade and u < self.crossfade:
            w = (u + 1) / (self.crossfade + 1)
            return [(u, w), (u + self.period, 1.0 - w)]
        return [(u, 1.0)]


def plan_loop(tube: SourceTube, crossfade: int) -> Loop:
    """Choose the loop point where the person comes back closest to where, and as big as, they started.

    Copies get time offsets, so every tube loops. The seam goes where the `crossfade` frames after
    the period match the tube's first frames best (foot position and height, relative to the
    person's height), which hides it for pacing or standing people; ties go to the longer loop.
    """
    n = tube.length
    fade = max(0, min(crossfade, n // 3))
    if n < 4:
        return Loop(n, n, 0)
    feet, heights = tube.feet, tube.heights
    size = max(1.0, float(np.median(heights)))
    lo = max(fade + 2, n // 2)
    hi = n - fade if fade else n - 1  # without a crossfade, frame `period` must exist to compare with frame 0
    if hi < lo:
        return Loop(n, max(1, n - fade), fade)
    j = np.arange(max(1, fade))
    best, best_cost = hi, math.inf
    for period in range(hi, lo - 1, -1):
        step = feet[period + j] - feet[j]
        cost = float(np.mean(np.hypot(step[:, 0], step[:, 1]) + np.abs(heights[period + j] - heights[j]))) / size
        if cost < best_cost - 1e-9:
            best, best_cost = period, cost
    return Loop(n, best, fade)


@dataclass(frozen=True)
class Placement:
    index: int
    tube: SourceTube
    anchor: tuple[float, float]  # where the tube's mean foot point lands, full-resolution pixels
    scale: float
    mirrored: bool
    offset: int  # frames
    colour: tuple[float, float, float]  # L, a, b shift
    as_shot: bool  # a tile plate's person left where they were filmed
    loop: Loop

    def transform_x(self, x: np.ndarray | float) -> np.ndarray | float:
        rx, _ = self.tube.reference
        sign = -1.0 if self.mirrored else 1.0
        return self.anchor[0] + sign * self.scale * (x - rx)

    def transform_y(self, y: np.ndarray | float) -> np.ndarray | float:
        _, ry = self.tube.reference
        return self.anchor[1] + self.scale * (y - ry)

    def box(self, k: int) -> tuple[float, float, float, float]:
        x0, y0, x1, y1 = self.tube.boxes[k]
        a, b = self.transform_x(x0), self.transform_x(x1)
        return min(a, b), self.transform_y(y0), max(a, b), self.transform_y(y1)

    def foot_y(self, k: int) -> float:
        return float(self.transform_y(self.tube.boxes[k, 3]))


def copy_boxes(tube: SourceTube, loop: Loop, anchor, scale: float, mirrored: bool, offset: int, frames: int) -> np.ndarray:
    """(frames, 4): the box of everything the copy shows in each output frame (both sides of a crossfade)."""
    t = np.arange(frames)
    u = (t + offset) % loop.period
    boxes = tube.boxes[u].copy()
    if loop.crossfade:
        fading = u < loop.crossfade
        tail = tube.boxes[np.where(fading, u + loop.period, u)]
        boxes[:, 0] = np.minimum(boxes[:, 0], tail[:, 0])
        boxes[:, 1] = np.minimum(boxes[:, 1], tail[:, 1])
        boxes[:, 2] = np.maximum(boxes[:, 2], tail[:, 2])
        boxes[:, 3] = np.maximum(boxes[:, 3], tail[:, 3])
    rx, ry = tube.reference
    sign = -1.0 if mirrored else 1.0
    xa = anchor[0] + sign * scale * (boxes[:, 0] - rx)
    xb = anchor[0] + sign * scale * (boxes[:, 2] - rx)
    out = np.empty_like(boxes)
    out[:, 0], out[:, 2] = np.minimum(xa, xb), np.maximum(xa, xb)
    out[:, 1] = anchor[1] + scale * (boxes[:, 1] - ry)
    out[:, 3] = anchor[1] + scale * (boxes[:, 3] - ry)
    return out


class Region:
    """The target region rasterized at full resolution, with a summed-area table for 'box inside' tests."""

    def __init__(self, polygon: list[tuple[float, float]] | None, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.polygon = polygon
        if polygon is None:
            self.mask = None
            self.pixels = width * height
            self._sat = None
            return
        mask = np.zeros((height, width), np.uint8)
        points = np.array([[round(x * width * 16), round(y * height * 16)] for x, y in polygon], np.int32)
        cv2.fillPoly(mask, [points], 1, lineType=cv2.LINE_8, shift=4)
        self.mask = mask
        self.pixels = int(mask.sum())
        self._sat = np.pad(mask.astype(np.int64).cumsum(0).cumsum(1), ((1, 0), (1, 0)))

    def bbox(self) -> tuple[int, int, int, int]:
        if self.mask is None:
            return 0, 0, self.width, self.height
        rows = np.flatnonzero(self.mask.any(axis=1))
        cols = np.flatnonzero(self.mask.any(axis=0))
        if not len(rows):
            return 0, 0, 0, 0
        return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1

    def contains_point(self, x: float, y: float) -> bool:
        xi, yi = int(x), int(y)
        if not (0 <= xi < self.width and 0 <= yi < self.height):
            return False
        return True if self.mask is None else bool(self.mask[yi, xi])

    def contains_boxes(self, boxes: np.ndarray) -> bool:
        """All boxes (n, 4) wholly inside the frame and the region."""
        x0 = np.floor(boxes[:, 0]).astype(np.int64)
        y0 = np.floor(boxes[:, 1]).astype(np.int64)
        x1 = np.ceil(boxes[:, 2]).astype(np.int64)
        y1 = np.ceil(boxes[:, 3]).astype(np.int64)
        if (x0 < 0).any() or (y0 < 0).any() or (x1 > self.width).any() or (y1 > self.height).any():
            return False
        if self._sat is None:
            return True
        sat = self._sat
        inside = sat[y1, x1] - sat[y0, x1] - sat[y1, x0] + sat[y0, x0]
        return bool((inside == (x1 - x0) * (y1 - y0)).all())


def spaced(boxes: np.ndarray, spacing: float) -> np.ndarray:
    """Boxes grown by half the spacing (a fraction of each box's height) on every side."""
    grow = 0.5 * spacing * (boxes[..., 3] - boxes[..., 1])
    out = boxes.copy()
    out[..., 0] -= grow
    out[..., 1] -= grow
    out[..., 2] += grow
    out[..., 3] += grow
    return out


def _meets(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise 'boxes overlap' for broadcastable (..., 4) arrays."""
    return (np.minimum(a[..., 2], b[..., 2]) > np.maximum(a[..., 0], b[..., 0])) & (
        np.minimum(a[..., 3], b[..., 3]) > np.maximum(a[..., 1], b[..., 1])
    )


@dataclass
class PlanResult:
    placements: list[Placement]
    wanted: int
    candidates_drawn: int
    candidates_valid: int
    rejected_outside: int
    rejected_originals: int
    rejected_scale: int
    ordering: str


def plan(
    tubes: list[SourceTube],
    originals: list[np.ndarray],
    frames: int,
    fps: float,
    region: Region,
    perspective: Perspective,
    *,
    wanted: int,
    spacing: float,
    min_height: float,
    offsets: tuple[float, float],
    crossfade_seconds: float,
    mirror: bool,
    colour_variation: float,
    seed: int,
    check: Callable[[], None] = lambda: None,
) -> PlanResult:
    """Choose up to `wanted` placements. `originals[t]` is an (m, 4) array of the plate's people at frame t.

    Copies smaller than `min_height` pixels are not made: too small to read as people (or to be found again).
    """
    rng = np.random.default_rng([seed, 2024])
    crossfade = int(round(crossfade_seconds * fps))
    loops = {tube.id: plan_loop(tube, crossfade) for tube in tubes}
    # originals padded to one array (frames, m, 4); the padding boxes have no area and never meet anything
    most = max([len(o) for o in originals] + [1])
    padded = np.zeros((frames, most, 4))
    for t, o in enumerate(originals[:frames]):
        if len(o):
            padded[t, : len(o)] = spaced(np.asarray(o, np.float64), spacing)

    x_lo, y_lo, x_hi, y_hi = region.bbox()
    budget = min(MAX_CANDIDATES, max(60, 14 * wanted))
    attempts = 40 * budget
    valid: list[tuple[Placement, np.ndarray, int]] = []  # placement, spaced boxes, priority
    drawn = outside = near_original = bad_scale = 0
    order = [tube for tube in tubes]
    # tile plates' people first, where they were filmed: the classic tiling move
    for tube in order:
        if tube.plate_index == 0:
            continue
        anchor = tube.reference
        boxes = copy_boxes(tube, loops[tube.id], anchor, 1.0, False, 0, frames)
        drawn += 1
        if not region.contains_boxes(boxes):
            outside += 1
            continue
        grown = spaced(boxes, spacing)
        if _meets(grown[:, None, :], padded).any():
            near_original += 1
            continue
        valid.append((Placement(-1, tube, anchor, 1.0, False, 0, (0.0, 0.0, 0.0), True, loops[tube.id]), grown, 0))
    low_off, high_off = offsets
    for attempt in range(attempts):
        if len(valid) >= budget or x_hi <= x_lo or y_hi <= y_lo:
            break
        if attempt % 64 == 0:
            check()
        tube = order[attempt % len(order)]
        # every draw happens on every attempt, in the same order, so the stream of candidates only depends on the seed
        ax, ay = rng.uniform(x_lo, x_hi), rng.uniform(y_lo, y_hi)
        flip = bool(mirror and rng.random() < 0.5)
        offset = int(round(rng.uniform(low_off, high_off) * fps))
        shift = tuple(float(v) for v in rng.uniform(-1, 1, 3) * colour_variation * np.array([12.0, 10.0, 10.0]))
        drawn += 1
        if not region.contains_point(ax, ay):
            outside += 1
            continue
        scale = perspective.scale(tube.reference[1], ay)
        if scale is None or not MIN_SCALE <= scale <= MAX_SCALE or scale * tube.median_height < min_height:
            bad_scale += 1
            continue
        boxes = copy_boxes(tube, loops[tube.id], (ax, ay), scale, flip, offset, frames)
        if not region.contains_boxes(boxes):
            outside += 1
            continue
        grown = spaced(boxes, spacing)
        if _meets(grown[:, None, :], padded).any():
            near_original += 1
            continue
        valid.append(
            (Placement(-1, tube, (float(ax), float(ay)), float(scale), flip, offset, shift, False, loops[tube.id]), grown, 1)
        )

    chosen, ordering = _independent_set(valid, wanted, rng, check)
    placements = []
    for n, (p, _grown, _prio) in enumerate(sorted(chosen, key=lambda c: (c[0].anchor[1], c[0].anchor[0]))):
        placements.append(Placement(n, p.tube, p.anchor, p.scale, p.mirrored, p.offset, p.colour, p.as_shot, p.loop))
    return PlanResult(placements, wanted, drawn, len(valid), outside, near_original, bad_scale, ordering)


def _coarsen(boxes: np.ndarray, most: int = MAX_CONFLICT_STEPS) -> np.ndarray:
    """(n, frames, 4) boxes to at most `most` steps, each the union of the boxes of the frames it covers.

    Unions only grow, so two copies that never meet in the coarse steps never meet in any frame.
    """
    frames = boxes.shape[1]
    if frames <= most:
        return boxes
    step = -(-frames // most)
    pad = step * most - frames
    if pad:
        boxes = np.concatenate([boxes, np.repeat(boxes[:, -1:], pad, axis=1)], axis=1)
    chunks = boxes.reshape(boxes.shape[0], most, step, 4)
    return np.concatenate([chunks[..., :2].min(axis=2), chunks[..., 2:].max(axis=2)], axis=-1)


def _independent_set(valid, wanted: int, rng: np.random.Generator, check: Callable[[], None]):
    """Greedy maximal independent set of the conflict graph, up to `wanted` members."""
    n = len(valid)
    if n == 0 or wanted <= 0:
        return [], "none"
    boxes = _coarsen(np.stack([v[1] for v in valid]))  # (n, frames or fewer, 4)
    conflict = np.zeros((n, n), bool)
    for i in range(n):
        if i % 32 == 0:
            check()
        if i + 1 < n:
            hit = _meets(boxes[i][None], boxes[i + 1 :]).any(axis=1)
            conflict[i, i + 1 :] = hit
            conflict[i + 1 :, i] = hit
    priority = np.array([v[2] for v in valid])
    random_rank = rng.permutation(n)

    def greedy(order: np.ndarray) -> list[int]:
        taken: list[int] = []
        blocked = np.zeros(n, bool)
        for i in order:
            if blocked[i]:
                continue
            taken.append(int(i))
            blocked |= conflict[i]
            blocked[i] = True
            if len(taken) >= wanted:
                break
        return taken

    first = greedy(np.lexsort((random_rank, priority)))
    ordering = "random"
    if len(first) < wanted:
        degree = conflict.sum(axis=1)
        second = greedy(np.lexsort((random_rank, degree, priority)))
        if len(second) > len(first):
            first, ordering = second, "lowest degree first"
    return [valid[i] for i in first], ordering
