"""The crowd tool's parameters, validated before any frame is read."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from studio_tools.core import ToolParams

MAX_REGION_POINTS = 64


class CrowdParams(ToolParams):
    region: list[tuple[float, float]] | None = Field(
        None,
        description="Where people may be added: a polygon of [x, y] points in normalized frame coordinates "
        "(0,0 top left, 1,1 bottom right), drawn on a frame of the plate. Default: the whole frame.",
        json_schema_extra={"x-widget": "polygon", "x-frame-slot": "plate"},
    )
    density: float = Field(2.0, gt=1.0, le=8.0, description="People in the result as a multiple of the people in the plate.")
    min_spacing: float = Field(
        0.15,
        ge=0.0,
        le=2.0,
        description="Gap kept around every person, original or added, as a fraction of that person's height.",
    )
    perspective: Literal["auto", "horizon", "none"] = Field(
        "auto",
        description="How added people are scaled: 'auto' fits person height against foot position from the people in the "
        "plate; 'horizon' uses the horizon line given in `horizon`; 'none' keeps every copy at its original size.",
    )
    horizon: float | None = Field(
        None, ge=0.0, le=1.0, description="Horizon height in normalized coordinates (0 top, 1 bottom), for perspective='horizon'."
    )
    time_offset: tuple[float, float] = Field(
        (0.0, 4.0),
        description="Range of time offsets, in seconds, between a copy that loops (a person standing or pacing) and "
        "the person it was taken from: [min, max]. People walking through play their take once, starting anywhere in the shot.",
    )
    completeness: Literal["pose", "off"] = Field(
        "pose",
        description="'pose': copy only people the pose model sees whole, head to feet, at a whole person's height for "
        "where they stand (the rest are rejected, with the reason, in the report); 'off': copy whatever the background "
        "difference found (for plates whose subjects are not people).",
    )
    mirror: bool = Field(True, description="Allow copies to be mirrored left to right.")
    colour_variation: float = Field(
        0.3, ge=0.0, le=1.0, description="How far copies' colours are shifted in LAB (0: none, 1: up to 12 L and 10 a/b units)."
    )
    grain: bool = Field(True, description="Add grain to copies so their noise matches the plate's after rescaling.")
    subtractor: Literal["mog2", "knn"] = Field("mog2", description="Background subtractor used to find the people.")
    person_check: Literal["report", "require", "off"] = Field(
        "report",
        description="OpenCV's HOG person detector as a check on what the subtractor found: 'report' only reports it, 'require' "
        "copies only people it confirms, 'off' skips it.",
    )
    output_format: Literal["prores", "png"] = Field(
        "prores",
        description="The added-crowd layer as ProRes 4444 with alpha (layer.mov) or as a zip of RGBA PNG frames (layer.zip). "
        "The comp is always ProRes 422 HQ with an H.264 proxy, the matte always a ProRes 422 HQ video.",
    )
    seed: int = Field(0, ge=0, le=2**31 - 1, description="Same seed, same plate and parameters: the same result, bit for bit.")

    @field_validator("region")
    @classmethod
    def _valid_polygon(cls, value: list[tuple[float, float]] | None) -> list[tuple[float, float]] | None:
        if value is None:
            return None
        if len(value) < 3:
            raise _problem(f"the region needs at least 3 points, got {len(value)}")
        if len(value) > MAX_REGION_POINTS:
            raise _problem(f"the region may have at most {MAX_REGION_POINTS} points, got {len(value)}")
        for n, (x, y) in enumerate(value):
            if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
                raise _problem(f"region point {n + 1} ({x:g}, {y:g}) is outside the frame; coordinates are normalized, 0 to 1")
        if self_intersects(value):
            raise _problem("the region's edges cross each other; draw a simple polygon whose outline does not cross itself")
        if abs(polygon_area(value)) < 1e-4:
            raise _problem("the region has (almost) no area; draw a polygon around where people may be added")
        return value

    @field_validator("time_offset")
    @classmethod
    def _valid_offsets(cls, value: tuple[float, float]) -> tuple[float, float]:
        low, high = value
        if low < 0 or high < low:
            raise _problem("time_offset is [min, max] seconds with 0 <= min <= max")
        if high > 3600:
            raise _problem("time_offset may be at most an hour")
        return value

    @field_validator("horizon")
    @classmethod
    def _horizon_given(cls, value: float | None, info: ValidationInfo) -> float | None:
        # runs for the default too (ToolParams validates defaults); `perspective` is declared first
        if value is None and info.data.get("perspective") == "horizon":
            raise _problem("perspective='horizon' needs the horizon parameter (normalized height of the horizon line)")
        return value


def _problem(message: str) -> PydanticCustomError:
    """A validation error whose message is shown as is (no "Value error," prefix)."""
    return PydanticCustomError("crowd_param", message)


def polygon_area(points: list[tuple[float, float]]) -> float:
    """Signed area (shoelace)."""
    total = 0.0
    for (x0, y0), (x1, y1) in zip(points, points[1:] + points[:1], strict=True):
        total += x0 * y1 - x1 * y0
    return total / 2


def self_intersects(points: list[tuple[float, float]]) -> bool:
    """True when two non-adjacent edges of the closed polygon cross or touch, or a point repeats."""
    n = len(points)
    if len({(round(x, 9), round(y, 9)) for x, y in points}) != n:
        return True
    edges = [(points[i], points[(i + 1) % n]) for i in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            if j == i + 1 or (i == 0 and j == n - 1):
                continue  # neighbours share a point
            if _segments_meet(*edges[i], *edges[j]):
                return True
    return False


def _segments_meet(a, b, c, d) -> bool:
    def orient(p, q, r) -> float:
        return (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])

    def on_segment(p, q, r) -> bool:
        return (
            min(p[0], r[0]) - 1e-12 <= q[0] <= max(p[0], r[0]) + 1e-12
            and min(p[1], r[1]) - 1e-12 <= q[1] <= max(p[1], r[1]) + 1e-12
        )

    o1, o2, o3, o4 = orient(a, b, c), orient(a, b, d), orient(c, d, a), orient(c, d, b)
    if ((o1 > 0) != (o2 > 0)) and ((o3 > 0) != (o4 > 0)) and o1 and o2 and o3 and o4:
        return True
    eps = 1e-15
    return (
        (abs(o1) <= eps and on_segment(a, c, b))
        or (abs(o2) <= eps and on_segment(a, d, b))
        or (abs(o3) <= eps and on_segment(c, a, d))
        or (abs(o4) <= eps and on_segment(c, b, d))
    )
