"""The finding record, thresholds and confidence: what every check reports, in one shape.

A finding (one dict in findings.json):

    id            "M1", "M2", ... for measured findings, "A1", ... for the model's second opinion
    source        "measured" (this tool's own measurement) or "model" (the external AI's opinion)
    type          "costume", "prop" or "lighting"
    check         what exactly: costume "torso" / "legs" (across a cut) or "reference_torso" /
                  "reference_legs" (against a character's reference still); prop "vanished" /
                  "appeared" / "moved" / "changed"; lighting "exposure" (in stops) / "white_balance"
                  (in mireds, or CIE 1960 uv off the colour temperatures)
    character     for costume: the character's name (from the reference stills' `character`), or
                  "Person 1", "Person 2", ... when nobody named them
    pair          index into report["pairs"] (the two frames compared), null for reference checks
    outgoing, incoming   for a pair: each side's input index, input name, frame number, time in seconds,
                  timecode and `box` ({"x", "y", "w", "h"} in 0..1 of that frame, or null)
    reference, shot      instead of outgoing/incoming for a reference check
    at            where a reviewer's note belongs: the side where the break is seen (incoming, or shot)
    measured      {"metric", "value", "threshold", "unit", ...}: what was measured (null for the model)
    confidence    0..1
    explanation   one or two sentences for a person
    image         the annotated picture that shows it
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

TYPES = ("costume", "prop", "lighting")


@dataclass(frozen=True)
class Thresholds:
    """Where each measurement starts to count as a finding; `for_sensitivity` scales them all."""

    costume_delta_e: float = 10.0  # CIEDE2000 between a garment's median colours
    prop_pixel_delta_e: float = 14.0  # CIELAB distance for a pixel to count as changed
    prop_min_area: float = 0.0015  # smallest changed region, as a fraction of the frame
    exposure_stops: float = 0.3  # exposure jump in stops (log2 of the ratio of mean linear luminance)
    white_balance_delta_uv: float = 0.0045  # white point shift, CIE 1960 uv, where no colour temperature applies
    white_balance_mired: float = 12.0  # white point shift along the colour temperatures, in mireds

    @classmethod
    def for_sensitivity(cls, sensitivity: float) -> Thresholds:
        """0.5 is the default; 1.0 halves every threshold (more findings), 0.0 doubles them."""
        f = 2.0 ** ((0.5 - sensitivity) * 2.0)
        base = cls()
        return cls(
            base.costume_delta_e * f,
            base.prop_pixel_delta_e * f,
            base.prop_min_area * f,
            base.exposure_stops * f,
            base.white_balance_delta_uv * f,
            base.white_balance_mired * f,
        )

    @classmethod
    def across_angles(cls, base: Thresholds) -> Thresholds:
        """Light limits doubled for two angles of one place (other surfaces, seen from another side)."""
        return cls(
            base.costume_delta_e,
            base.prop_pixel_delta_e,
            base.prop_min_area,
            base.exposure_stops * 2,
            base.white_balance_delta_uv * 2,
            base.white_balance_mired * 2,
        )

    @classmethod
    def whole_frames(cls, base: Thresholds) -> Thresholds:
        """Light limits for two angles of one scene that share no part of the set, compared over whole
        frames (people and what moves left out): a wide and a close-up of one scene differed by up to
        0.97 stop and 51 mired on the development set's real cuts with no error, so only a gross change
        (a lamp missing, the wrong white-balance preset) can be told from the framing: 1.5 stops, 78 mired."""
        return cls(
            base.costume_delta_e,
            base.prop_pixel_delta_e,
            base.prop_min_area,
            base.exposure_stops * 5,
            base.white_balance_delta_uv * 7,
            base.white_balance_mired * 6.5,
        )

    def describe(self) -> dict[str, float]:
        return {
            "costume_ciede2000": round(self.costume_delta_e, 3),
            "prop_pixel_delta_e": round(self.prop_pixel_delta_e, 3),
            "prop_min_area_fraction": round(self.prop_min_area, 5),
            "exposure_stops": round(self.exposure_stops, 3),
            "white_balance_delta_uv": round(self.white_balance_delta_uv, 5),
            "white_balance_mired": round(self.white_balance_mired, 2),
        }


def confidence(value: float, threshold: float, reliability: float = 1.0) -> float:
    """How sure: 0.5 exactly at the threshold, about 0.95 at twice it, scaled by how much the
    measurement itself can be trusted (registration quality, detector score)."""
    ratio = value / threshold if threshold > 0 else 0.0
    c = 1.0 / (1.0 + math.exp(-3.0 * (ratio - 1.0)))
    return round(float(min(0.99, max(0.01, c * reliability))), 3)


def side(frame_ref: dict[str, Any], box: dict | None) -> dict[str, Any]:
    return {**frame_ref, "box": box}


def measured(metric: str, value: float, threshold: float, unit: str, **extra: Any) -> dict[str, Any]:
    return {"metric": metric, "value": round(float(value), 4), "threshold": round(float(threshold), 4), "unit": unit, **extra}


def colour_name(lab: np.ndarray | None) -> str:
    """A plain colour word for an L*a*b* colour, for explanations ("red", "dark blue", "grey")."""
    if lab is None:
        return "unknown"
    lightness, a, b = (float(v) for v in lab)
    chroma = math.hypot(a, b)
    if chroma < 10:
        if lightness < 25:
            return "black"
        if lightness > 85:
            return "white"
        return "dark grey" if lightness < 50 else "grey"
    hue = math.degrees(math.atan2(b, a)) % 360
    names = [
        (20, "pink"),
        (50, "red"),
        (75, "orange"),
        (105, "yellow"),
        (160, "green"),
        (230, "teal"),
        (315, "blue"),
        (345, "purple"),
    ]
    name = next((n for limit, n in names if hue < limit), "pink")
    if name in ("orange", "yellow") and lightness < 45:
        name = "brown"
    if lightness < 35 and name not in ("brown",):
        name = f"dark {name}"
    return name


def lab_list(lab: np.ndarray | None) -> list[float] | None:
    return None if lab is None else [round(float(v), 2) for v in lab]
