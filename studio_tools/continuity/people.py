"""People: found with OpenCV's HOG person detector, described by the colours of head, torso and legs,
matched across a cut with the Hungarian method, and compared in CIEDE2000.

The HOG detector (Dalal & Triggs, trained on upright pedestrians) ships inside OpenCV, so nothing is
downloaded. It finds standing or walking people whose height is at least about a third of the frame
after the frame is scaled for detection; seated, cropped-at-the-chest or small figures are missed, and
then the costume check is silent for them (the report lists how many people each frame showed).

A person's colours are medians over fixed parts of the detection box (HOG boxes are drawn around the
whole figure with a margin, in the proportions of the training windows), so a slightly different box
on the other side of the cut moves the sample, not its median.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

from studio_tools.continuity.colour import IDENTITY, ColourTransform, ciede2000, median_lab, rgb_to_lab

# Detection runs on the frame scaled to this height, whatever the footage: a person a third of the
# frame tall then fills the detector's 128-pixel window, and the cost per frame stays fixed (measured
# on the generated scenes: 300 finds as many people as 360 or 440, with fewer false ones, in half the time).
DETECT_HEIGHT = 300
MIN_SCORE = 0.5  # HOG SVM margin below which a detection is more often a coat rack than a person
# A person fills the detection window from head to foot: in most rows the middle of the window differs
# from both of its margins. A vase on a shelf, or a lamp, fills only some rows; on the generated scenes
# true detections had at least 0.75 of their rows so, false ones at most 0.53.
MIN_FIGURE_ROWS = 0.6

# Parts as fractions (x0, y0, x1, y1) of a detection box: where colour is sampled (narrow, to stay on
# the garment), and the wider band reported as the finding's box.
SAMPLE_REGIONS = {"head": (0.38, 0.12, 0.62, 0.24), "torso": (0.32, 0.30, 0.68, 0.48), "legs": (0.39, 0.60, 0.61, 0.80)}
REPORT_BANDS = {"head": (0.30, 0.08, 0.70, 0.27), "torso": (0.16, 0.24, 0.84, 0.55), "legs": (0.28, 0.53, 0.72, 0.93)}
BODY_REGION = (0.16, 0.05, 0.84, 0.97)  # the figure itself inside the detection window's margins
COSTUME_PARTS = ("torso", "legs")
PART_WORDS = {"torso": "torso (jacket/top)", "legs": "legs (trousers/skirt)"}

_local = threading.local()


@dataclass
class Person:
    box: tuple[float, float, float, float]  # x, y, w, h in analysis pixels
    score: float
    parts: dict[str, np.ndarray | None] = field(default_factory=dict)  # Lab medians

    @property
    def centre(self) -> tuple[float, float]:
        x, y, w, h = self.box
        return x + w / 2, y + h / 2

    def part_box(self, part: str) -> tuple[float, float, float, float]:
        return sub_box(self.box, REPORT_BANDS[part])

    @property
    def body_box(self) -> tuple[float, float, float, float]:
        return sub_box(self.box, BODY_REGION)

    def describe(self, width: int, height: int) -> dict:
        x, y, w, h = self.box
        return {
            "box": normalized_box((x, y, w, h), width, height),
            "score": round(self.score, 3),
            "colours": {k: None if v is None else [round(float(c), 2) for c in v] for k, v in self.parts.items()},
        }


def _hog() -> cv2.HOGDescriptor:
    hog = getattr(_local, "hog", None)
    if hog is None:
        hog = cv2.HOGDescriptor()
        hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        _local.hog = hog
    return hog


def detect_people(image: np.ndarray, lab: np.ndarray | None = None) -> list[Person]:
    """People in an RGB frame, strongest first, with their part colours."""
    h, w = image.shape[:2]
    scale = DETECT_HEIGHT / h
    size = (max(64, int(round(w * scale))), max(128, int(round(h * scale))))
    small = image if size == (w, h) else cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    sx, sy = w / small.shape[1], h / small.shape[0]
    rects, weights = _hog().detectMultiScale(small, winStride=(4, 4), padding=(8, 8), scale=1.06)
    found = []
    for (x, y, bw, bh), score in zip(np.asarray(rects).reshape(-1, 4), np.asarray(weights).reshape(-1), strict=True):
        if score < MIN_SCORE:
            continue
        box = (float(x * sx), float(y * sy), float(bw * sx), float(bh * sy))
        found.append((float(score), _clip_box(box, w, h)))
    lab = rgb_to_lab(image) if lab is None else lab
    kept = [(score, box) for score, box in _non_max_suppression(found) if figure_rows(lab, box) >= MIN_FIGURE_ROWS]
    return [Person(box, score, part_colours(lab, box)) for score, box in kept]


def figure_rows(lab: np.ndarray, box: tuple[float, float, float, float]) -> float:
    """Fraction of the box's rows whose middle differs (CIELAB distance over 10) from both side margins."""
    height, width = lab.shape[:2]
    x, y, w, h = (int(round(v)) for v in box)
    x0, x1, y0, y1 = max(0, x), min(width, x + w), max(0, y), min(height, y + h)
    crop = lab[y0:y1, x0:x1]
    if crop.shape[0] < 10 or crop.shape[1] < 10:
        return 0.0
    cw = crop.shape[1]
    middle = np.median(crop[:, int(cw * 0.4) : int(cw * 0.6)], axis=1)
    left = np.median(crop[:, : max(1, int(cw * 0.1))], axis=1)
    right = np.median(crop[:, int(cw * 0.9) :], axis=1)
    distance = np.minimum(np.linalg.norm(middle - left, axis=1), np.linalg.norm(middle - right, axis=1))
    return float((distance > 10.0).mean())


