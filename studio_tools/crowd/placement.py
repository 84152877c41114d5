"""Where copies go: candidates, the conflict graph and a greedy maximal independent set.

A *placement* puts one tube somewhere else in the frame: the tube's mean foot point moves to an
anchor inside the region, the person is scaled by the perspective ratio between the old and the new
foot position, optionally mirrored about that point, shifted in time and colour-shifted. A copy either
loops with a cut where the person comes back to the same place and size (no crossfade), or plays its take
once, coming on and going off only where a person would: before or after the shot, or out of view at the
frame edge (a walker is placed to walk in from the edge, or out to it; see `walks_in` and `pops`).

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


LOOP_MATCH = 0.08  # a loop's seam: foot step plus height change, as a share of the person's height, at most this
MIN_ON_SCREEN_SECONDS = 1.0  # a copy seen whole for less than this (or its whole take) is not made
MAX_REUSE = 3  # copies of one source person in a shot
SYNC_SECONDS = 2.0  # copies of one person at the same time are at least this far apart in their take
APART = 0.25  # ... and this far apart in the frame (share of its width)
# A copy that plays its take once comes on and goes off only where a real person would: before the shot starts or
# after it ends, or at the frame edge, at least this share of its box out of view then (it walks in or out of view).
EDGE_OUT = 0.5
ENTRY_OUT = (0.7, 1.05)  # how far out of view a copy placed to walk in (or out) is at its first (last) frame


@dataclass(frozen=True)
class Loop:
    """How a tube of `length` frames is shown: once, or looped every `period` frames with a cut.

    There is no dissolve: two instances of a body are never mixed. A tube loops only where the person
    comes back to where, and as big as, they were at its start (`plan_loop`); otherwise a copy plays
    its tube once and is off screen before and after.
    """

    length: int
    period: int
    repeat: bool = True

    def shown(self, t: int, offset: int) -> list[tuple[int, float]]:
        """Tube frames (index, weight) on screen at output frame t: one, or none when a play-once copy is not on."""
        u = t + offset
        if self.repeat:
            return [(u % self.period, 1.0)]
        return [(u, 1.0)] if 0 <= u < self.length else []

    def frames(self, count: int, offset: int) -> np.ndarray:
        """(count,) the tube frame shown at each output frame, -1 where none is."""
        u = np.arange(count) + offset
        if self.repeat:
            return u % self.period
        return np.where((u >= 0) & (u < self.length), u, -1)


def plan_loop(tube: SourceTube) -> Loop:
    """Loop where the person comes back closest to where, and as big as, they started, or not at all.

    The seam is a cut from frame `period - 1` to frame 0, so frame `period` (what would come next) must
    match frame 0: foot position and height, relative to the person's height. A person walking through
    never comes back and plays once; a standing or pacing person loops when the match is good enough.
    """
    n = tube.length
    if n < 4 or tube.cut.any():
        return Loop(n, n, False)  # too short, or the person walks in or out of view: played once
    feet, heights = tube.feet, tube.heights
    size = max(1.0, float(np.median(heights)))
    lo, hi = max(2, n // 2), n - 1
    best, best_cost = hi, math.inf
    for period in range(hi, lo - 1, -1):
        j = np.arange(min(3, n - period))
        step = feet[period + j] - feet[j]
        cost = float(np.mean(np.hypot(step[:, 0], step[:, 1]) + np.abs(heights[period + j] - heights[j]))) / size
        if cost < best_cost - 1e-9:
            best, best_cost = period, cost
    if best_cost <= LOOP_MATCH:
        return Loop(n, best, True)
    return Loop(n, n, False)


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


def out_of_view(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """(n,) share of each box (n, 4) out of the frame, across (left, right) or up and down, whichever is more."""
    bw = np.maximum(1e-6, boxes[:, 2] - boxes[:, 0])
    bh = np.maximum(1e-6, boxes[:, 3] - boxes[:, 1])
    out_x = np.clip(-boxes[:, 0], 0, None) + np.clip(boxes[:, 2] - width, 0, None)
    out_y = np.clip(-boxes[:, 1], 0, None) + np.clip(boxes[:, 3] - height, 0, None)
    return np.maximum(out_x / bw, out_y / bh)


def pops(loop: Loop, boxes: np.ndarray, frames: int, width: int, height: int, cut: np.ndarray | None = None) -> int:
    """How many times (0, 1 or 2) a copy shown with `loop` and `boxes` (from `copy_boxes`) comes on or goes off in view:
    inside the shot, with less than `EDGE_OUT` of it out of the frame and not walking in or out of view there (`cut`:
    per output frame, the tube frame shown is one where the person is cut by the frame edge; see `edges_kept`).
    A looped copy is always on."""
    if loop.repeat:
        return 0
    on = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    if not on.any():
        return 0
    first = int(np.argmax(on))
    last = frames - 1 - int(np.argmax(on[::-1]))
    count = 0
    for index, inside_shot in ((first, first > 0), (last, last < frames - 1)):
        if not inside_shot or (cut is not None and cut[index]):
            continue
        if out_of_view(boxes[index : index + 1], width, height)[0] < EDGE_OUT:
            count += 1
    return count


def edges_kept(tube: SourceTube, shown: np.ndarray, boxes: np.ndarray, mirrored: bool, width: int, height: int) -> bool:
    """Where the copy shows a frame in which the person is cut by the frame edge (walking in or out of view), that
    cut lies on the same edge of the output frame (the left and right edges swap when mirrored): never a person cut
    off in the middle of the picture. `shown` is the tube frame per output frame (-1: none), `boxes` the copy's."""
    if tube.edges is None or not tube.cut.any():
        return True
    on = shown >= 0
    edges = np.zeros((len(shown), 4), bool)
    edges[on] = tube.edges[shown[on]]
    if not edges.any():
        return True
    left, top, right, bottom = edges.T
    if mirrored:
        left, right = right, left
    tolerance = 1.0
    return bool(
        (boxes[left, 0] <= tolerance).all()
        and (boxes[top, 1] <= tolerance).all()
        and (boxes[right, 2] >= width - tolerance).all()
        and (boxes[bottom, 3] >= height - tolerance).all()
    )


