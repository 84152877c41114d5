"""Finding the people in a locked-off plate and following them through time.

Everything here works on a reduced copy of the plate (long side at most `ANALYSIS_LONG_SIDE`),
kept on disk as a memory-mapped array in the work folder so a long plate does not have to fit in
memory. The steps:

1. Background: the per-pixel temporal median of up to `MEDIAN_SAMPLES` evenly spaced frames, or a
   clean plate when one is given. Noise is measured from frame-to-frame differences.
2. Foreground: MOG2 or KNN background subtraction, primed with the background plus noise of the
   measured strength so the model starts out knowing the plate; shadows (which both subtractors
   mark separately) are dropped; a small opening removes speckle, a closing joins limbs, holes are
   filled.
3. People: connected components, with fragments stacked on top of each other (a head cut off at
   the neck) merged and blobs too wide for one person split at the thinnest columns.
4. Tubes: a greedy IoU tracker links people from frame to frame; each track is cut where the
   person touches the frame edge, merges with someone or vanishes, and the clean stretches long
   enough to loop become "crowd tubes".
5. Perspective: person height against foot position, a robust straight-line fit that puts the
   horizon where height reaches zero.
6. The check: OpenCV's HOG person detector (the Dalal-Triggs default people SVM) is run on a few
   frames of each tube, enlarged so the person fills the detector's window.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from studio_tools.crowd.median import median_half_even
from studio_tools.crowd.video import FrameFile, PlateVideo, read_analysis_frames

ANALYSIS_LONG_SIDE = 640
MEDIAN_SAMPLES = 48
SEGMENT_AHEAD = 4  # frames the background model may run ahead of the thread that finds the people
PRIMING_FRAMES = 24  # noisy copies of the background the model learns first


# --- data -------------------------------------------------------------------------------------------


@dataclass
class Detection:
    frame: int
    x0: int
    y0: int
    x1: int  # exclusive
    y1: int  # exclusive
    mask: np.ndarray  # bool, (y1 - y0, x1 - x0)
    clipped: bool  # touches the frame edge: probably not the whole person
    edges: tuple[bool, bool, bool, bool] = (False, False, False, False)  # which it touches: left, top, right, bottom

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    @property
    def box(self) -> tuple[int, int, int, int]:
        return self.x0, self.y0, self.x1, self.y1

    @property
    def foot(self) -> tuple[float, float]:
        return (self.x0 + self.x1) / 2, float(self.y1)


@dataclass
class Tube:
    """One person followed through consecutive frames of one plate: the unit that gets copied."""

    id: str
    plate: int  # index into the plates (0: the main plate)
    start: int  # first frame, in the plate's numbering
    detections: list[Detection]
    confirmed: bool | None = None  # what the HOG check said; None: not checked

    @property
    def length(self) -> int:
        return len(self.detections)

    @property
    def boxes(self) -> np.ndarray:
        return np.array([d.box for d in self.detections], np.float64)

    @property
    def edges(self) -> np.ndarray:
        """(length, 4) bool: the frame edges (left, top, right, bottom) the person is cut by, frame by frame."""
        return np.array([d.edges for d in self.detections], bool).reshape(-1, 4)

    @property
    def whole_frames(self) -> list[Detection]:
        """The detections not cut by the frame edge."""
        return [d for d in self.detections if not d.clipped]


@dataclass
class PlateAnalysis:
    video: PlateVideo
    index: int
    size: tuple[int, int]  # analysis width, height
    frames: np.ndarray  # (N, h, w, 3) uint8, memory-mapped
    background: np.ndarray  # analysis size
    background_method: str
    noise: float  # grain sigma at analysis size, 8-bit levels
    detections: list[list[Detection]]
    tubes: list[Tube] = field(default_factory=list)
    full: FrameFile | None = None  # the full-size frames, kept from the same decode when they fit the budget

    @property
    def frame_count(self) -> int:
        return len(self.frames)

    @property
    def factor(self) -> float:
        """Full-resolution pixels per analysis pixel."""
        return self.video.width / self.size[0]

    @property
    def counts(self) -> np.ndarray:
        return np.array([len(d) for d in self.detections])


def analysis_size(width: int, height: int, long_side: int = ANALYSIS_LONG_SIDE) -> tuple[int, int]:
    scale = min(1.0, long_side / max(width, height))
    if scale == 1.0:
        return width, height
    return max(2, int(round(width * scale / 2)) * 2), max(2, int(round(height * scale / 2)) * 2)


# --- step 0: the reduced copy -----------------------------------------------------------------------


def load_frames(
    video: PlateVideo, folder: Path, name: str, check: Callable[[], None] | None = None, keep: Path | None = None
) -> np.ndarray:
    """Decode the whole plate at analysis size into a memory-mapped (N, h, w, 3) array in `folder`.

    With `keep`, the same decode also writes the full-size frames to that file (see `video.FrameFile`).
    """
    width, height = analysis_size(video.width, video.height)
    capacity = (video.frame_count or int(video.duration * video.fps) + 1) + 8
    path = folder / f"{name}.frames.npy"
    store = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=(capacity, height, width, 3))
    count = 0
    for frame in read_analysis_frames(video, (width, height), check=check, keep=keep):
        if count == capacity:  # the container understated its length: grow the file
            store.flush()
            grown = np.lib.format.open_memmap(
                folder / f"{name}.frames2.npy", mode="w+", dtype=np.uint8, shape=(capacity * 2, height, width, 3)
            )
            grown[:capacity] = store
            del store
            path.unlink()
            store, capacity = grown, capacity * 2
        store[count] = frame
        count += 1
    return store[:count]


# --- step 1: background and noise ------------------------------------------------------------------


def median_background(frames: np.ndarray, samples: int = MEDIAN_SAMPLES) -> np.ndarray:
    """Per-pixel temporal median of up to `samples` evenly spaced frames."""
    picks = np.unique(np.linspace(0, len(frames) - 1, min(samples, len(frames))).round().astype(int))
    return median_half_even(np.asarray(frames[picks]))  # as np.median(...).round(), ten times faster


def estimate_noise(frames: np.ndarray, pairs: int = 8) -> float:
    """Grain strength (sigma, 8-bit levels) from differences of consecutive frames."""
    if len(frames) < 2:
        return 1.0
    starts = np.unique(np.linspace(0, len(frames) - 2, min(pairs, len(frames) - 1)).round().astype(int))
    diffs = np.concatenate([(frames[i + 1].astype(np.int16) - frames[i].astype(np.int16)).ravel()[::2] for i in starts])
    return pair_sigma(diffs)


def pair_sigma(diffs: np.ndarray) -> float:
    """Sigma of the grain in each of two frames, from their pixel differences.

    The RMS of the smallest 90 % of |difference| ignores what moved between the frames; dividing by
    sqrt(0.6231) undoes that truncation for Gaussian noise (a normal cut at its 90 % two-sided
    quantile keeps 62.31 % of its variance) and by sqrt(2) turns the difference's sigma into one frame's.
    """
    diffs = diffs.ravel()
    if diffs.size > 1_000_000:  # a million samples pin sigma down to well under 1 %
        diffs = diffs[:: int(np.ceil(diffs.size / 1_000_000))]
    magnitudes = np.abs(diffs.astype(np.float32))
    if magnitudes.size == 0:
        return 1.0
    cut = np.partition(magnitudes, int(0.9 * (magnitudes.size - 1)))[: int(0.9 * (magnitudes.size - 1)) + 1]
    rms = float(np.sqrt(np.mean(cut**2)))
    return max(0.3, rms / np.sqrt(0.6231) / np.sqrt(2.0))


# --- step 2 and 3: foreground and people --------------------------------------------------------------


class Segmenter:
    """Background subtraction plus cleanup; `people(frame, index)` gives that frame's detections."""

    def __init__(
        self,
        background: np.ndarray,
        noise: float,
        method: str = "mog2",
        seed: int = 0,
        priming: list[np.ndarray] | None = None,
    ) -> None:
        """`priming`: `priming_noise(background.shape, seed)` made beforehand (e.g. while the plate decodes)."""
        self.background = background
        self.noise = noise
        height, width = background.shape[:2]
        self.size = (width, height)
        if method == "knn":
            self._sub = cv2.createBackgroundSubtractorKNN(
                history=500, dist2Threshold=max(400.0, 3 * 16 * noise**2), detectShadows=True
            )
        else:
            self._sub = cv2.createBackgroundSubtractorMOG2(history=500, varThreshold=16, detectShadows=True)
            self._sub.setVarMin(max(4.0, noise**2))
            self._sub.setVarInit(max(15.0, 2 * noise**2))
        if priming is None or len(priming) != PRIMING_FRAMES or priming[0].shape != background.shape:
            priming = priming_noise(background.shape, seed)
        base = background.astype(np.float32)
        for i, unit in enumerate(priming):
            # noise * a standard normal is exactly what rng.normal(0, noise) draws
            primed = np.clip(base + (noise * unit).astype(np.float32), 0, 255).astype(np.uint8)
            self._sub.apply(primed, learningRate=1.0 / (i + 1))
        self._diff_threshold = max(12.0, 4.0 * noise)
        self.min_height = min_person_height(height)
        self._open = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3) if height >= 300 else (2, 2))
        close = max(3, (round(height / 90) // 2) * 2 + 1)
        self._close = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (close, close))

    def mask(self, frame: np.ndarray) -> np.ndarray:
        """uint8 0/255 foreground (people, no shadows) of one frame."""
        return self.clean(self.subtract(frame), frame)

    def subtract(self, frame: np.ndarray) -> np.ndarray:
        """The background model's raw verdict on the next frame (frames must come in order: the model learns)."""
        return self._sub.apply(frame, learningRate=0.001)

    def clean(self, raw: np.ndarray, frame: np.ndarray) -> np.ndarray:
        """The foreground from `subtract`'s verdict: shadows dropped, speckle opened, limbs closed, holes filled.
        Depends on nothing but its arguments, so frames can be cleaned in any order, on any thread."""
        fg = raw == 255  # 127 is "shadow"
        diff = channel_max(cv2.absdiff(frame, self.background))
        fg &= diff > self._diff_threshold
        mask = fg.astype(np.uint8) * 255
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, self._open)
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, self._close)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        filled = np.zeros_like(mask)
        cv2.drawContours(filled, contours, -1, 255, thickness=cv2.FILLED)
        return filled

    def people(self, frame: np.ndarray, index: int) -> list[Detection]:
        return find_people(self.mask(frame), index, self.min_height)

    def people_after(self, raw: np.ndarray, frame: np.ndarray, index: int) -> list[Detection]:
        """`people` from `subtract`'s verdict (thread-safe)."""
        return find_people(self.clean(raw, frame), index, self.min_height)