def part_colours(lab: np.ndarray, box: tuple[float, float, float, float]) -> dict[str, np.ndarray | None]:
    h, w = lab.shape[:2]
    colours: dict[str, np.ndarray | None] = {}
    for part, region in SAMPLE_REGIONS.items():
        x, y, bw, bh = sub_box(box, region)
        x0, y0 = max(0, int(round(x))), max(0, int(round(y)))
        x1, y1 = min(w, int(round(x + bw))), min(h, int(round(y + bh)))
        colours[part] = median_lab(lab[y0:y1, x0:x1]) if x1 > x0 and y1 > y0 else None
    return colours


def adjusted(person: Person, transform: ColourTransform) -> Person:
    """The person with part colours passed through `transform` (the other frame's exposure and balance)."""
    if transform.is_identity:
        return person
    parts = {k: None if v is None else transform.apply_lab(v) for k, v in person.parts.items()}
    return Person(person.box, person.score, parts)


def part_difference(a: Person, b: Person, part: str) -> float | None:
    ca, cb = a.parts.get(part), b.parts.get(part)
    if ca is None or cb is None:
        return None
    return float(ciede2000(ca, cb))


@dataclass(frozen=True)
class Match:
    a: int  # index into the first list
    b: int
    cost: float
    differences: dict[str, float | None]  # CIEDE2000 per part


def match_people(
    first: list[Person],
    second: list[Person],
    *,
    to_first: np.ndarray | None = None,
    sizes: tuple[tuple[int, int], tuple[int, int]] | None = None,
    transform: ColourTransform = IDENTITY,
    max_cost: float = 1.6,
) -> list[Match]:
    """Pair people of two frames (Hungarian method on a cost of appearance and, when known, place).

    `to_first` is the homography taking the second frame's pixels to the first's (same place). Without
    it, position still helps a little through normalized frame coordinates (`sizes` = ((w1, h1), (w2, h2))),
    because a reverse or a closer shot rarely keeps people where they were. Appearance uses the better
    matching of torso and legs, so one recoloured garment does not stop the person from being found: the
    point is to then measure that change. `transform` maps the second frame's colours onto the first's.
    """
    if not first or not second:
        return []
    second = [adjusted(p, transform) for p in second]
    cost = np.full((len(first), len(second)), 1e3)
    diffs: dict[tuple[int, int], dict[str, float | None]] = {}
    for i, p in enumerate(first):
        for j, q in enumerate(second):
            d = {part: part_difference(p, q, part) for part in ("head", *COSTUME_PARTS)}
            diffs[i, j] = d
            garments = [v for k, v in d.items() if k in COSTUME_PARTS and v is not None]
            appearance = (min(garments) / 20.0 if garments else 1.0) + (d["head"] / 30.0 if d["head"] is not None else 0.5)
            cost[i, j] = appearance + _place_cost(p, q, to_first, sizes)
    rows, cols = linear_sum_assignment(cost)
    return [
        Match(int(i), int(j), float(cost[i, j]), diffs[i, j]) for i, j in zip(rows, cols, strict=True) if cost[i, j] <= max_cost
    ]