def through_edge(tube: SourceTube, scale: float, mirrored: bool, k: int, width: int) -> tuple[float | None, bool]:
    """For a tube frame k where the person is cut by the frame edge: the anchor x that puts that cut on the same edge
    of the output frame (None when the cut is the top or bottom edge), and whether the anchor must keep the tube's own
    foot row (a cut at the top or bottom edge stays there only at the same depth and size)."""
    left, top, right, bottom = (bool(v) for v in tube.edges[k]) if tube.edges is not None else (False,) * 4
    rx = tube.reference[0]
    x1 = tube.boxes[k, 2]
    if left:  # the source's x = 0 lands on output x 0, or on the right edge when mirrored
        return (width - scale * rx, False) if mirrored else (scale * rx, False)
    if right:
        return (scale * (x1 - rx), False) if mirrored else (width - scale * (x1 - rx), False)
    return None, top or bottom


def walks_in(tube: SourceTube, scale: float, mirrored: bool, at_start: bool, share: float, width: int) -> float | None:
    """The anchor x that puts a copy `share` of its width out of view at its first frame (`at_start`) on the side it
    walks in from, or at its last frame on the side it walks out to; None when the person hardly crosses the frame."""
    k = 0 if at_start else tube.length - 1
    size = max(1.0, tube.median_height)
    direction = float(tube.feet[-1, 0] - tube.feet[0, 0]) * (-1.0 if mirrored else 1.0)
    if abs(direction) < 0.5 * size:
        return None  # standing or pacing: it would stand at the edge
    rx = tube.reference[0]
    sign = -1.0 if mirrored else 1.0
    a, b = sign * scale * (tube.boxes[k, 0] - rx), sign * scale * (tube.boxes[k, 2] - rx)
    left, right = min(a, b), max(a, b)  # the box relative to the anchor
    box_w = right - left
    from_left = (direction > 0) == at_start  # walking right: in from the left, out to the right
    if from_left:
        return (1.0 - share) * box_w - right
    return width - (1.0 - share) * box_w - left


