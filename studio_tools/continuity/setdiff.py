"""Props and set: register two frames of the same place, even out their light, and find what changed.

1. Register: ORB features on contrast-equalized greys, ratio-tested matches, a RANSAC homography from
   the second frame to the first. A pair "sees the same place" when enough matches agree and the
   warped frame covers a good part of the first; otherwise props are not compared (a reverse angle
   has nothing to compare with).
2. Normalize: a per-channel colour map fitted on the same-place pixels (people left out) brings the
   second frame to the first one's exposure and white balance, so a lighting jump is reported once,
   as lighting, and not again as every object in the room.
3. Difference: CIELAB distance after a light blur, tolerant of a pixel or two of registration error
   (each pixel is compared with the colour range of its neighbourhood on the other side, both ways).
4. Objects: connected regions of change, people masked out. Each region is inpainted from its
   surroundings on both sides; the side whose content differs more from that fill is the side that
   holds an object. Present before and missing after: vanished; the other way round: appeared; a
   vanished and an appeared region that look alike: moved; something on both sides: changed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from studio_tools.continuity.colour import (
    IDENTITY,
    ColourTransform,
    channel_max,
    ciede2000,
    fit_colour_transform,
    median_lab,
    rgb_to_lab,
)
from studio_tools.continuity.people import map_box

MIN_INLIERS = 25
MIN_INLIER_RATIO = 0.2
MIN_OVERLAP = 0.3
MAX_REGIONS = 12
OBJECT_EVIDENCE = math.log(1.6)  # how much more "object" one side must hold to call the change appeared/vanished


@dataclass
class Registration:
    ok: bool
    homography: np.ndarray | None  # second-frame pixels -> first-frame pixels
    matches: int
    inliers: int
    overlap: float  # fraction of the first frame that the second one covers
    reason: str

    @property
    def inlier_ratio(self) -> float:
        return self.inliers / self.matches if self.matches else 0.0

    def describe(self) -> dict:
        return {
            "same_place": self.ok,
            "matches": self.matches,
            "inliers": self.inliers,
            "inlier_ratio": round(self.inlier_ratio, 3),
            "overlap": round(self.overlap, 3),
            "homography": None if self.homography is None else [[round(float(v), 6) for v in row] for row in self.homography],
            "note": self.reason,
        }


def register(
    first: np.ndarray, second: np.ndarray, mask_first: np.ndarray | None = None, mask_second: np.ndarray | None = None
) -> Registration:
    """Homography taking `second` onto `first` (both RGB), or a Registration saying why there is none.

    `mask_first` / `mask_second` (uint8, 0 where features must not be taken: people, what moves)
    keep a person who shifted between the takes from pulling the geometry of the set."""
    g1, g2 = _features_grey(first), _features_grey(second)
    scale = first.shape[1] / 960.0
    orb = cv2.ORB_create(nfeatures=2000, fastThreshold=10, edgeThreshold=15, patchSize=31)
    k1, d1 = orb.detectAndCompute(g1, _enough(mask_first))
    k2, d2 = orb.detectAndCompute(g2, _enough(mask_second))
    if d1 is None or d2 is None or len(k1) < 10 or len(k2) < 10:
        return Registration(False, None, 0, 0, 0.0, "too little texture to match")
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(d2, d1, k=2)
    good = [m[0] for m in pairs if len(m) == 2 and m[0].distance < 0.8 * m[1].distance]
    if len(good) < MIN_INLIERS:
        return Registration(False, None, len(good), 0, 0.0, "the frames share too few features: a different angle or place")
    src = np.float32([k2[m.queryIdx].pt for m in good]).reshape(-1, 1, 2)
    dst = np.float32([k1[m.trainIdx].pt for m in good]).reshape(-1, 1, 2)
    # MAGSAC++ rather than plain RANSAC: on generated camera moves its worst error over the frame was
    # about half (0.9 px against 1.7 px at 480 wide), and every pixel of misregistration is a false edge.
    homography, mask = cv2.findHomography(src, dst, cv2.USAC_MAGSAC, max(2.0, 3.0 * scale), maxIters=3000, confidence=0.995)
    inliers = int(mask.sum()) if mask is not None else 0
    if homography is None or inliers < MIN_INLIERS or inliers < MIN_INLIER_RATIO * len(good):
        return Registration(False, None, len(good), inliers, 0.0, "no consistent geometry between the frames")
    if not _plausible(homography):
        return Registration(False, None, len(good), inliers, 0.0, "the only geometry found is implausible (extreme warp)")
    # The shared part of the set, as a fraction of the smaller view: a close-up inside a wide shot
    # covers little of the wide frame but all of itself, and that part is still compared.
    overlap = _overlap(homography, first.shape[:2], second.shape[:2])
    try:
        overlap = max(overlap, _overlap(np.linalg.inv(homography), second.shape[:2], first.shape[:2]))
    except np.linalg.LinAlgError:
        pass
    if overlap < MIN_OVERLAP:
        return Registration(False, homography, len(good), inliers, overlap, "the frames overlap too little")
    return Registration(True, homography, len(good), inliers, overlap, "same place")


def _enough(mask: np.ndarray | None) -> np.ndarray | None:
    """The feature mask, unless it leaves too little of the frame (then the whole frame is used)."""
    if mask is None or (mask > 0).mean() < 0.25:
        return None
    return mask


@dataclass
class SharedPart:
    """The part of the set two different angles both see, found by matched features (no homography):
    the hull of the consistent matches in each frame."""

    inliers: int
    mask_first: np.ndarray  # bool, first-frame pixels
    mask_second: np.ndarray
    fraction_first: float
    fraction_second: float

    def describe(self) -> dict:
        return {
            "matched_features": self.inliers,
            "outgoing_fraction": round(self.fraction_first, 3),
            "incoming_fraction": round(self.fraction_second, 3),
        }


SHARED_MIN_INLIERS = 25
SHARED_MIN_FRACTION = 0.03


def shared_part(
    first: np.ndarray, second: np.ndarray, mask_first: np.ndarray | None = None, mask_second: np.ndarray | None = None
) -> SharedPart | None:
    """What two angles of one place have in common, by SIFT features consistent with one camera
    geometry (a fundamental matrix: it holds for any scene, planar or not); None when too little."""
    g1, g2 = _features_grey(first), _features_grey(second)
    sift = cv2.SIFT_create(nfeatures=1500)
    k1, d1 = sift.detectAndCompute(g1, _enough(mask_first))
    k2, d2 = sift.detectAndCompute(g2, _enough(mask_second))
    if d1 is None or d2 is None or len(k1) < SHARED_MIN_INLIERS or len(k2) < SHARED_MIN_INLIERS:
        return None
    pairs = cv2.BFMatcher(cv2.NORM_L2).knnMatch(d2, d1, k=2)
    good = [m[0] for m in pairs if len(m) == 2 and m[0].distance < 0.75 * m[1].distance]
    if len(good) < SHARED_MIN_INLIERS:
        return None
    p2 = np.float32([k2[m.queryIdx].pt for m in good])
    p1 = np.float32([k1[m.trainIdx].pt for m in good])
    scale = first.shape[1] / 960.0
    _, inl = cv2.findFundamentalMat(p2, p1, cv2.USAC_MAGSAC, max(1.5, 2.0 * scale), 0.995, 3000)
    if inl is None:
        return None
    keep = inl.reshape(-1).astype(bool)
    if int(keep.sum()) < SHARED_MIN_INLIERS or keep.mean() < 0.3:
        return None
    masks, fractions = [], []
    for points, image in ((p1[keep], first), (p2[keep], second)):
        h, w = image.shape[:2]
        mask = np.zeros((h, w), np.uint8)
        cv2.fillConvexPoly(mask, cv2.convexHull(points.astype(np.int32)), 1)
        masks.append(mask > 0)
        fractions.append(float(mask.mean()))
    if min(fractions) < SHARED_MIN_FRACTION:
        return None
    return SharedPart(int(keep.sum()), masks[0], masks[1], fractions[0], fractions[1])


@dataclass
class Change:
    """One region that differs between the registered frames, in both frames' pixels."""

    kind: str  # "vanished", "appeared", "moved", "changed"
    box_first: tuple[float, float, float, float]
    box_second: tuple[float, float, float, float]
    area_fraction: float  # of the first frame
    difference: float  # mean CIELAB distance inside the region
    objectness: tuple[float, float]  # how much each side differs from its inpainted surroundings
    score: float  # evidence relative to the threshold, >= 1
    moved_to: tuple[float, float, float, float] | None = None  # for "moved": where it went, in first-frame pixels