def priming_noise(shape: tuple[int, ...], seed: int) -> list[np.ndarray]:
    """The unit Gaussian noise the background model is primed with (seeded; float64, as `rng.normal` draws it)."""
    rng = np.random.default_rng([seed, 1234])
    return [rng.standard_normal(shape) for _ in range(PRIMING_FRAMES)]


def channel_max(image: np.ndarray) -> np.ndarray:
    """Per-pixel maximum over the channels of an (h, w, 3) image (much faster than .max(axis=2))."""
    b, g, r = cv2.split(image)
    return cv2.max(cv2.max(b, g), r)


def find_people(mask: np.ndarray, index: int, min_height: int) -> list[Detection]:
    """Connected components of a foreground mask, merged and split into single upright people."""
    height, width = mask.shape
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    blobs: list[list[int]] = []  # x0, y0, x1, y1 plus label ids
    members: list[list[int]] = []
    min_area = max(6, int(0.12 * min_height * min_height))
    for label in range(1, n):
        x, y, w, h, area = (int(v) for v in stats[label])
        if area < min_area // 3:
            continue
        blobs.append([x, y, x + w, y + h])
        members.append([label])
    _merge_stacked(blobs, members)
    people: list[Detection] = []
    ratio = _width_ratio(blobs)
    for (x0, y0, x1, y1), ids in zip(blobs, members, strict=True):
        part = np.isin(labels[y0:y1, x0:x1], ids)
        for sx0, sx1 in _split_columns(part, ratio):
            piece = part[:, sx0:sx1]
            rows = np.flatnonzero(piece.any(axis=1))
            cols = np.flatnonzero(piece.any(axis=0))
            if not len(rows):
                continue
            px0, px1 = x0 + sx0 + int(cols[0]), x0 + sx0 + int(cols[-1]) + 1
            py0, py1 = y0 + int(rows[0]), y0 + int(rows[-1]) + 1
            w, h = px1 - px0, py1 - py0
            sub = piece[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
            if h < min_height or int(sub.sum()) < min_area or h < 0.9 * w:
                continue  # too small, or not upright: not a person we can use
            edges = (px0 <= 0, py0 <= 0, px1 >= width, py1 >= height)
            people.append(Detection(index, px0, py0, px1, py1, sub.copy(), any(edges), edges))
    people.sort(key=lambda d: (d.x0, d.y0))
    return people


def _merge_stacked(blobs: list[list[int]], members: list[list[int]]) -> None:
    """Join blobs stacked on each other with a small gap (head and body split at the neck)."""
    merged = True
    while merged:
        merged = False
        for i in range(len(blobs)):
            for j in range(i + 1, len(blobs)):
                a, b = blobs[i], blobs[j]
                upper, lower = (a, b) if a[3] <= b[3] else (b, a)
                overlap = min(a[2], b[2]) - max(a[0], b[0])
                narrow = min(a[2] - a[0], b[2] - b[0])
                gap = lower[1] - upper[3]
                merged_height = lower[3] - min(a[1], b[1])
                # a head above its body: narrower, close, and adding little height. A far person standing
                # just above a near one adds much more height, so stays separate.
                if (
                    overlap >= 0.5 * narrow
                    and gap <= 0.1 * merged_height
                    and upper[2] - upper[0] <= lower[2] - lower[0]
                    and merged_height - (lower[3] - lower[1]) <= 0.3 * merged_height
                ):
                    blobs[i] = [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])]
                    members[i] = members[i] + members[j]
                    del blobs[j], members[j]
                    merged = True
                    break
            if merged:
                break