def _place_cost(p: Person, q: Person, to_first: np.ndarray | None, sizes) -> float:
    if to_first is not None:
        x, y, w, h = map_box(q.box, to_first)
        px, py = p.centre
        distance = math.hypot(px - (x + w / 2), py - (y + h / 2)) / max(p.box[3], h, 1.0)
        size = abs(math.log(max(h, 1.0) / max(p.box[3], 1.0)))
        return distance + size
    if sizes is None:
        return 0.0
    (w1, h1), (w2, h2) = sizes
    (px, py), (qx, qy) = p.centre, q.centre
    return 0.5 * math.hypot(px / w1 - qx / w2, py / h1 - qy / h2)


def sub_box(
    box: tuple[float, float, float, float], region: tuple[float, float, float, float]
) -> tuple[float, float, float, float]:
    x, y, w, h = box
    x0, y0, x1, y1 = region
    return (x + x0 * w, y + y0 * h, (x1 - x0) * w, (y1 - y0) * h)


def map_box(box: tuple[float, float, float, float], homography: np.ndarray) -> tuple[float, float, float, float]:
    """Bounding box of a box's corners under a homography."""
    x, y, w, h = box
    corners = np.array([[[x, y]], [[x + w, y]], [[x, y + h]], [[x + w, y + h]]], np.float64)
    mapped = cv2.perspectiveTransform(corners, homography).reshape(-1, 2)
    x0, y0 = mapped.min(axis=0)
    x1, y1 = mapped.max(axis=0)
    return (float(x0), float(y0), float(x1 - x0), float(y1 - y0))


def normalized_box(box: tuple[float, float, float, float], width: int, height: int) -> dict[str, float] | None:
    """{"x", "y", "w", "h"} in 0..1 of the frame, clipped to it; None when nothing of it is inside."""
    x, y, w, h = box
    x0, y0 = max(0.0, x), max(0.0, y)
    x1, y1 = min(float(width), x + w), min(float(height), y + h)
    if x1 <= x0 or y1 <= y0:
        return None
    return {
        "x": round(x0 / width, 4),
        "y": round(y0 / height, 4),
        "w": round((x1 - x0) / width, 4),
        "h": round((y1 - y0) / height, 4),
    }


def _clip_box(box, width: int, height: int) -> tuple[float, float, float, float]:
    x, y, w, h = box
    x0, y0 = max(0.0, x), max(0.0, y)
    x1, y1 = min(float(width), x + w), min(float(height), y + h)
    return (x0, y0, max(1.0, x1 - x0), max(1.0, y1 - y0))


def _non_max_suppression(found: list[tuple[float, tuple]], overlap: float = 0.45) -> list[tuple[float, tuple]]:
    kept: list[tuple[float, tuple]] = []
    for score, box in sorted(found, key=lambda item: -item[0]):
        if all(_iou(box, other) < overlap and not _inside(box, other) for _, other in kept):
            kept.append((score, box))
    return kept


def _iou(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


def _inside(a, b) -> bool:
    """Most of the smaller box lies in the other (a second, tighter detection of the same person)."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    return ix * iy >= 0.7 * min(aw * ah, bw * bh)