@dataclass
class SetComparison:
    registration: Registration
    transform: ColourTransform = IDENTITY
    changes: list[Change] = field(default_factory=list)
    static_mask: np.ndarray | None = None  # first-frame pixels seen on both sides, no people, no changes
    warped: np.ndarray | None = None  # the second frame in first-frame pixels, before colour normalization
    changed_fraction: float = 0.0
    shared_fraction: float = 0.0  # of the first frame: where both frames see the set
    people_fraction: float = 0.0  # of that shared part: left out for people and what moves


def compare_set(
    first: np.ndarray,
    second: np.ndarray,
    registration: Registration,
    people_first: list[tuple[float, float, float, float]],
    people_second: list[tuple[float, float, float, float]],
    *,
    pixel_threshold: float,
    min_area_fraction: float,
    find_changes: bool = True,
    moving_first: np.ndarray | None = None,
    moving_second: np.ndarray | None = None,
) -> SetComparison:
    """Warp, normalize and difference two registered frames (see the module notes)."""
    result = SetComparison(registration)
    if not registration.ok or registration.homography is None:
        return result
    height, width = first.shape[:2]
    homography = registration.homography
    # A tighter (zoomed-in) second frame is shrunk onto the first: blur it first in proportion, or the
    # shrink aliases its fine texture and every sharp edge reads as a change.
    shrink = math.sqrt(abs(float(np.linalg.det(homography[:2, :2] / homography[2, 2]))))
    source = second
    if shrink < 0.9:
        source = cv2.GaussianBlur(second, (0, 0), 0.6 * math.sqrt(1.0 / (shrink * shrink) - 1.0))
    warped = cv2.warpPerspective(source, homography, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    valid = cv2.warpPerspective(np.full(second.shape[:2], 255, np.uint8), homography, (width, height), flags=cv2.INTER_NEAREST)
    margin = max(3, int(round(0.012 * width)))
    valid = cv2.erode(valid, np.ones((2 * margin + 1, 2 * margin + 1), np.uint8)) > 0
    people = np.zeros((height, width), bool)
    for box in people_first:
        _paint(people, _pad(box, 0.06), True)
    for box in people_second:
        _paint(people, _pad(map_box(box, homography), 0.06), True)
    # What moved inside either shot (passers-by, a waving hand) is no part of the set's continuity.
    if moving_first is not None:
        people |= moving_first
    if moving_second is not None:
        people |= cv2.warpPerspective(moving_second.astype(np.uint8), homography, (width, height), flags=cv2.INTER_NEAREST) > 0
    static = valid & ~people
    result.shared_fraction = float(valid.mean())
    result.people_fraction = float((people & valid).sum()) / max(1, int(valid.sum()))
    result.warped = warped
    result.transform = fit_colour_transform(warped, first, static)
    if not find_changes:
        result.static_mask = static
        return result

    normalized = result.transform.apply(warped)
    sigma = max(0.8, width / 480.0)
    lab1 = rgb_to_lab(cv2.GaussianBlur(first, (0, 0), sigma))
    lab2 = rgb_to_lab(cv2.GaussianBlur(normalized, (0, 0), sigma))
    # Tolerance of a few pixels: a handheld camera's parallax moves the edges of a set a little
    # between takes; an object that appears or goes is many times larger than that.
    radius = max(3, int(round(3.0 * width / 480.0)))
    difference = tolerant_difference(lab1, lab2, radius)
    # Where one side is clipped (or crushed) and the other side's colours, carried over to its light,
    # would be clipped there too, the two agree as far as anyone can tell: a brighter take burns out
    # the window it was aimed at. A clipped patch facing a mid-tone object still counts.
    predicted = result.transform.inverse().apply(first)
    top = {name: channel_max(image) for name, image in (("w", warped), ("p", predicted), ("f", first), ("n", normalized))}
    clipped = ((top["w"] >= 250) & (top["p"] >= 236)) | ((top["f"] >= 250) & (top["n"] >= 236))
    clipped |= ((top["w"] <= 5) & (top["p"] <= 16)) | ((top["f"] <= 5) & (top["n"] <= 16))
    clipped = cv2.dilate(clipped.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    changed = (difference > pixel_threshold) & static & ~clipped
    k = max(3, int(round(width / 160.0)) | 1)
    changed_u8 = cv2.morphologyEx(changed.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    changed_u8 = cv2.morphologyEx(changed_u8, cv2.MORPH_CLOSE, np.ones((k, k), np.uint8))
    result.changed_fraction = float(changed_u8.sum()) / max(1, int(static.sum()))

    count, labels, stats, _ = cv2.connectedComponentsWithStats(changed_u8, connectivity=8)
    min_area = min_area_fraction * width * height
    inverse = np.linalg.inv(homography)
    lab_first = rgb_to_lab(first)
    lab_second = rgb_to_lab(normalized)
    regions = []
    # The largest regions first, and a bounded number of them: a frame with dozens of changes is
    # reported by its main ones (and its changed fraction), not blob by blob.
    order = sorted(range(1, count), key=lambda i: -int(stats[i][cv2.CC_STAT_AREA]))[:MAX_REGIONS]
    for index in order:
        x, y, w, h, area = (int(v) for v in stats[index])
        if area < min_area:
            continue
        mask = labels[y : y + h, x : x + w] == index
        mean_diff = float(difference[y : y + h, x : x + w][mask].mean())
        region_mask = labels == index
        obj1 = _objectness(first, lab_first, region_mask, (x, y, w, h))
        obj2 = _objectness(normalized, lab_second, region_mask, (x, y, w, h))
        edge1 = _outline_strength(lab_first, region_mask, (x, y, w, h))
        edge2 = _outline_strength(lab_second, region_mask, (x, y, w, h))
        # Which side holds the object: mostly the inpainting test, with the outline as a second
        # witness for busy backgrounds (a book in front of a patterned window).
        evidence = math.log((obj1 + 2.0) / (obj2 + 2.0)) + 0.5 * math.log((edge1 + 1.0) / (edge2 + 1.0))
        kind = "vanished" if evidence >= OBJECT_EVIDENCE else "appeared" if evidence <= -OBJECT_EVIDENCE else "changed"
        box = (float(x), float(y), float(w), float(h))
        score = (mean_diff / pixel_threshold) * min(1.0, math.sqrt(area / (4.0 * min_area)))
        regions.append(
            {
                "kind": kind,
                "box": box,
                "mask": labels == index,
                "area": area,
                "diff": mean_diff,
                "obj": (obj1, obj2),
                "score": score,
            }
        )
    result.changes = _pair_moves(regions, lab_first, lab_second, inverse, width * height)
    not_changed = np.ones((height, width), bool)
    for region in regions:
        x, y, w, h = (int(v) for v in region["box"])
        not_changed[y : y + h, x : x + w] = False
    result.static_mask = static & not_changed
    return result


def tolerant_difference(lab1: np.ndarray, lab2: np.ndarray, radius: int) -> np.ndarray:
    """Per-pixel CIELAB distance that forgives `radius` pixels of misregistration.

    Each pixel is measured against the per-channel colour range of the other frame's neighbourhood
    (grey-level dilation and erosion), both ways, and the larger of the two distances is kept: an
    edge shifted by a pixel costs nothing, an object missing on one side still shows in full.
    """
    kernel = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)

    def one_way(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        high = cv2.dilate(b, kernel)
        low = cv2.erode(b, kernel)
        excess = np.maximum(a - high, 0.0) + np.maximum(low - a, 0.0)
        return np.sqrt((excess * excess).sum(axis=2))

    return np.maximum(one_way(lab1, lab2), one_way(lab2, lab1))


def _objectness(image: np.ndarray, lab: np.ndarray, mask: np.ndarray, box: tuple[int, int, int, int]) -> float:
    """Mean CIELAB distance between a region and its surroundings inpainted into it: high where the
    region holds something of its own, low where it is continuous with the background."""
    height, width = mask.shape
    x, y, w, h = box
    pad = max(6, int(0.6 * max(w, h)))
    x0, y0, x1, y1 = max(0, x - pad), max(0, y - pad), min(width, x + w + pad), min(height, y + h + pad)
    region = cv2.dilate(mask[y0:y1, x0:x1].astype(np.uint8), np.ones((5, 5), np.uint8))
    crop = np.ascontiguousarray(image[y0:y1, x0:x1])
    filled = cv2.inpaint(crop, region, 5, cv2.INPAINT_TELEA)
    inside = region > 0
    delta = lab[y0:y1, x0:x1][inside] - rgb_to_lab(filled)[inside]
    return float(np.sqrt((delta * delta).sum(axis=1)).mean()) if delta.size else 0.0


def _outline_strength(lab: np.ndarray, mask: np.ndarray, box: tuple[int, int, int, int]) -> float:
    """Mean lightness gradient along the region's edge: an object has its own outline there, a patch
    of background only whatever texture happens to cross it."""
    height, width = mask.shape
    x, y, w, h = box
    x0, y0, x1, y1 = max(0, x - 4), max(0, y - 4), min(width, x + w + 4), min(height, y + h + 4)
    lightness = np.ascontiguousarray(lab[y0:y1, x0:x1, 0])
    gradient = cv2.magnitude(cv2.Sobel(lightness, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(lightness, cv2.CV_32F, 0, 1, ksize=3))
    band = cv2.morphologyEx(mask[y0:y1, x0:x1].astype(np.uint8), cv2.MORPH_GRADIENT, np.ones((5, 5), np.uint8)) > 0
    return float(gradient[band].mean()) if band.any() else 0.0


def _pair_moves(
    regions: list[dict], lab_first: np.ndarray, lab_second: np.ndarray, inverse: np.ndarray, frame_area: int
) -> list[Change]:
    """Turn a region that lost an object and a similar-looking one that gained it into one "moved" change.

    The object's colour where it was (first frame) is compared with the colour where it now is (second
    frame). A region whose direction was unclear ("changed") may stand on either side of the move.
    """
    vanished = [r for r in regions if r["kind"] in ("vanished", "changed")]
    appeared = [r for r in regions if r["kind"] in ("appeared", "changed")]
    used: set[int] = set()
    changes: list[Change] = []
    for v in sorted(vanished, key=lambda r: r["kind"] != "vanished"):
        if id(v) in used:
            continue
        colour_v = median_lab(lab_first, v["mask"])
        best, best_d = None, 12.0
        for a in sorted(appeared, key=lambda r: r["kind"] != "appeared"):
            if a is v or id(a) in used or not 0.4 <= a["area"] / v["area"] <= 2.5:
                continue
            if v["kind"] == "changed" and a["kind"] == "changed":
                continue
            colour_a = median_lab(lab_second, a["mask"])
            if colour_v is None or colour_a is None:
                continue
            d = float(ciede2000(colour_v, colour_a))
            if d < best_d:
                best, best_d = a, d
        if best is not None:
            used.add(id(best))
            used.add(id(v))
            changes.append(
                Change(
                    "moved",
                    v["box"],
                    map_box(best["box"], inverse),
                    (v["area"] + best["area"]) / (2 * frame_area),
                    (v["diff"] + best["diff"]) / 2,
                    (v["obj"][0], best["obj"][1]),
                    max(v["score"], best["score"]),
                    moved_to=best["box"],
                )
            )
    for r in regions:
        if id(r) in used:
            continue
        changes.append(
            Change(r["kind"], r["box"], map_box(r["box"], inverse), r["area"] / frame_area, r["diff"], r["obj"], r["score"])
        )
    return changes


def _features_grey(image: np.ndarray) -> np.ndarray:
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    return cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(grey)


def _plausible(homography: np.ndarray) -> bool:
    h = homography / homography[2, 2] if abs(homography[2, 2]) > 1e-12 else homography
    det = float(np.linalg.det(h[:2, :2]))
    return 0.2 < det < 5.0 and abs(h[2, 0]) < 2e-3 and abs(h[2, 1]) < 2e-3


def _overlap(homography: np.ndarray, first_shape: tuple[int, int], second_shape: tuple[int, int]) -> float:
    h1, w1 = first_shape
    h2, w2 = second_shape
    corners = np.array([[[0, 0]], [[w2, 0]], [[w2, h2]], [[0, h2]]], np.float32)
    quad = cv2.perspectiveTransform(corners, homography.astype(np.float64)).astype(np.float32)
    frame = np.array([[0, 0], [w1, 0], [w1, h1], [0, h1]], np.float32)
    area, _ = cv2.intersectConvexConvex(frame, quad.reshape(-1, 2))
    return float(area) / float(w1 * h1)


def _pad(box: tuple[float, float, float, float], fraction: float) -> tuple[float, float, float, float]:
    x, y, w, h = box
    return (x - fraction * w, y - fraction * h, w * (1 + 2 * fraction), h * (1 + 2 * fraction))


def _paint(mask: np.ndarray, box: tuple[float, float, float, float], value: bool) -> None:
    height, width = mask.shape
    x, y, w, h = box
    x0, y0 = max(0, int(math.floor(x))), max(0, int(math.floor(y)))
    x1, y1 = min(width, int(math.ceil(x + w))), min(height, int(math.ceil(y + h)))
    if x1 > x0 and y1 > y0:
        mask[y0:y1, x0:x1] = value