def _width_ratio(blobs: list[list[int]]) -> float:
    """Typical width/height of one person (arms and legs swinging), from the blobs shaped like one."""
    ratios = [(b[2] - b[0]) / (b[3] - b[1]) for b in blobs if 1.2 <= (b[3] - b[1]) / max(1, b[2] - b[0]) <= 5.0]
    return float(np.median(ratios)) if len(ratios) >= 3 else 0.45


def _split_columns(part: np.ndarray, ratio: float) -> list[tuple[int, int]]:
    """Column ranges of the people in a blob: one range, or several cut at the thinnest columns."""
    height, width = part.shape
    expected = max(1.0, ratio * height)
    if width <= 1.8 * expected:  # a walker mid-stride is wider than usual; two people side by side are twice as wide
        return [(0, width)]
    k = int(min(8, max(2, round(width / expected))))
    profile = part.sum(axis=0).astype(np.float64)
    cuts = [0]
    for j in range(1, k):
        centre = j * width / k
        lo, hi = int(max(cuts[-1] + 1, centre - 0.3 * width / k)), int(min(width - 1, centre + 0.3 * width / k))
        if hi <= lo:
            continue
        cuts.append(lo + int(np.argmin(profile[lo:hi])))
    cuts.append(width)
    return [(a, b) for a, b in zip(cuts, cuts[1:], strict=False) if b - a >= 2]