def copy_boxes(tube: SourceTube, loop: Loop, anchor, scale: float, mirrored: bool, offset: int, frames: int) -> np.ndarray:
    """(frames, 4): the copy's box in each output frame; all zero (no area) where it is not on."""
    u = loop.frames(frames, offset)
    on = u >= 0
    boxes = tube.boxes[np.where(on, u, 0)]
    rx, ry = tube.reference
    sign = -1.0 if mirrored else 1.0
    xa = anchor[0] + sign * scale * (boxes[:, 0] - rx)
    xb = anchor[0] + sign * scale * (boxes[:, 2] - rx)
    out = np.empty_like(boxes)
    out[:, 0], out[:, 2] = np.minimum(xa, xb), np.maximum(xa, xb)
    out[:, 1] = anchor[1] + scale * (boxes[:, 1] - ry)
    out[:, 3] = anchor[1] + scale * (boxes[:, 3] - ry)
    out[~on] = 0.0
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
        """The parts inside the frame of boxes (n, 4) all lie in the region; boxes without area (a copy not on)
        and the parts past the frame's edges (a copy walking in or out of view) are not checked."""
        boxes = boxes[(boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])]
        x0 = np.clip(np.floor(boxes[:, 0]), 0, self.width).astype(np.int64)
        y0 = np.clip(np.floor(boxes[:, 1]), 0, self.height).astype(np.int64)
        x1 = np.clip(np.ceil(boxes[:, 2]), 0, self.width).astype(np.int64)
        y1 = np.clip(np.ceil(boxes[:, 3]), 0, self.height).astype(np.int64)
        if self._sat is None:
            return True
        sat = self._sat
        inside = sat[y1, x1] - sat[y0, x1] - sat[y1, x0] + sat[y0, x0]
        return bool((inside == np.maximum(0, x1 - x0) * np.maximum(0, y1 - y0)).all())

    def in_view(self, boxes: np.ndarray) -> np.ndarray:
        """(n,) bool: the box has area and lies wholly inside the frame (the copy is seen whole)."""
        return (
            (boxes[:, 2] > boxes[:, 0])
            & (boxes[:, 3] > boxes[:, 1])
            & (boxes[:, 0] >= 0)
            & (boxes[:, 1] >= 0)
            & (boxes[:, 2] <= self.width)
            & (boxes[:, 3] <= self.height)
        )


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
    on_screen: np.ndarray  # (frames,) copies seen whole in each frame
    sources: int  # source people (tubes) the planner could use
    rejected_popping: int = 0  # copies that would have come on or gone off in view

    @property
    def mean_on_screen(self) -> float:
        return float(self.on_screen.mean()) if len(self.on_screen) else 0.0


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
    mirror: bool,
    colour_variation: float,
    seed: int,
    check: Callable[[], None] = lambda: None,
) -> PlanResult:
    """Choose placements so about `wanted` copies are on screen in every frame. `originals[t]` is an (m, 4)
    array of the plate's people at frame t.

    Copies smaller than `min_height` pixels are not made: too small to read as people (or to be found again).
    A tube that loops (see `plan_loop`) takes a time offset from `offsets`; one that plays once starts
    anywhere in the shot, so that together the copies cover every frame.
    """
    rng = np.random.default_rng([seed, 2024])
    loops = {tube.id: plan_loop(tube) for tube in tubes}
    # originals padded to one array (frames, m, 4); the padding boxes have no area and never meet anything
    most = max([len(o) for o in originals] + [1])
    padded = np.zeros((frames, most, 4))
    for t, o in enumerate(originals[:frames]):
        if len(o):
            padded[t, : len(o)] = spaced(np.asarray(o, np.float64), spacing)

    x_lo, y_lo, x_hi, y_hi = region.bbox()
    mean_on = float(np.mean([min(frames, loops[t.id].length) if not loops[t.id].repeat else frames for t in tubes] or [frames]))
    copies_needed = wanted * frames / max(1.0, mean_on)  # play-once copies cover part of the shot each
    budget = int(min(MAX_CANDIDATES, max(60, 10 * copies_needed)))
    attempts = 40 * budget
    valid: list[Candidate] = []
    drawn = outside = near_original = bad_scale = popping = 0
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
        placement = Placement(-1, tube, anchor, 1.0, False, 0, (0.0, 0.0, 0.0), True, loops[tube.id])
        valid.append(Candidate(placement, grown, 0, region.in_view(boxes)))
    low_off, high_off = offsets
    for attempt in range(attempts):
        if len(valid) >= budget or x_hi <= x_lo or y_hi <= y_lo or not order:
            break
        if attempt % 64 == 0:
            check()
        tube = order[attempt % len(order)]
        loop = loops[tube.id]
        if loop.repeat and rng.random() < 0.5:
            loop = Loop(loop.length, loop.length, False)  # a looping person may also be seen once, where a loop has no room
        # every draw happens on every attempt, in the same order, so the stream of candidates only depends on the seed
        ax, ay = rng.uniform(x_lo, x_hi), rng.uniform(y_lo, y_hi)
        flip = bool(mirror and rng.random() < 0.5)
        start = rng.random()
        offset = int(round(rng.uniform(low_off, high_off) * fps))
        shift = tuple(float(v) for v in rng.uniform(-1, 1, 3) * colour_variation * np.array([12.0, 10.0, 10.0]))
        how, share, when = rng.random(), rng.uniform(*ENTRY_OUT), rng.random()
        if not loop.repeat:
            # the take starts anywhere from just before the shot to just before its end
            offset = int(round(-frames + 1 + start * (frames + loop.length - 2)))
        drawn += 1
        at_start = how < 0.45
        end = 0 if at_start else loop.length - 1
        # a copy played once comes on and goes off out of view (see `pops`). A person who walks into view in the tube
        # (or out of it) does so in the copy at the same edge of the frame; one who walks across is placed to walk in
        # from the edge near the end of the shot (still on when it ends) or to be on from its start and walk out
        entering = not loop.repeat and how < 0.9 and bool(tube.cut[end])
        depth_kept = False
        if entering:
            _x, depth_kept = through_edge(tube, 1.0, flip, end, region.width)
            if depth_kept:
                ay = tube.reference[1]  # cut at the top or bottom edge: same foot row, same size
        if not region.contains_point(ax, ay) and not depth_kept:
            outside += 1
            continue
        scale = 1.0 if depth_kept else perspective.scale(tube.reference[1], ay)
        if scale is None or not MIN_SCALE <= scale <= MAX_SCALE or scale * tube.median_height < min_height:
            bad_scale += 1
            continue
        if not loop.repeat and how < 0.9:
            lead = int(round(when * max(0, min(loop.length, frames) - 2)))
            if entering:
                pinned, _depth = through_edge(tube, scale, flip, end, region.width)
                both = bool(tube.cut[0] and tube.cut[-1])  # a whole walk-through: it may come and go inside the shot
                if both:
                    lead = int(round(when * max(0, frames - 2)))
            else:
                pinned, both = walks_in(tube, scale, flip, at_start, share, region.width), False
            if pinned is not None:
                ax = pinned
            if pinned is not None or depth_kept:
                if both:
                    offset = -(1 + lead) if at_start else loop.length - 1 - lead
                else:
                    offset = -(frames - 1 - lead) if at_start else loop.length - 1 - lead
        boxes = copy_boxes(tube, loop, (ax, ay), scale, flip, offset, frames)
        seen = region.in_view(boxes)
        if seen.sum() < min(loop.length, max(MIN_ON_SCREEN_SECONDS * fps, 4)) or not region.contains_boxes(boxes):
            outside += 1
            continue
        shown = loop.frames(frames, offset)
        if not edges_kept(tube, shown, boxes, flip, region.width, region.height):
            outside += 1  # cut off in the middle of the picture
            continue
        if pops(loop, boxes, frames, region.width, region.height, tube.cut[np.maximum(shown, 0)] & (shown >= 0)):
            popping += 1
            continue
        grown = spaced(boxes, spacing)
        if _meets(grown[:, None, :], padded).any():
            near_original += 1
            continue
        placement = Placement(-1, tube, (float(ax), float(ay)), float(scale), flip, offset, shift, False, loop)
        valid.append(Candidate(placement, grown, 1, seen))

    chosen, ordering = _independent_set(valid, wanted, frames, fps, region.width, rng, check)
    placements = []
    for n, c in enumerate(sorted(chosen, key=lambda c: (c.placement.anchor[1], c.placement.anchor[0]))):
        p = c.placement
        placements.append(Placement(n, p.tube, p.anchor, p.scale, p.mirrored, p.offset, p.colour, p.as_shot, p.loop))
    on_screen = np.zeros(frames)
    for c in chosen:
        on_screen += c.seen
    return PlanResult(
        placements,
        wanted,
        drawn,
        len(valid),
        outside,
        near_original,
        bad_scale,
        ordering,
        on_screen,
        len({t.id for t in tubes}),
        popping,
    )


