"""People: found at any scale, described by the colours of head, torso and legs, matched across a cut
with the Hungarian method (face first, then clothing and place), and compared in CIEDE2000.

Two detectors, merged:

- the models (`studio_tools.vision.detect`): MediaPipe's BlazePose person detector on the whole frame
  and on enlarged tiles (close-ups, medium shots, wide and overhead frames), then the BlazePose
  landmark model on each person (`pose_on_box`): 33 landmarks and a person mask. Garments are sampled
  on the mask between the landmarks: torso between shoulders and hips, legs between hips and ankles,
  so arms, background and the other people are left out. Faces come from BlazeFace and are described
  with dlib's 128-d descriptor (`studio_tools.vision.faces`); clothing by a chroma histogram.
- OpenCV's HOG pedestrian detector for what the models miss (drawn figures, odd poses), each find
  kept only when the landmark model sees a body in its box.

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
from dataclasses import dataclass, field, replace

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

from studio_tools.continuity.colour import IDENTITY, ColourTransform, ciede2000, median_lab, rgb_to_lab
from studio_tools.vision import detect as vision_detect
from studio_tools.vision import faces as vision_faces
from studio_tools.vision import pose as vision_pose

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
    source: str = "hog"  # "model" (BlazePose + mask), "face" (a face alone: a close-up) or "hog"
    regions: dict[str, tuple[float, float, float, float]] = field(default_factory=dict)  # sampled part boxes (model)
    face: tuple[float, float, float, float] | None = None  # x0, y0, x1, y1
    _descriptor: np.ndarray | None = field(default=None, repr=False)
    _image: np.ndarray | None = field(default=None, repr=False)  # the frame, until the descriptor is made
    clothing: np.ndarray | None = None
    mask: np.ndarray | None = field(default=None, repr=False)  # (H, W) bool: the person's pixels (model)

    @property
    def face_descriptor(self) -> np.ndarray | None:
        """dlib's 128-d descriptor of this person's face, made the first time someone asks (it is the
        slowest step, and a pair of frames of the same place never needs it)."""
        if self._descriptor is None and self._image is not None and self.face is not None:
            try:
                self._descriptor = vision_faces.face_descriptor(self._image, self.face)
            except vision_faces.FaceModelsMissing:
                self._descriptor = None
            self._image = None
        return self._descriptor

    @face_descriptor.setter
    def face_descriptor(self, value: np.ndarray | None) -> None:
        self._descriptor = value
        self._image = None

    @property
    def centre(self) -> tuple[float, float]:
        x, y, w, h = self.box
        return x + w / 2, y + h / 2

    def part_box(self, part: str) -> tuple[float, float, float, float]:
        if part in self.regions:
            return self.regions[part]
        return sub_box(self.box, REPORT_BANDS[part])

    @property
    def body_box(self) -> tuple[float, float, float, float]:
        if self.source in ("model", "face"):
            return self.box
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
    """People in an RGB frame with their part colours: the models' finds, then HOG's that add someone."""
    lab = rgb_to_lab(image) if lab is None else lab
    found: list[Person] = []
    bgr = np.ascontiguousarray(image[..., ::-1])
    for person in hog_people(image, lab):
        # HOG also fires on bottles and coat racks: a find counts when the pose model sees a body in it.
        # A whole standing figure that HOG frames is sampled in HOG's proportions (they were tuned on it).
        x, y, w, h = person.box
        if vision_pose.pose_on_box(bgr, (x, y, x + w, y + h)).score >= HOG_MIN_POSE:
            found.append(person)
    for person in model_people(image, lab):
        if not any(_iou(person.box, p.body_box) >= 0.2 or _inside(person.box, p.body_box) for p in found):
            found.append(person)
    return found


HOG_MIN_POSE = 0.7  # on real footage HOG's bottles scored under 0.55, drawn and real figures 0.95 and more


MODEL_MIN_POSE = 0.5  # the landmark model's own "a person is in this crop" probability
MIN_MASK_PIXELS = 150


def model_people(image: np.ndarray, lab: np.ndarray) -> list[Person]:
    """People found by the BlazePose detector, refined by the landmark model (mask and landmarks)."""
    h, w = image.shape[:2]
    bgr = np.ascontiguousarray(image[..., ::-1])
    people: list[Person] = []
    for det in vision_detect.detect_persons(image):
        pose = vision_pose.pose_on_box(bgr, det.body)
        if pose.score < MODEL_MIN_POSE:
            continue
        mask = pose.mask > 0.5
        ys, xs = np.nonzero(mask)
        if len(xs) < MIN_MASK_PIXELS:
            continue
        box = (float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1))
        if any(_iou(box, p.box) >= 0.5 or _inside(box, p.box) for p in people):
            continue  # the same person found twice (whole frame and a tile)
        regions, region_masks = _garment_regions(pose, mask, (w, h))
        parts: dict[str, np.ndarray | None] = {}
        for part in ("head", *COSTUME_PARTS):
            region = region_masks.get(part)
            parts[part] = median_lab(lab, region) if region is not None and region.sum() >= 30 else None
        person = Person(box, float(min(det.score, pose.score)), parts, "model", regions, mask=mask)
        face = _face_for(vision_detect.faces_in(image, _head_area(pose, box)), pose, box)
        if face is not None:
            person.face = face.box
            person._image = image
            regions.setdefault("head", (face.box[0], face.box[1], face.width, face.height))
        garment = np.zeros_like(mask)
        for part in COSTUME_PARTS:
            if region_masks.get(part) is not None:
                garment |= region_masks[part]
        person.clothing = vision_faces.clothing_descriptor(lab, garment if garment.sum() >= 60 else mask)
        people.append(person)
    people += _face_only_people(image, lab, people)
    return people


def _face_only_people(image: np.ndarray, lab: np.ndarray, found: list[Person]) -> list[Person]:
    """Close-ups the body detector misses (a head and shoulders, a face at a screen): a person from the
    face alone, the garment sampled in a band below the chin (shoulders and chest)."""
    h, w = image.shape[:2]
    out: list[Person] = []
    for face in vision_detect.detect_faces(image, tiled=False):
        cx, cy = (face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2
        if any(p.box[0] <= cx <= p.box[0] + p.box[2] and p.box[1] <= cy <= p.box[1] + p.box[3] for p in found):
            continue
        fw, fh = face.width, face.height
        if fh < vision_faces.MIN_FACE:
            continue
        x0, x1 = max(0.0, face.box[0] - 0.75 * fw), min(float(w), face.box[2] + 0.75 * fw)
        y0, y1 = max(0.0, face.box[1] - 0.3 * fh), min(float(h), face.box[3] + 3.0 * fh)
        box = (x0, y0, x1 - x0, y1 - y0)
        regions, parts = {}, {"head": None, "torso": None, "legs": None}
        tx0, tx1 = max(0, int(face.box[0] - 0.4 * fw)), min(w, int(face.box[2] + 0.4 * fw))
        ty0, ty1 = min(h, int(face.box[3] + 0.5 * fh)), min(h, int(face.box[3] + 1.8 * fh))
        if tx1 - tx0 >= 4 and ty1 - ty0 >= 0.4 * fh:
            regions["torso"] = (float(tx0), float(ty0), float(tx1 - tx0), float(ty1 - ty0))
            parts["torso"] = median_lab(lab[ty0:ty1, tx0:tx1])
        regions["head"] = (face.box[0], face.box[1], fw, fh)
        person = Person(box, face.score, parts, "face", regions, face=face.box)
        person._image = image
        if "torso" in regions:
            band = np.zeros((h, w), bool)
            band[ty0:ty1, tx0:tx1] = True
            person.clothing = vision_faces.clothing_descriptor(lab, band)
        out.append(person)
    return out


def _head_area(pose, box) -> tuple[float, float, float, float]:
    """A square around the head landmarks (x0, y0, x1, y1), where the face detector looks."""
    head = pose.points[list(vision_pose.HEAD)]
    cx, cy = float(np.median(head[:, 0])), float(np.median(head[:, 1]))
    span = max(float(np.ptp(head[:, 0])), float(np.ptp(head[:, 1])), 0.12 * box[3], 12.0)
    side = 2.6 * span
    return (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)


def _garment_regions(pose, mask: np.ndarray, size: tuple[int, int]):
    """Torso and legs regions on the person mask, between the landmarks; head around the face points."""
    w, h = size
    pts = pose.points
    ok = (pose.presence > 0.5) & (pose.visibility > 0.3)
    inside = (pts[:, 0] >= 0) & (pts[:, 0] < w) & (pts[:, 1] >= 0) & (pts[:, 1] < h)
    seen = ok & inside
    regions: dict[str, tuple[float, float, float, float]] = {}
    masks: dict[str, np.ndarray] = {}
    ls, rs, lh, rh = vision_pose.LEFT_SHOULDER, vision_pose.RIGHT_SHOULDER, vision_pose.LEFT_HIP, vision_pose.RIGHT_HIP
    lk, rk, la, ra = vision_pose.LEFT_KNEE, vision_pose.RIGHT_KNEE, vision_pose.LEFT_ANKLE, vision_pose.RIGHT_ANKLE

    def polygon(indices, shrink: float = 0.0) -> np.ndarray:
        poly = pts[list(indices)].astype(np.float32)
        if shrink:
            centre = poly.mean(axis=0)
            poly = centre + (poly - centre) * (1.0 - shrink)
        region = np.zeros((h, w), np.uint8)
        cv2.fillPoly(region, [np.round(poly).astype(np.int32)], 1)
        return (region > 0) & mask

    if seen[ls] and seen[rs]:
        # torso: shoulders down to the hips, or as far as the frame shows
        torso = polygon([ls, rs, rh, lh], 0.1) if ok[lh] and ok[rh] else _band_below(mask, pts[[ls, rs]], w, h)
        masks["torso"] = torso
    # legs only when the hips are well inside the frame and a knee is seen (a waist-up shot has none)
    hips_inside = seen[lh] and seen[rh] and max(pts[lh, 1], pts[rh, 1]) < 0.85 * h
    knees_inside = any(seen[k] and pts[k, 1] < 0.97 * h for k in (lk, rk))
    if hips_inside and knees_inside:
        lower = [lk, rk] if not (seen[la] and seen[ra]) else [la, ra]
        masks["legs"] = polygon([lh, rh, lower[1], lower[0]], 0.05)
    if "legs" in masks and "torso" in masks and masks["legs"].sum() < 0.3 * masks["torso"].sum():
        del masks["legs"]  # a sliver of leg at the bottom of the frame says nothing about the trousers
    for part, region in list(masks.items()):
        ys, xs = np.nonzero(region)
        if len(xs) < 30:
            del masks[part]
            continue
        regions[part] = (float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1))
    return regions, masks


def _band_below(mask: np.ndarray, shoulders: np.ndarray, w: int, h: int) -> np.ndarray:
    """Torso of a person cut at the chest or the waist by the frame: the mask below the shoulders,
    between them, down to the bottom of the frame or about a shoulder width and a half."""
    x0, x1 = float(shoulders[:, 0].min()), float(shoulders[:, 0].max())
    width = max(4.0, x1 - x0)
    y0 = float(shoulders[:, 1].max()) + 0.1 * width
    y1 = min(float(h), y0 + 1.4 * width)
    region = np.zeros((h, w), bool)
    xa, xb = max(0, int(x0 + 0.1 * width)), min(w, int(x1 - 0.1 * width))
    ya, yb = max(0, int(y0)), max(0, int(y1))
    if xb > xa and yb > ya:
        region[ya:yb, xa:xb] = True
    return region & mask


def _face_for(faces, pose, box):
    """The face detection that belongs to this person: its centre near the nose, inside the person."""
    nose = pose.points[vision_pose.NOSE]
    best, best_d = None, None
    x, y, bw, bh = box
    for face in faces:
        cx, cy = (face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2
        if not (x - 0.1 * bw <= cx <= x + 1.1 * bw and y - 0.1 * bh <= cy <= y + bh):
            continue
        d = math.hypot(cx - nose[0], cy - nose[1])
        if d <= max(face.width, face.height) and (best_d is None or d < best_d):
            best, best_d = face, d
    return best


def hog_people(image: np.ndarray, lab: np.ndarray | None = None) -> list[Person]:
    """People found by OpenCV's HOG detector, strongest first, with their part colours."""
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
    return replace(person, parts=parts)