# --- step 4: tubes ------------------------------------------------------------------------------------


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = min(a[2], b[2]) - max(a[0], b[0])
    iy = min(a[3], b[3]) - max(a[1], b[1])
    if ix <= 0 or iy <= 0:
        return 0.0
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def track(detections: list[list[Detection]], min_iou: float = 0.25) -> list[list[Detection]]:
    """Greedy frame-to-frame IoU matching; returns tracks as lists of detections in consecutive frames."""
    finished: list[list[Detection]] = []
    active: list[list[Detection]] = []
    for frame_dets in detections:
        pairs = sorted(
            ((iou(t[-1].box, d.box), ti, di) for ti, t in enumerate(active) for di, d in enumerate(frame_dets)),
            key=lambda p: (-p[0], p[1], p[2]),
        )
        used_t: set[int] = set()
        used_d: set[int] = set()
        for score, ti, di in pairs:
            if score < min_iou:
                break
            if ti in used_t or di in used_d:
                continue
            used_t.add(ti)
            used_d.add(di)
            active[ti].append(frame_dets[di])
        still = []
        for ti, t in enumerate(active):
            (still if ti in used_t else finished).append(t)
        active = still + [[d] for di, d in enumerate(frame_dets) if di not in used_d]
    return finished + active


def cut_tubes(tracks: list[list[Detection]], plate: int, min_length: int) -> list[Tube]:
    """Clean stretches of each track: not at the frame edge, size steady (no merge with a neighbour), each with
    the frames where the person walks in from the frame edge just before it, or out to it just after
    (`_through_the_edge`): a copy then comes and goes at an edge of its own frame the same way, never in view."""
    tubes: list[Tube] = []
    for track_dets in sorted(tracks, key=lambda t: (t[0].frame, t[0].x0)):
        heights = np.array([d.height for d in track_dets], np.float64)
        widths = np.array([d.width for d in track_dets], np.float64)
        h_med, w_med = np.median(heights), np.median(widths)
        good = [
            not d.clipped and abs(d.height - h_med) <= 0.3 * h_med and abs(d.width - w_med) <= 0.6 * w_med + 2 for d in track_dets
        ]
        run: list[int] = []
        for i, ok in enumerate([*good, False]):
            if ok:
                run.append(i)
                continue
            if len(run) >= min_length:
                first, last = _through_the_edge(track_dets, run[0], run[-1])
                tubes.append(Tube("", plate, track_dets[first].frame, track_dets[first : last + 1]))
            run = []
    for n, tube in enumerate(tubes):
        tube.id = f"p{plate}t{n}"
    return tubes


