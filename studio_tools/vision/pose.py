"""One person's body landmarks and segmentation from MediaPipe's BlazePose GHUM landmark model.

The model (pose_landmark_full.tflite) expects a 256x256 crop with the person upright in the middle
and filling most of it, the way MediaPipe's pipeline crops around a detection. `pose_on_box` makes
that crop from a person box (from a detector, a tracker or a background difference): a square of
`CROP_SCALE` times the box's long side, centred on the box, padded with edge pixels where it leaves
the frame. It returns the 33 landmarks in image pixels with their visibility and presence, the
model's pose score, and the person mask pasted back into image coordinates (probability 0..1).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from studio_tools.vision import models

INPUT = 256
CROP_SCALE = 1.25
NUM_LANDMARKS = 33

# BlazePose landmark indices
NOSE = 0
LEFT_EAR, RIGHT_EAR = 7, 8
LEFT_SHOULDER, RIGHT_SHOULDER = 11, 12
LEFT_HIP, RIGHT_HIP = 23, 24
LEFT_KNEE, RIGHT_KNEE = 25, 26
LEFT_ANKLE, RIGHT_ANKLE = 27, 28
LEFT_HEEL, RIGHT_HEEL = 29, 30
HEAD = (NOSE, 1, 2, 3, 4, 5, 6, LEFT_EAR, RIGHT_EAR, 9, 10)
FEET = (LEFT_ANKLE, RIGHT_ANKLE, LEFT_HEEL, RIGHT_HEEL, 31, 32)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60, 60)))


@dataclass
class Pose:
    score: float  # the model's "a person is in this crop" probability
    points: np.ndarray  # (33, 2) float, image pixels (x, y)
    visibility: np.ndarray  # (33,) 0..1: the landmark is seen (not occluded)
    presence: np.ndarray  # (33,) 0..1: the landmark is inside the crop
    mask: np.ndarray  # (H, W) float32 0..1 over the whole image: person probability (meaningless when score is low)
    crop: tuple[int, int, int]  # (x0, y0, side) of the square crop in image pixels

    def seen(self, indices, threshold: float = 0.5) -> bool:
        """True when any of the given landmarks is both present and visible."""
        idx = list(indices)
        return bool(np.any((self.visibility[idx] > threshold) & (self.presence[idx] > threshold)))

    def has_head_and_feet(self, threshold: float = 0.5) -> bool:
        return self.seen(HEAD, threshold) and self.seen(FEET, threshold)

    def head_to_feet(self) -> float:
        """Vertical extent from the top of the head landmarks to the lowest foot landmark, in pixels."""
        top = float(self.points[list(HEAD), 1].min())
        bottom = float(self.points[list(FEET), 1].max())
        return bottom - top


def square_crop(image: np.ndarray, box: tuple[float, float, float, float], scale: float = CROP_SCALE):
    """A square crop (padded by replicating the edge) around a box (x0, y0, x1, y1), and where it sits."""
    h, w = image.shape[:2]
    x0, y0, x1, y1 = box
    side = max(4, int(round(max(x1 - x0, y1 - y0) * scale)))
    cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    sx, sy = int(round(cx - side / 2.0)), int(round(cy - side / 2.0))
    pad_l, pad_t = max(0, -sx), max(0, -sy)
    pad_r, pad_b = max(0, sx + side - w), max(0, sy + side - h)
    inner = image[max(0, sy) : min(h, sy + side), max(0, sx) : min(w, sx + side)]
    crop = cv2.copyMakeBorder(inner, pad_t, pad_b, pad_l, pad_r, cv2.BORDER_REPLICATE)
    return crop, (sx, sy, side)


def pose_on_box(image_bgr: np.ndarray, box: tuple[float, float, float, float], threads: int = 1) -> Pose:
    """Runs the landmark model on the person inside `box` of a BGR frame."""
    h, w = image_bgr.shape[:2]
    crop, (sx, sy, side) = square_crop(image_bgr, box)
    # area averaging to shrink; to enlarge a small person, cubic: INTER_AREA enlarges as blocks, which the model misreads
    grow = cv2.INTER_AREA if side >= INPUT else cv2.INTER_CUBIC
    rgb = cv2.cvtColor(cv2.resize(crop, (INPUT, INPUT), interpolation=grow), cv2.COLOR_BGR2RGB)
    out = models.run(models.POSE_LANDMARK, (rgb.astype(np.float32) / 255.0)[None], threads)
    raw = out["Identity"].reshape(-1, 5)[:NUM_LANDMARKS]
    flag = float(out["Identity_1"].reshape(-1)[0])
    seg = _sigmoid(out["Identity_2"].reshape(INPUT, INPUT).astype(np.float32))
    k = side / INPUT
    points = np.stack([sx + raw[:, 0] * k, sy + raw[:, 1] * k], axis=1)
    mask = np.zeros((h, w), np.float32)
    seg_full = cv2.resize(seg, (side, side), interpolation=cv2.INTER_LINEAR)
    ix0, iy0 = max(0, sx), max(0, sy)
    ix1, iy1 = min(w, sx + side), min(h, sy + side)
    if ix1 > ix0 and iy1 > iy0:
        mask[iy0:iy1, ix0:ix1] = seg_full[iy0 - sy : iy1 - sy, ix0 - sx : ix1 - sx]
    return Pose(
        score=flag,
        points=points,
        visibility=_sigmoid(raw[:, 3]),
        presence=_sigmoid(raw[:, 4]),
        mask=mask,
        crop=(sx, sy, side),
    )
