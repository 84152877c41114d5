"""Light and colour across a cut: exposure as mean L*, white balance as a grey-world white point.

When the two frames see the same place, both are measured over the same pixels (the overlap, with
people and changed objects left out), so what differs is the light, not the framing. When they do
not, whole frames (people left out) are compared and the result is marked as weaker evidence: a
wide shot of a dark room and a close-up on a lit face differ in mean L* with no continuity error.

Grey-world takes the mean linear RGB as the colour of the light. An exposure change scales all three
channels alike and leaves that chromaticity where it was, so exposure and white balance are measured
apart: a change of exposure moves L*, a change of balance moves the white point (reported as the CIE
1960 uv distance, the correlated colour temperature on each side and the shift in mireds).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from studio_tools.continuity.colour import WhitePoint, channel_max, grey_world, mean_lightness, rgb_to_lab, srgb_to_linear


@dataclass(frozen=True)
class LightMeasure:
    same_place: bool
    lightness: tuple[float, float]
    stops: float  # log2 of the ratio of mean linear luminance, second over first
    white: tuple[WhitePoint, WhitePoint]
    pixels: int

    @property
    def delta_lightness(self) -> float:
        return self.lightness[1] - self.lightness[0]

    @property
    def delta_uv(self) -> float:
        a, b = self.white
        return math.hypot(b.u - a.u, b.v - a.v)

    @property
    def mired_shift(self) -> float | None:
        a, b = self.white
        if a.cct is None or b.cct is None:
            return None
        return 1e6 / b.cct - 1e6 / a.cct

    def warmer_or_cooler(self) -> str:
        """Which way the light moved, in a grip's words: warmer (towards amber) or cooler (towards blue)."""
        shift = self.mired_shift
        a, b = self.white
        if shift is not None:
            return "warmer" if shift > 0 else "cooler"
        return "warmer" if (b.rgb[0] / max(b.rgb[2], 1e-6)) > (a.rgb[0] / max(a.rgb[2], 1e-6)) else "cooler"

    def describe(self) -> dict:
        a, b = self.white
        shift = self.mired_shift
        return {
            "compared": "same place (overlap)" if self.same_place else "whole frames",
            "pixels": self.pixels,
            "mean_lightness": [round(self.lightness[0], 2), round(self.lightness[1], 2)],
            "delta_lightness": round(self.delta_lightness, 2),
            "stops": round(self.stops, 3),
            "white_point_uv": [[round(a.u, 5), round(a.v, 5)], [round(b.u, 5), round(b.v, 5)]],
            "cct_kelvin": [None if a.cct is None else round(a.cct), None if b.cct is None else round(b.cct)],
            "delta_uv": round(self.delta_uv, 5),
            "mired_shift": None if shift is None else round(shift, 1),
        }


def measure_light(
    first: np.ndarray, second: np.ndarray, mask_first: np.ndarray, mask_second: np.ndarray, *, same_place: bool
) -> LightMeasure | None:
    """Compare the light of two RGB frames over their masks; None when too little is left to measure.

    For the same place both frames are measured over the same pixels, less any that are clipped or
    crushed on either side: a pixel that burnt out in the brighter take no longer says what colour the
    light was, and leaving it out on one side only would tilt the comparison.
    """
    if same_place:
        usable = _unclipped(first) & _unclipped(second)
        mask_first = mask_second = mask_first & mask_second & usable
    lab1, lab2 = rgb_to_lab(first), rgb_to_lab(second)
    l1, l2 = mean_lightness(lab1, mask_first), mean_lightness(lab2, mask_second)
    w1, w2 = grey_world(first, mask_first), grey_world(second, mask_second)
    if l1 is None or l2 is None or w1 is None or w2 is None:
        return None
    y1 = _mean_luminance(first, mask_first)
    y2 = _mean_luminance(second, mask_second)
    stops = math.log2(max(y2, 1e-6) / max(y1, 1e-6))
    return LightMeasure(same_place, (l1, l2), stops, (w1, w2), int(min(mask_first.sum(), mask_second.sum())))


def _mean_luminance(rgb: np.ndarray, mask: np.ndarray) -> float:
    linear = srgb_to_linear(rgb)[mask]
    return float((linear @ np.array([0.2126, 0.7152, 0.0722], np.float32)).mean())


def _unclipped(rgb: np.ndarray) -> np.ndarray:
    """Pixels that still say what colour the light is: neither clipped nor near black, with the same
    limits as `grey_world`, so that (used on both frames) an exposure change leaves out the same
    pixels on both sides and cannot tilt the white point."""
    top = channel_max(srgb_to_linear(rgb))
    return (top < 0.97) & (top > 0.005)


# One scene seen from two angles that share no part of the set (a wide and a close-up, a shot and
# its reverse) keeps its palette: the same walls, costumes and light give the same spread of hues.
# Another location does not. On the development set's real cuts (realpairs.REAL_CUTS) the overlap
# was 0.84-0.98 for the six pairs of angles of one scene and 0.57-0.78 for the three changes of
# location: the limit sits in that gap, which is narrow (nine cuts), so it is a judgement, not a proof.
SAME_SCENE_PALETTE = 0.81


def palette_overlap(first: np.ndarray, second: np.ndarray, mask_first: np.ndarray, mask_second: np.ndarray) -> float:
    """How alike the colours of two RGB frames are, 0..1: the Bhattacharyya coefficient of their
    chromaticity histograms (r and g of linear light over r + g + b) over the masks. Chromaticity does
    not move with exposure, so a darker take of one scene stays one scene; a white-balance error large
    enough to move the whole palette makes the two frames look like two scenes (then not compared)."""

    def hist(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray | None:
        linear = srgb_to_linear(rgb)[mask]
        total = linear.sum(axis=1)
        lit = total > 0.02  # near black says nothing about colour
        if lit.sum() < 500:
            return None
        r, g = linear[lit, 0] / total[lit], linear[lit, 1] / total[lit]
        h, _, _ = np.histogram2d(r, g, bins=16, range=[[0.0, 1.0], [0.0, 1.0]])
        h = cv2.GaussianBlur(h.astype(np.float32), (3, 3), 0.7)  # a colour on a bin edge counts on both sides
        return h / max(float(h.sum()), 1e-9)

    h1, h2 = hist(first, mask_first), hist(second, mask_second)
    if h1 is None or h2 is None:
        return 0.0
    return float(np.sqrt(h1 * h2).sum())