def _through_the_edge(dets: list[Detection], first: int, last: int) -> tuple[int, int]:
    """A clean stretch dets[first..last] widened by the frames just before it in which the person is cut by the frame
    edge all the way back to where they came into view (and likewise after it, out of view): the walk-in and walk-out.
    Only when those frames reach the track's own end (nothing else is mixed in) and each is cut by one edge."""

    def cut_by_one(d: Detection) -> bool:
        return d.clipped and sum(d.edges) == 1

    start = first
    while start > 0 and cut_by_one(dets[start - 1]) and dets[start - 1].edges == dets[first - 1].edges:
        start -= 1
    if start < first and start > 0:
        start = first  # the track goes on before the cut frames: they are not a walk-in
    end = last
    while end < len(dets) - 1 and cut_by_one(dets[end + 1]) and dets[end + 1].edges == dets[last + 1].edges:
        end += 1
    if end > last and end < len(dets) - 1:
        end = last
    return start, end


# --- step 5: perspective ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Perspective:
    """Person height as a function of foot y (full-resolution pixels): h = slope * y + intercept."""

    mode: str  # "auto", "horizon", "none"
    model: str  # "linear" or "constant"
    slope: float
    intercept: float
    horizon_y: float | None  # analysis px; None when there is none
    reason: str

    def scale(self, from_y: float, to_y: float) -> float | None:
        """Size factor for a person moved from foot y `from_y` to `to_y`; None if `to_y` is at or above the horizon."""
        if self.model == "constant":
            return 1.0
        h_from = self.slope * from_y + self.intercept
        h_to = self.slope * to_y + self.intercept
        if h_from <= 0 or h_to <= 0:
            return None
        return h_to / h_from

    def to_report(self, height: int) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "model": self.model,
            "horizon_y": None if self.horizon_y is None else round(self.horizon_y / height, 4),
            "height_per_foot_y": round(self.slope, 5) if self.model == "linear" else None,
            "reason": self.reason,
        }


def fit_perspective(tube_points: list[list[tuple[float, float]]], height: int, mode: str, horizon: float | None) -> Perspective:
    """Perspective from (foot y, person height) points per tube (auto), from the given horizon, or none.

    `height` is the frame height in the same pixels as the points; `horizon` is normalized.
    """
    if mode == "none":
        return Perspective("none", "constant", 0.0, 1.0, None, "asked for no perspective: copies keep their size")
    if mode == "horizon":
        assert horizon is not None
        y_h = horizon * height
        # height proportional to the distance below the horizon; the factor cancels in scale()
        return Perspective("horizon", "linear", 1.0, -y_h, y_h, "horizon line given by hand")
    points = []
    for pts in tube_points:
        # up to five medians per tube, so a long tube does not outvote the others
        for chunk in np.array_split(np.arange(len(pts)), min(5, len(pts))):
            if len(chunk):
                points.append((float(np.median([pts[i][0] for i in chunk])), float(np.median([pts[i][1] for i in chunk]))))
    if len(tube_points) < 2 or len(points) < 4:
        return Perspective("auto", "constant", 0.0, 1.0, None, "too few people to measure perspective: copies keep their size")
    ys = np.array([p[0] for p in points])
    hs = np.array([p[1] for p in points])
    if ys.max() - ys.min() < 0.08 * height:
        return Perspective("auto", "constant", 0.0, 1.0, None, "the people stand at too similar depths to measure perspective")
    keep = np.ones(len(ys), bool)
    for _ in range(3):  # least squares with the worst outliers dropped
        slope, intercept = np.polyfit(ys[keep], hs[keep], 1)
        residual = np.abs(hs - (slope * ys + intercept))
        limit = max(2.0, 2.5 * float(np.median(residual[keep])) * 1.4826)
        new_keep = residual <= limit
        if new_keep.sum() < 4 or (new_keep == keep).all():
            break
        keep = new_keep
    predicted = slope * ys + intercept
    spread = float(np.sqrt(np.mean(((hs - predicted) / np.maximum(predicted, 1e-6))[keep] ** 2)))
    if slope <= 0 or spread > 0.25 or (predicted <= 0).any():
        return Perspective(
            "auto", "constant", 0.0, 1.0, None, "person height does not grow with foot position: no perspective used"
        )
    return Perspective(
        "auto",
        "linear",
        float(slope),
        float(intercept),
        float(-intercept / slope),
        "fitted to person height against foot position",
    )