def part_difference(a: Person, b: Person, part: str, lightness_weight: float = 1.0) -> float | None:
    ca, cb = a.parts.get(part), b.parts.get(part)
    if ca is None or cb is None:
        return None
    return float(ciede2000(ca, cb, k_l=lightness_weight))


@dataclass(frozen=True)
class Match:
    a: int  # index into the first list
    b: int
    cost: float
    differences: dict[str, float | None]  # CIEDE2000 per part
    by: str = "place"  # what identified the person on both sides: "face", "clothing" or "place"


CLOTHING_SAME = 0.35  # Bhattacharyya distance of clothing descriptors under which two people dress alike


def identity(p: Person, q: Person) -> tuple[float | None, str]:
    """How strongly two people are the same character: a cost below 1 means yes (face when both show
    one, clothing otherwise), None when neither says anything."""
    if p.face_descriptor is not None and q.face_descriptor is not None:
        return vision_faces.face_distance(p.face_descriptor, q.face_descriptor) / vision_faces.SAME_FACE, "face"
    if p.clothing is not None and q.clothing is not None:
        return vision_faces.clothing_distance(p.clothing, q.clothing) / CLOTHING_SAME, "clothing"
    return None, "none"


def match_people(
    first: list[Person],
    second: list[Person],
    *,
    to_first: np.ndarray | None = None,
    sizes: tuple[tuple[int, int], tuple[int, int]] | None = None,
    transform: ColourTransform = IDENTITY,
    max_cost: float = 1.6,
    require_identity: bool = False,
    lightness_weight: float = 1.0,
) -> list[Match]:
    """Pair people of two frames (Hungarian method on a cost of appearance and, when known, place).

    `to_first` is the homography taking the second frame's pixels to the first's (same place). Without
    it, position still helps a little through normalized frame coordinates (`sizes` = ((w1, h1), (w2, h2))),
    because a reverse or a closer shot rarely keeps people where they were. Appearance uses the better
    matching of torso and legs, so one recoloured garment does not stop the person from being found: the
    point is to then measure that change. `transform` maps the second frame's colours onto the first's.

    A face seen on both sides decides: the same face (dlib distance under 0.6) is the same character
    whatever they wear, a different one never is. With `require_identity` (frames that do not see the
    same place, so place says nothing) a pair needs a face or clothing that says "same character".
    `lightness_weight` above 1 forgives lightness more than hue (another angle, other light).
    """
    if not first or not second:
        return []
    second = [adjusted(p, transform) for p in second]
    cost = np.full((len(first), len(second)), 1e3)
    diffs: dict[tuple[int, int], dict[str, float | None]] = {}
    how: dict[tuple[int, int], str] = {}
    for i, p in enumerate(first):
        for j, q in enumerate(second):
            d = {part: part_difference(p, q, part, lightness_weight) for part in ("head", *COSTUME_PARTS)}
            diffs[i, j] = d
            garments = [v for k, v in d.items() if k in COSTUME_PARTS and v is not None]
            # capped: a recoloured garment must not stop the person from being found (that is the change
            # to report); place and the other parts still decide
            appearance = (min(min(garments) / 20.0, 0.8) if garments else 1.0) + (
                d["head"] / 30.0 if d["head"] is not None else 0.5
            )
            same, by = identity(p, q)
            if by == "face":
                if same > 1.2:
                    continue  # another person's face
                appearance = min(appearance, 0.5 * same)
            elif require_identity and (same is None or same >= 1.0):
                continue
            how[i, j] = by if by in ("face", "clothing") and (by == "face" or require_identity) else "place"
            cost[i, j] = appearance + (0.0 if require_identity else _place_cost(p, q, to_first, sizes))
    rows, cols = linear_sum_assignment(cost)
    return [
        Match(int(i), int(j), float(cost[i, j]), diffs[i, j], how[i, j])
        for i, j in zip(rows, cols, strict=True)
        if cost[i, j] <= max_cost
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