@dataclass
class Candidate:
    placement: Placement
    grown: np.ndarray  # (frames, 4) spaced boxes, zero where the copy is not on
    priority: int  # 0: a tile plate's person as shot, 1: a copy
    seen: np.ndarray  # (frames,) bool: the copy is on screen, whole


def _hardly_moves(tube: SourceTube) -> bool:
    """The feet stay within a fifth of the person's height and the height within a tenth: standing, not walking."""
    size = max(1.0, tube.median_height)
    feet, heights = tube.feet[tube.whole], tube.heights[tube.whole]
    return bool(np.ptp(feet[:, 0]) < 0.2 * size and np.ptp(feet[:, 1]) < 0.2 * size and np.ptp(heights) < 0.1 * size)


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


def _independent_set(valid: list[Candidate], wanted: int, frames: int, fps: float, width: int, rng, check):
    """Greedy: copies that do not meet each other in any frame, taken while they fill frames that have fewer
    than `wanted` copies on screen. Copies of one source person are at most `MAX_REUSE`, and two of them on
    screen together are `SYNC_SECONDS` apart in their take and `APART` of the width apart (no clones in step)."""
    n = len(valid)
    if n == 0 or wanted <= 0:
        return [], "none"
    boxes = _coarsen(np.stack([v.grown for v in valid]))  # (n, frames or fewer, 4)
    seen = np.stack([v.seen for v in valid])
    coarse_seen = _coarsen(np.repeat(seen[..., None].astype(np.float64), 4, axis=2))[..., 2] > 0
    ids = sorted({v.placement.tube.id for v in valid})
    tube_of = np.array([ids.index(v.placement.tube.id) for v in valid])
    offsets = np.array([v.placement.offset for v in valid])
    periods = np.array([v.placement.loop.period if v.placement.loop.repeat else 0 for v in valid])
    # a person who hardly moves looks the same at any moment of their take: one copy of them on screen at a time
    still = np.array([_hardly_moves(v.placement.tube) for v in valid])
    xs = np.array([v.placement.anchor[0] for v in valid])
    sync = SYNC_SECONDS * fps
    conflict = np.zeros((n, n), bool)
    for i in range(n):
        if i % 32 == 0:
            check()
        if i + 1 < n:
            hit = _meets(boxes[i][None], boxes[i + 1 :]).any(axis=1)
            same = tube_of[i + 1 :] == tube_of[i]
            together = (coarse_seen[i][None] & coarse_seen[i + 1 :]).any(axis=1)
            gap = np.abs(offsets[i + 1 :] - offsets[i])
            looped = (periods[i] > 0) & (periods[i + 1 :] == periods[i])
            if periods[i] > 0:  # two copies of a loop are in step when their phases match, whatever the offsets
                phase = gap % periods[i]
                gap = np.where(looped, np.minimum(phase, periods[i] - phase), gap)
            in_step = gap < np.where(looped, np.minimum(sync, 0.25 * max(1, periods[i])), sync)
            near = in_step | (np.abs(xs[i + 1 :] - xs[i]) < APART * width) | still[i]
            hit |= same & together & near
            conflict[i, i + 1 :] = hit
            conflict[i + 1 :, i] = hit
    priority = np.array([v.priority for v in valid])
    random_rank = rng.permutation(n)
    lengths = seen.sum(axis=1)

    def greedy(order: np.ndarray) -> list[int]:
        taken: list[int] = []
        blocked = np.zeros(n, bool)
        count = np.zeros(frames, np.int64)
        reuse: dict[int, int] = {}
        for i in order:
            if blocked[i] or reuse.get(int(tube_of[i]), 0) >= MAX_REUSE:
                continue
            gain = int((seen[i] & (count < wanted)).sum())
            if gain == 0 or gain < 0.5 * lengths[i]:
                continue  # it would mostly crowd frames already full
            taken.append(int(i))
            reuse[int(tube_of[i])] = reuse.get(int(tube_of[i]), 0) + 1
            count += seen[i]
            blocked |= conflict[i]
            blocked[i] = True
            if (count >= wanted).all():
                break
        return taken

    def coverage(taken: list[int]) -> int:
        return int(np.minimum(seen[taken].sum(axis=0), wanted).sum()) if taken else 0

    first = greedy(np.lexsort((random_rank, priority)))
    ordering = "random"
    if coverage(first) < wanted * frames:
        # longest on screen first, fewest conflicts next
        degree = conflict.sum(axis=1)
        second = greedy(np.lexsort((random_rank, degree, -lengths, priority)))
        if coverage(second) > coverage(first):
            first, ordering = second, "longest on screen first"
    return [valid[i] for i in first], ordering