# --- step 6: the detector check ---------------------------------------------------------------------

_HOG: Any = None


def detector_available() -> bool:
    """OpenCV 5 keeps HOG in its contrib modules: present with opencv-contrib-python(-headless) only."""
    return hasattr(cv2, "HOGDescriptor")


def _hog() -> Any:
    global _HOG
    if _HOG is None:
        hog = cv2.HOGDescriptor()
        hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        _HOG = hog
    return _HOG


def detector_confirms(frame: np.ndarray, box: tuple[float, float, float, float]) -> bool:
    """Does OpenCV's HOG people detector find a person on `box` of `frame`?

    The box with some context is resized so the person is about 100 px tall (the detector's window
    is 64x128 with the person filling about 96 px of it); a detection whose box overlaps ours by
    IoU >= 0.3 counts.
    """
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    if w <= 1 or h <= 4:
        return False
    scale = 100.0 / h
    pad_x, pad_y = 0.6 * h, 0.25 * h
    cx0, cy0 = int(max(0, x0 - pad_x)), int(max(0, y0 - pad_y))
    cx1, cy1 = int(min(frame.shape[1], x1 + pad_x)), int(min(frame.shape[0], y1 + pad_y))
    crop = frame[cy0:cy1, cx0:cx1]
    crop = cv2.resize(
        crop, (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale))), interpolation=cv2.INTER_LINEAR
    )
    # pad so the 64x128 window fits around the person even near the frame edge
    border = 32
    crop = cv2.copyMakeBorder(crop, border, border, border, border, cv2.BORDER_REPLICATE)
    if crop.shape[0] < 128 or crop.shape[1] < 64:
        return False
    rects, _weights = _hog().detectMultiScale(crop, hitThreshold=0.0, winStride=(4, 4), padding=(8, 8), scale=1.05)
    ours = ((x0 - cx0) * scale + border, (y0 - cy0) * scale + border, (x1 - cx0) * scale + border, (y1 - cy0) * scale + border)
    return any(iou(ours, (rx, ry, rx + rw, ry + rh)) >= 0.3 for rx, ry, rw, rh in rects)


def check_tubes(analysis: PlateAnalysis, samples: int = 3) -> None:
    """Set `confirmed` on every tube: True when the detector finds the person in any sampled frame."""
    for tube in analysis.tubes:
        picks = sorted({int(round(q * (tube.length - 1))) for q in np.linspace(0.2, 0.8, samples)})
        tube.confirmed = any(
            detector_confirms(np.asarray(analysis.frames[tube.detections[i].frame]), tube.detections[i].box) for i in picks
        )


# --- all of it --------------------------------------------------------------------------------------


def segment_plate(
    frames: np.ndarray,
    background: np.ndarray,
    noise: float,
    method: str,
    seed: int = 0,
    check: Callable[[], None] | None = None,
    on_frame: Callable[[int], None] | None = None,
    priming: list[np.ndarray] | None = None,
) -> list[list[Detection]]:
    """Every frame's people. The background model takes the frames in order on this thread; cleaning its masks
    and finding the people in them (most of the work) runs on a second thread meanwhile. Same result as one
    frame after another."""
    segmenter = Segmenter(background, noise, method, seed, priming)
    out: list[list[Detection]] = []
    pending: deque[Future[list[Detection]]] = deque()

    def collect(keep: int) -> None:
        while len(pending) > keep:
            out.append(pending.popleft().result())
            if on_frame is not None:
                on_frame(len(out) - 1)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="crowd-segment") as pool:
        try:
            for i in range(len(frames)):
                if check is not None:
                    check()
                frame = np.asarray(frames[i])
                pending.append(pool.submit(segmenter.people_after, segmenter.subtract(frame), frame, i))
                collect(SEGMENT_AHEAD)
            collect(0)
        finally:
            for future in pending:
                future.cancel()
    return out


