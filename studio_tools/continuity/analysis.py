"""The measured checks over one pair of frames, and against reference stills.

A pair is the last usable frame of an earlier shot and the first usable frame of a later one. Every
cut gives one (adjacent shots); when the two sides of a cut do not see the same place (a reverse
angle), the incoming shot is also compared with the nearest earlier shot that does, so shot A, its
reverse B and A again are still checked against each other ("match-back" pairs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from studio_tools.continuity.colour import IDENTITY, rgb_to_lab
from studio_tools.continuity.findings import Thresholds, colour_name, confidence, lab_list, measured, side
from studio_tools.continuity.frames import Frame
from studio_tools.continuity.lighting import LightMeasure, measure_light
from studio_tools.continuity.people import (
    COSTUME_PARTS,
    PART_WORDS,
    Match,
    Person,
    adjusted,
    detect_people,
    map_box,
    match_people,
    normalized_box,
    part_colours,
    part_difference,
)
from studio_tools.continuity.setdiff import Change, Registration, SetComparison, compare_set, register

MATCH_BACK_LIMIT = 3  # how many shots back a reverse angle looks for the same place


class PeopleCache:
    """People per decoded frame, so a frame used by two pairs is searched once."""

    def __init__(self) -> None:
        self._found: dict[tuple[int, int], list[Person]] = {}
        self._lab: dict[tuple[int, int], np.ndarray] = {}

    def lab(self, frame: Frame) -> np.ndarray:
        key = (frame.input_index, frame.frame)
        if key not in self._lab:
            self._lab[key] = rgb_to_lab(frame.image)
        return self._lab[key]

    def get(self, frame: Frame) -> list[Person]:
        key = (frame.input_index, frame.frame)
        if key not in self._found:
            self._found[key] = detect_people(frame.image, self.lab(frame))
        return self._found[key]


@dataclass
class PairResult:
    index: int
    first: Frame
    second: Frame
    adjacent: bool
    registration: Registration
    people_first: list[Person]
    people_second: list[Person]
    matches: list[Match] = field(default_factory=list)
    light: LightMeasure | None = None
    set_comparison: SetComparison | None = None
    findings: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    image: str | None = None  # the annotated picture's file name

    def describe(self) -> dict[str, Any]:
        w1, h1 = self.first.image.shape[1], self.first.image.shape[0]
        w2, h2 = self.second.image.shape[1], self.second.image.shape[0]
        comparison = self.set_comparison
        return {
            "index": self.index,
            "adjacent": self.adjacent,
            "outgoing": self.first.ref(),
            "incoming": self.second.ref(),
            "registration": self.registration.describe(),
            "people": {
                "outgoing": [p.describe(w1, h1) for p in self.people_first],
                "incoming": [p.describe(w2, h2) for p in self.people_second],
                "matched": [
                    {"outgoing": m.a, "incoming": m.b, "cost": round(m.cost, 3), "ciede2000": _rounded(m.differences)}
                    for m in self.matches
                ],
            },
            "light": None if self.light is None else self.light.describe(),
            "colour_map": None
            if comparison is None or comparison.transform.is_identity
            else {
                "gain": [round(g, 4) for g in comparison.transform.gain],
                "offset": [round(o, 4) for o in comparison.transform.offset],
            },
            "changed_fraction": None if comparison is None else round(comparison.changed_fraction, 5),
            "findings": [f["id"] for f in self.findings],
            "notes": self.notes,
            "image": self.image,
        }


def analyse_pair(
    index: int,
    first: Frame,
    second: Frame,
    *,
    adjacent: bool,
    checks: set[str],
    thresholds: Thresholds,
    people: PeopleCache,
    registration: Registration | None = None,
) -> PairResult:
    registration = registration or register(first.image, second.image)
    want_people = bool(checks & {"costume", "prop"})
    people_first = people.get(first) if want_people else []
    people_second = people.get(second) if want_people else []
    result = PairResult(index, first, second, adjacent, registration, people_first, people_second)
    h1, w1 = first.image.shape[:2]
    h2, w2 = second.image.shape[:2]

    comparison = compare_set(
        first.image,
        second.image,
        registration,
        [p.body_box for p in people_first],
        [p.body_box for p in people_second],
        pixel_threshold=thresholds.prop_pixel_delta_e,
        min_area_fraction=thresholds.prop_min_area,
        find_changes="prop" in checks,
    )
    result.set_comparison = comparison if registration.ok else None
    if not registration.ok:
        result.notes.append(f"not the same place ({registration.reason}): props not compared")

    if "costume" in checks:
        result.matches = match_people(
            people_first,
            people_second,
            to_first=registration.homography if registration.ok else None,
            sizes=((w1, h1), (w2, h2)),
            transform=comparison.transform if registration.ok else IDENTITY,
        )
        if registration.ok:
            result.matches = [
                _corresponding(
                    m, people_first[m.a], people_second[m.b], people, first, second, registration.homography, comparison.transform
                )
                for m in result.matches
            ]
        if not people_first or not people_second:
            result.notes.append(
                f"people found: {len(people_first)} outgoing, {len(people_second)} incoming; costume not compared"
            )
        result.findings += _costume_findings(result, comparison.transform if registration.ok else IDENTITY, thresholds)

    if "prop" in checks and registration.ok:
        result.findings += [_prop_finding(result, change, thresholds) for change in comparison.changes]

    if "lighting" in checks:
        # Light is only compared over the same place: a reverse angle sees other walls in other light,
        # and a mean over different content measures the set dressing, not the lamps. Such a cut is
        # still checked when a later shot returns to the first angle (a match-back pair).
        if registration.ok and comparison.static_mask is not None and comparison.warped is not None:
            mask = comparison.static_mask
            result.light = measure_light(first.image, comparison.warped, mask, mask, same_place=True)
            if result.light is None:
                result.notes.append("too little usable picture to measure the light")
            else:
                result.findings += _light_findings(result, thresholds)
        else:
            result.notes.append("light not compared: the frames do not see the same place")
    return result


def _corresponding(
    match: Match, p: Person, q: Person, people: PeopleCache, first: Frame, second: Frame, homography, transform
) -> Match:
    """Garment differences that forgive a badly placed detection box.

    The detector's box can sit a little high or low on one side; then "torso" samples part of the legs
    and a garment seems to change colour. When the frames are registered the same box can be laid on
    the other frame too, so each part is also measured with the outgoing box mapped into the incoming
    frame and the other way round, and the smallest difference is kept: a real change of colour shows
    whichever box is used, a box error does not.
    """
    lab1, lab2 = people.lab(first), people.lab(second)
    q_adj = adjusted(q, transform)
    inverse = np.linalg.inv(homography)
    q_at_p = adjusted(Person(q.box, q.score, part_colours(lab2, map_box(p.box, inverse))), transform)
    p_at_q = Person(p.box, p.score, part_colours(lab1, map_box(q.box, homography)))
    refined: dict[str, float | None] = {}
    for part, value in match.differences.items():
        options = [value, part_difference(p, q_at_p, part), part_difference(p_at_q, q_adj, part)]
        known = [v for v in options if v is not None]
        refined[part] = min(known) if known else None
    return Match(match.a, match.b, match.cost, refined)


def _costume_findings(result: PairResult, transform, thresholds: Thresholds) -> list[dict[str, Any]]:
    findings = []
    w1, h1 = result.first.image.shape[1], result.first.image.shape[0]
    w2, h2 = result.second.image.shape[1], result.second.image.shape[0]
    for match in result.matches:
        p = result.people_first[match.a]
        q = result.people_second[match.b]
        q_adjusted = adjusted(q, transform)
        for part in COSTUME_PARTS:
            value = match.differences.get(part)
            if value is None or value <= thresholds.costume_delta_e:
                continue
            reliability = min(1.0, 0.55 + 0.25 * min(p.score, q.score)) * (1.0 if result.registration.ok else 0.75)
            before, after = p.parts[part], q_adjusted.parts[part]
            where = _where(p.centre[0] / w1)
            explanation = (
                f"The {PART_WORDS[part]} of the person {where} changed colour across the cut, from {colour_name(before)} "
                f"to {colour_name(after)}: CIEDE2000 {value:.1f} (threshold {thresholds.costume_delta_e:.1f})"
                + (", after matching the two frames' exposure and white balance." if not transform.is_identity else ".")
            )
            findings.append(
                {
                    "type": "costume",
                    "check": part,
                    "pair": result.index,
                    "outgoing": side(result.first.ref(), normalized_box(p.part_box(part), w1, h1)),
                    "incoming": side(result.second.ref(), normalized_box(q.part_box(part), w2, h2)),
                    "measured": measured(
                        "ciede2000", value, thresholds.costume_delta_e, "ΔE00", before=lab_list(before), after=lab_list(after)
                    ),
                    "confidence": confidence(value, thresholds.costume_delta_e, reliability),
                    "explanation": explanation,
                }
            )
    return findings


_PROP_WORDS = {
    "vanished": "An object seen in the outgoing frame is missing from the incoming one",
    "appeared": "An object appears in the incoming frame that was not in the outgoing one",
    "moved": "An object moved between the two frames",
    "changed": "Something at this place looks different on the two sides of the cut",
}


def _prop_finding(result: PairResult, change: Change, thresholds: Thresholds) -> dict[str, Any]:
    w1, h1 = result.first.image.shape[1], result.first.image.shape[0]
    w2, h2 = result.second.image.shape[1], result.second.image.shape[0]
    reg = result.registration
    reliability = min(1.0, 0.6 + 0.8 * reg.inlier_ratio) * (0.8 if change.kind == "changed" else 1.0)
    objectness = f"object contrast {change.objectness[0]:.0f} before, {change.objectness[1]:.0f} after"
    explanation = (
        f"{_PROP_WORDS[change.kind]} ({change.area_fraction * 100:.1f}% of the frame; mean colour difference "
        f"{change.difference:.0f} after registering the frames and matching their exposure; {objectness})."
    )
    extra: dict[str, Any] = {
        "area_fraction": round(change.area_fraction, 5),
        "object_contrast": [round(v, 2) for v in change.objectness],
    }
    if change.moved_to is not None:
        extra["moved_to_in_outgoing"] = normalized_box(change.moved_to, w1, h1)
    return {
        "type": "prop",
        "check": change.kind,
        "pair": result.index,
        "outgoing": side(result.first.ref(), normalized_box(change.box_first, w1, h1)),
        "incoming": side(result.second.ref(), normalized_box(change.box_second, w2, h2)),
        "measured": measured("mean_delta_e", change.difference, thresholds.prop_pixel_delta_e, "ΔE76", **extra),
        "confidence": confidence(change.score * thresholds.prop_pixel_delta_e, thresholds.prop_pixel_delta_e, reliability),
        "explanation": explanation,
    }


def _light_findings(result: PairResult, thresholds: Thresholds) -> list[dict[str, Any]]:
    light = result.light
    assert light is not None
    reliability = min(1.0, 0.7 + light.pixels / (0.4 * result.first.image.shape[0] * result.first.image.shape[1]))
    where = "over the same part of the set"
    findings = []
    exposure_threshold = thresholds.exposure_delta_l
    if abs(light.delta_lightness) > exposure_threshold:
        brighter = "brighter" if light.delta_lightness > 0 else "darker"
        findings.append(
            {
                "type": "lighting",
                "check": "exposure",
                "pair": result.index,
                "outgoing": side(result.first.ref(), None),
                "incoming": side(result.second.ref(), None),
                "measured": measured(
                    "delta_lightness",
                    light.delta_lightness,
                    exposure_threshold,
                    "L*",
                    stops=round(light.stops, 3),
                    before=round(light.lightness[0], 2),
                    after=round(light.lightness[1], 2),
                ),  # fmt: skip
                "confidence": confidence(abs(light.delta_lightness), exposure_threshold, reliability),
                "explanation": (
                    f"The incoming frame is {abs(light.stops):.1f} stop {brighter} (mean L* {light.lightness[0]:.1f} → "
                    f"{light.lightness[1]:.1f}) {where}."
                ),
            }
        )
    wb_threshold = thresholds.white_balance_delta_uv
    if light.delta_uv > wb_threshold:
        a, b = light.white
        cct = (
            f"about {a.cct:.0f} K → {b.cct:.0f} K, {abs(light.mired_shift):.0f} mired"
            if a.cct is not None and b.cct is not None and light.mired_shift is not None
            else "off the black-body line"
        )
        findings.append(
            {
                "type": "lighting",
                "check": "white_balance",
                "pair": result.index,
                "outgoing": side(result.first.ref(), None),
                "incoming": side(result.second.ref(), None),
                "measured": measured(
                    "delta_uv",
                    light.delta_uv,
                    wb_threshold,
                    "Δuv",
                    cct_kelvin=[None if a.cct is None else round(a.cct), None if b.cct is None else round(b.cct)],
                    mired_shift=None if light.mired_shift is None else round(light.mired_shift, 1),
                ),  # fmt: skip
                "confidence": confidence(light.delta_uv, wb_threshold, reliability),
                "explanation": (
                    f"The white balance turns {light.warmer_or_cooler()} across the cut ({cct}; grey-world estimate {where})."
                ),
            }
        )
    return findings


@dataclass
class Reference:
    input_index: int
    name: str
    frame: Frame
    person: Person | None


def reference_findings(
    references: list[Reference], frames: list[Frame], *, thresholds: Thresholds, people: PeopleCache
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Costume against the continuity bible: each reference's character, found by appearance in the
    given frames of the shots, compared part by part. Returns (findings, per-frame notes for the report)."""
    findings: list[dict[str, Any]] = []
    seen: list[dict[str, Any]] = []
    usable = [r for r in references if r.person is not None]
    flagged: set[tuple[int, int, str]] = set()  # (reference, input, part): one finding per shot and part
    for frame in frames:
        found = people.get(frame)
        if not found or not usable:
            continue
        matches = match_people([r.person for r in usable], found, max_cost=1.2)
        h, w = frame.image.shape[:2]
        for match in matches:
            ref = usable[match.a]
            person = found[match.b]
            seen.append(
                {
                    "reference": ref.input_index,
                    "input": frame.input_index,
                    "frame": frame.frame,
                    "ciede2000": _rounded(match.differences),
                }
            )
            for part in COSTUME_PARTS:
                value = match.differences.get(part)
                key = (ref.input_index, frame.input_index, part)
                if value is None or value <= thresholds.costume_delta_e or key in flagged:
                    continue
                flagged.add(key)
                rh, rw = ref.frame.image.shape[:2]
                before, after = ref.person.parts[part], person.parts[part]
                findings.append(
                    {
                        "type": "costume",
                        "check": f"reference_{part}",
                        "pair": None,
                        "reference": side(ref.frame.ref(), normalized_box(ref.person.part_box(part), rw, rh)),
                        "shot": side(frame.ref(), normalized_box(person.part_box(part), w, h)),
                        "measured": measured(
                            "ciede2000", value, thresholds.costume_delta_e, "ΔE00", before=lab_list(before), after=lab_list(after)
                        ),
                        "confidence": confidence(value, thresholds.costume_delta_e, 0.8),
                        "explanation": (
                            f"Compared with the reference still {ref.name}, the {PART_WORDS[part]} of this character is "
                            f"{colour_name(after)} instead of {colour_name(before)}: CIEDE2000 {value:.1f} "
                            f"(threshold {thresholds.costume_delta_e:.1f}). "
                            "The light may differ from the reference's, so check by eye."
                        ),
                    }
                )
    return findings, seen


def make_reference(input_index: int, name: str, frame: Frame, people: PeopleCache) -> Reference:
    found = people.get(frame)
    person = max(found, key=lambda p: p.box[2] * p.box[3]) if found else None
    return Reference(input_index, name, frame, person)


def _where(x: float) -> str:
    return "on the left" if x < 0.38 else "on the right" if x > 0.62 else "in the middle"


def _rounded(values: dict[str, float | None]) -> dict[str, float | None]:
    return {k: None if v is None else round(v, 2) for k, v in values.items()}