SHADOW_DARK = 0.8  # a ground pixel this much darker than the background (luma ratio) is in shadow
SHADOW_SHARE = 0.2  # ... and a plate whose people have this share of the ground round their feet in shadow casts them


@dataclass(frozen=True)
class ShadowMeasure:
    """How much the plate's own people darken the ground round their feet (their contact shadows)."""

    people: int  # whole people measured
    dark_share: float  # median over them of the share of ground round the feet darker than SHADOW_DARK of the background
    darkening: float  # median luma ratio (frame / background) of those dark pixels, 1.0 when there are none
    offset: tuple[float, float]  # median centre of the dark pixels from the foot point, in person heights (x, y)

    @property
    def casts(self) -> bool:
        return self.people >= 3 and self.dark_share >= SHADOW_SHARE

    def to_report(self) -> dict[str, Any]:
        return {
            "people_measured": self.people,
            "ground_in_shadow_share": round(self.dark_share, 3),
            "darkening": round(self.darkening, 3),
            "offset_in_heights": [round(v, 3) for v in self.offset],
            "plate_casts_contact_shadows": self.casts,
        }


def measure_shadows(
    frames: np.ndarray, background: np.ndarray, detections: list[list[Detection]], most: int = 60
) -> ShadowMeasure:
    """The contact shadows of the plate's whole people: the ground in a band round each one's feet (their own
    silhouette left out) compared with the background."""
    whole = [d for dets in detections for d in dets if not d.clipped]
    if not whole:
        return ShadowMeasure(0, 0.0, 1.0, (0.0, 0.0))
    picks = [whole[int(i)] for i in np.unique(np.linspace(0, len(whole) - 1, min(most, len(whole))).round())]
    grey = cv2.cvtColor(background, cv2.COLOR_BGR2GRAY).astype(np.float32) + 1.0
    h_img, w_img = grey.shape
    shares, darks, dxs, dys = [], [], [], []
    for d in picks:
        fx, fy = d.foot
        x0, x1 = int(max(0, fx - d.height * 0.6)), int(min(w_img, fx + d.height * 0.6))
        y0, y1 = int(max(0, fy - d.height * 0.15)), int(min(h_img, fy + d.height * 0.2))
        if x1 - x0 < 3 or y1 - y0 < 3:
            continue
        frame = cv2.cvtColor(np.asarray(frames[d.frame]), cv2.COLOR_BGR2GRAY)[y0:y1, x0:x1].astype(np.float32) + 1.0
        ratio = frame / grey[y0:y1, x0:x1]
        ground = np.ones(ratio.shape, bool)
        # the person's own silhouette is not ground
        mx0, my0 = max(d.x0, x0), max(d.y0, y0)
        mx1, my1 = min(d.x1, x1), min(d.y1, y1)
        if mx1 > mx0 and my1 > my0:
            ground[my0 - y0 : my1 - y0, mx0 - x0 : mx1 - x0] &= ~d.mask[my0 - d.y0 : my1 - d.y0, mx0 - d.x0 : mx1 - d.x0]
        dark = ground & (ratio < SHADOW_DARK)
        shares.append(float(dark.sum()) / max(1, int(ground.sum())))
        if dark.any():
            rows, cols = np.nonzero(dark)
            darks.append(float(np.median(ratio[dark])))
            dxs.append((float(cols.mean()) + x0 - fx) / d.height)
            dys.append((float(rows.mean()) + y0 - fy) / d.height)
    if not shares:
        return ShadowMeasure(0, 0.0, 1.0, (0.0, 0.0))
    offset = (float(np.median(dxs)), float(np.median(dys))) if dxs else (0.0, 0.0)
    return ShadowMeasure(len(shares), float(np.median(shares)), float(np.median(darks)) if darks else 1.0, offset)


def min_person_height(analysis_height: int) -> int:
    """The shortest blob, in analysis pixels, that is taken for a person."""
    return max(6, round(0.035 * analysis_height))


def min_tube_length(fps: float) -> int:
    return max(10, int(math.ceil(0.8 * fps)))
