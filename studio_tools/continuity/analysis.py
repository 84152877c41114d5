"""The measured checks over one pair of frames, and against reference stills.

A pair is the last usable frame of an earlier shot and the first usable frame of a later one. Every
cut gives one (adjacent shots); when the two sides of a cut do not see the same place (a reverse
angle), the incoming shot is also compared with the nearest earlier shot that does, so shot A, its
reverse B and A again are still checked against each other ("match-back" pairs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from studio_tools.continuity.colour import IDENTITY, WhitePoint, planckian_uv, rgb_to_lab, white_point
from studio_tools.continuity.findings import Thresholds, colour_name, confidence, lab_list, measured, side
from studio_tools.continuity.frames import Frame
from studio_tools.continuity.lighting import SAME_SCENE_PALETTE, LightMeasure, measure_light, palette_overlap
from studio_tools.continuity.people import (
    COSTUME_PARTS,
    PART_WORDS,
    Match,
    Person,
    adjusted,
    detect_people,
    identity,
    map_box,
    match_people,
    normalized_box,
    part_colours,
    part_difference,
)
from studio_tools.continuity.setdiff import (
    Change,
    Registration,
    SetComparison,
    SharedPart,
    compare_set,
    register,
    shared_part,
)
from studio_tools.core.messages import define, message

MATCH_BACK_LIMIT = 3  # how many shots back a reverse angle looks for the same place
MIN_COSTUME_HEIGHT = 0.2  # people shorter than this fraction of the frame are not judged for costume


class PeopleCache:
    """People per decoded frame, so a frame used by two pairs is searched once."""

    def __init__(self) -> None:
        self._found: dict[tuple[int, int], list[Person]] = {}
        self._lab: dict[tuple[int, int], np.ndarray] = {}
        self.characters = CharacterBook()

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


class CharacterBook:
    """Who is who across the run: named characters from the reference stills (the character sheet),
    and "Person 1", "Person 2", ... for anyone else, each known by face descriptors and clothing."""

    def __init__(self) -> None:
        self.characters: list[dict[str, Any]] = []  # {"name", "named", "people": [Person, ...]}
        self._known: dict[int, str] = {}

    def add(self, name: str, person: Person | None, *, named: bool = True) -> None:
        entry = next((c for c in self.characters if c["name"] == name), None)
        if entry is None:
            entry = {"name": name, "named": named, "people": []}
            self.characters.append(entry)
        if person is not None and id(person) not in self._known:
            entry["people"].append(person)
            self._known[id(person)] = name

    def name(self, person: Person) -> str:
        """The character this person is (best face match, else clothing), or a new "Person N"."""
        known = self._known.get(id(person))
        if known is not None:
            return known
        best, best_cost = None, 1.0
        for entry in self.characters:
            for other in entry["people"]:
                cost, by = identity(person, other)
                if cost is None:
                    continue
                if by == "clothing" and not entry["named"]:
                    cost *= 1.25  # clothing alone is weaker evidence between unnamed people
                if cost < best_cost:
                    best, best_cost = entry["name"], cost
        if best is None:
            best = f"Person {sum(1 for c in self.characters if not c['named']) + 1}"
            self.add(best, person, named=False)
        else:
            self.add(best, person)
        return best

    def same(self, first: Person, second: Person) -> str:
        """Two people matched across a cut: one character, named after the first."""
        name = self.name(first)
        self.add(name, second)
        return name


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
    coverage: dict[str, dict[str, Any]] = field(default_factory=dict)  # per check: state, plain words (and message)
    white: tuple[WhitePoint, WhitePoint] | None = None  # white balance from the fitted colour map
    too_small: int = 0  # people matched across the cut but too small to judge their costume
    shared: SharedPart | None = None  # another angle: the part of the set both frames see
    palette: float | None = None  # another angle, no shared part: how alike the two frames' colours are (0..1)

    def describe(self) -> dict[str, Any]:
        w1, h1 = self.first.image.shape[1], self.first.image.shape[0]
        w2, h2 = self.second.image.shape[1], self.second.image.shape[0]
        comparison = self.set_comparison
        return {
            "index": self.index,
            "adjacent": self.adjacent,
            **headline(self.coverage),
            "coverage": self.coverage,
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
            "shared_part": None if self.shared is None else self.shared.describe(),
            "palette_overlap": None if self.palette is None else round(self.palette, 3),
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
        moving_first=first.moving,
        moving_second=second.moving,
    )
    result.set_comparison = comparison if registration.ok else None
    same_place = registration.ok
    shared = comparison.shared_fraction if same_place else 0.0

    if "costume" in checks:
        if same_place:
            result.matches = match_people(
                people_first,
                people_second,
                to_first=registration.homography,
                sizes=((w1, h1), (w2, h2)),
                transform=comparison.transform,
            )
            result.matches = [
                _corresponding(
                    m, people_first[m.a], people_second[m.b], people, first, second, registration.homography, comparison.transform
                )
                for m in result.matches
            ]
        else:
            # Another angle: place says nothing, so a character is only followed by face or clothing,
            # and lightness counts half (other light on the garment from another side).
            result.matches = match_people(
                people_first, people_second, sizes=((w1, h1), (w2, h2)), require_identity=True, lightness_weight=2.0
            )
        # Someone smaller than a fifth of the frame (a passer-by in a wide shot) shows too few pixels of
        # each garment for a colour to be trusted, and in a crowd the match itself is a guess.
        small = [
            m for m in result.matches if min(people_first[m.a].box[3] / h1, people_second[m.b].box[3] / h2) < MIN_COSTUME_HEIGHT
        ]
        result.matches = [m for m in result.matches if m not in small]
        result.too_small = len(small)
        result.findings += _costume_findings(
            result, comparison.transform if same_place else IDENTITY, thresholds, people.characters
        )
        result.coverage["costume"] = _costume_coverage(result)

    if "prop" in checks:
        if same_place:
            result.findings += [_prop_finding(result, change, thresholds) for change in comparison.changes]
            words = f"compared over the part of the set both frames see ({shared * 100:.0f}% of the outgoing frame)"
            if comparison.people_fraction > 0.02:
                words += f", leaving out people and what moves ({comparison.people_fraction * 100:.0f}% of it)"
            state = "compared" if shared >= 0.6 else "partly"
            result.coverage["prop"] = {"state": state, "words": words}
        else:
            result.coverage["prop"] = _not_compared(message("continuity.reason.other_place", why=_registration_why(registration)))
    if not same_place:
        result.shared = shared_part(first.image, second.image, *_people_free(result))
        if result.shared is not None and "prop" in checks:
            sh = result.shared
            result.coverage["prop"] = {
                "state": "partly",
                "words": (
                    f"the part of the set both angles see was found ({sh.inliers} matched features; "
                    f"{sh.fraction_first * 100:.0f}% of the outgoing frame, {sh.fraction_second * 100:.0f}% of the "
                    "incoming one); objects are compared object by object only within one camera set-up"
                ),
            }

    if not same_place and result.shared is None:
        # whole frames, people included: costumes belong to a scene's colours as much as its walls
        everywhere = np.ones(first.image.shape[:2], bool), np.ones(second.image.shape[:2], bool)
        result.palette = palette_overlap(first.image, second.image, *everywhere)
        if "costume" in checks and result.palette < SAME_SCENE_PALETTE and not people_first and not people_second:
            # nobody on either side of a change of location: nothing was compared, so nothing is said to be
            result.coverage["costume"] = _not_compared(message("continuity.reason.nobody_other_scene"))

    if "lighting" in checks:
        # Light is only compared over the same place: a reverse angle sees other walls in other light,
        # and a mean over different content measures the set dressing, not the lamps. Such a cut is
        # still checked when a later shot returns to the first angle (a match-back pair).
        if same_place and comparison.static_mask is not None and comparison.warped is not None:
            mask = comparison.static_mask
            light = measure_light(first.image, comparison.warped, mask, mask, same_place=True)
            if light is not None:
                result.light = light
                result.white = white_balance_shift(light, comparison.transform)
            _light_check(
                result,
                light,
                thresholds,
                f"compared over the part of the set both frames see ({shared * 100:.0f}% of the outgoing frame)",
                message("continuity.reason.light_clipped"),
            )
        elif result.shared is not None:
            # Another angle on the same place: the light on the part of the set both see, people left
            # out. Other surfaces face the lens from another side, so the limits are doubled.
            first_free, second_free = _people_free(result)
            m1 = result.shared.mask_first & (first_free > 0)
            m2 = result.shared.mask_second & (second_free > 0)
            result.light = measure_light(first.image, second.image, m1, m2, same_place=False)
            _light_check(
                result,
                result.light,
                Thresholds.across_angles(thresholds),
                "compared over the part of the set both angles see (limits doubled across angles)",
                message("continuity.reason.light_shared_small"),
            )
        elif result.palette is not None and result.palette >= SAME_SCENE_PALETTE:
            # Another angle of one scene with no part of the set in common (a wide and a close-up): the
            # scene's light over the whole frames, people and what moves left out, with wide limits.
            first_free, second_free = _people_free(result)
            result.light = measure_light(first.image, second.image, first_free > 0, second_free > 0, same_place=False)
            _light_check(
                result,
                result.light,
                Thresholds.whole_frames(thresholds),
                "partly: the scene's light over the whole frames, as no part of the set is seen from both angles "
                f"(one scene by its colours, {result.palette:.2f} alike); only a gross change counts",
                message("continuity.reason.light_frames_clipped"),
                state="partly",
                where="measured over the whole frames (no part of the set is seen from both angles)",
            )
        else:
            why = _registration_why(registration)
            if result.palette is not None:
                alike = round(result.palette, 2)
                reason = message("continuity.reason.other_place_other_scene", why=why, alike=alike)
            else:
                reason = message("continuity.reason.other_place", why=why)
            result.coverage["lighting"] = _not_compared(reason)
    result.notes += [f"{check}: {c['words']}" for check, c in result.coverage.items()]
    return result


def _light_check(
    result: PairResult,
    light: LightMeasure | None,
    thresholds: Thresholds,
    done: str,
    too_little: dict[str, Any],
    *,
    state: str = "compared",
    where: str = "measured over the part of the set both frames see",
) -> None:
    if light is None:
        result.coverage["lighting"] = _not_compared(too_little)
        return
    result.findings += _light_findings(result, thresholds, where)
    result.coverage["lighting"] = {"state": state, "words": done}


def people_free_mask(frame: Frame, found: list[Person]) -> np.ndarray:
    """Where the set shows (uint8, 0 on people, with a margin, and on what moves in the shot)."""
    h, w = frame.image.shape[:2]
    mask = np.full((h, w), 255, np.uint8)
    if frame.moving is not None:
        mask[frame.moving] = 0
    for person in found:
        x, y, bw, bh = person.body_box
        x0, x1 = max(0, int(x - 0.1 * bw)), min(w, int(x + 1.1 * bw))
        mask[max(0, int(y - 0.05 * bh)) : min(h, int(y + 1.05 * bh)), x0:x1] = 0
    return mask


def _people_free(result: PairResult) -> tuple[np.ndarray, np.ndarray]:
    return people_free_mask(result.first, result.people_first), people_free_mask(result.second, result.people_second)


def _costume_coverage(result: PairResult) -> dict[str, Any]:
    n1, n2 = len(result.people_first), len(result.people_second)
    if not n1 and not n2:
        return {"state": "compared", "words": "nobody is seen on either side"}
    measured_matches = [m for m in result.matches if any(m.differences.get(p) is not None for p in COSTUME_PARTS)]
    if not measured_matches and result.too_small:
        return _not_compared(message("continuity.reason.too_small", n=result.too_small))
    if not measured_matches:
        return _not_compared(message("continuity.reason.nobody_recognised", before=n1, after=n2))
    how = sorted({m.by for m in measured_matches})
    words = f"{len(measured_matches)} character(s) compared (recognised by {', '.join(how)})"
    unmatched = max(n1, n2) - len(measured_matches)
    if unmatched > 0:
        return {"state": "partly", "words": words + f"; {unmatched} person(s) seen on one side only"}
    return {"state": "compared", "words": words}


def headline(coverage: dict[str, dict[str, str]]) -> dict[str, str]:
    """The pair's status in one line: checked, partly checked (what part) or not comparable (why)."""
    states = {check: c["state"] for check, c in coverage.items()}
    done = [c for c, s in states.items() if s == "compared"]
    partial = [c for c, s in states.items() if s == "partly"]
    missing = [c for c, s in states.items() if s == "not compared"]
    if not states or len(missing) == len(states):
        reasons = "; ".join(f"{CHECK_WORDS.get(c, c)}: {coverage[c]['words']}" for c in missing)
        return {"status": "not comparable", "why": reasons or "no check was asked for"}
    if not missing and not partial:
        return {"status": "checked", "why": "; ".join(f"{CHECK_WORDS.get(c, c)}: {coverage[c]['words']}" for c in done)}
    what = [f"{CHECK_WORDS.get(c, c)}: {coverage[c]['words']}" for c in (*done, *partial, *missing)]
    return {"status": "partly checked", "why": "; ".join(what)}


CHECK_WORDS = {"costume": "costume", "prop": "props and set", "lighting": "light"}
CHECK_CODES = {check: define(f"continuity.check.{check}", words) for check, words in CHECK_WORDS.items()}

# Why a check could not be made on a cut, by code (studio_tools.core.messages): the run's warnings say it.
define("continuity.not_compared", "not compared: {reason}")
define("continuity.reason.other_place", "the two frames do not show the same part of the set ({why})")
define(
    "continuity.reason.other_place_other_scene",
    "the two frames do not show the same part of the set ({why}), and their colours say another scene ({alike:.2f} alike)",
)
REGISTRATION_CODES = {
    "too little texture to match": define("continuity.registration.texture", "too little texture to match"),
    "the frames share too few features: a different angle or place": define(
        "continuity.registration.features", "the frames share too few features: a different angle or place"
    ),
    "no consistent geometry between the frames": define(
        "continuity.registration.geometry", "no consistent geometry between the frames"
    ),
    "the only geometry found is implausible (extreme warp)": define(
        "continuity.registration.implausible", "the only geometry found is implausible (extreme warp)"
    ),
    "the frames overlap too little": define("continuity.registration.overlap", "the frames overlap too little"),
    "same place": define("continuity.registration.same_place", "same place"),
}
define("continuity.registration.other", "{why}")
define("continuity.reason.nobody_other_scene", "nobody is seen on either side, and the two shots are not of one scene")
define("continuity.reason.too_small", "the {n} person(s) seen on both sides are too small to judge a costume")
define(
    "continuity.reason.nobody_recognised",
    "no character is recognised on both sides ({before} person(s) before the cut, {after} after)",
)
define("continuity.reason.light_clipped", "too little of the set is neither clipped nor black")
define("continuity.reason.light_shared_small", "the part of the set both angles see is too small once people are left out")
define("continuity.reason.light_frames_clipped", "too little of either frame is neither clipped nor black")


def _not_compared(reason: dict[str, Any]) -> dict[str, Any]:
    """A check's coverage when it could not be made: the words, and their machine form for the warnings."""
    said = message("continuity.not_compared", reason=reason)
    return {"state": "not compared", "words": said["text"], "message": said}


def _registration_why(registration: Registration) -> dict[str, Any]:
    code = REGISTRATION_CODES.get(registration.reason)
    return message(code) if code else message("continuity.registration.other", why=registration.reason)


def white_balance_shift(light: LightMeasure, transform) -> tuple[WhitePoint, WhitePoint] | None:
    """White balance from the colour map fitted between the frames over the same pixels: the outgoing
    white point, and where the incoming frame's per-channel gains take it. An exposure change scales
    all channels alike and moves nothing; only a change of balance moves the white point."""
    before = light.white[0]
    if transform.is_identity:
        return light.white
    gains = np.asarray(transform.gain, np.float64)  # incoming -> outgoing
    after_rgb = np.asarray(before.rgb, np.float64) / np.maximum(gains, 1e-6)
    after = white_point(after_rgb)
    return (before, after) if after is not None else light.white


def _corresponding(
    match: Match, p: Person, q: Person, people: PeopleCache, first: Frame, second: Frame, homography, transform
) -> Match:
    """Garment differences that forgive a badly placed detection box.

    The detector's box can sit a little high or low on one side; then "torso" samples part of the legs
    and a garment seems to change colour. When the frames are registered the same box can be laid on
    the other frame too, so each part is also measured with the outgoing box mapped into the incoming
    frame and the other way round, and the smallest difference is kept: a real change of colour shows
    whichever box is used, a box error does not. People found by the pose model are sampled on their
    own mask between their own landmarks, so their differences stand as measured.
    """
    if p.source != "hog" or q.source != "hog":
        return match
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


def _costume_findings(result: PairResult, transform, thresholds: Thresholds, book: CharacterBook) -> list[dict[str, Any]]:
    findings = []
    w1, h1 = result.first.image.shape[1], result.first.image.shape[0]
    w2, h2 = result.second.image.shape[1], result.second.image.shape[0]
    same_place = result.registration.ok
    for match in result.matches:
        p = result.people_first[match.a]
        q = result.people_second[match.b]
        character = book.same(p, q)
        q_adjusted = adjusted(q, transform)
        for part in COSTUME_PARTS:
            value = match.differences.get(part)
            if value is None or value <= thresholds.costume_delta_e:
                continue
            reliability = min(1.0, 0.55 + 0.25 * min(p.score, q.score)) * (1.0 if same_place else 0.75)
            before, after = p.parts[part], q_adjusted.parts[part]
            recognised = {"face": "recognised by face", "clothing": "recognised by clothing"}.get(match.by, "same place")
            explanation = (
                f"{character}: the {PART_WORDS[part]} changes from {colour_name(before)} to {colour_name(after)} across "
                f"the cut ({recognised}). Colour difference {value:.0f} where {thresholds.costume_delta_e:.0f} is the limit"
                + (", after evening out the two frames' exposure and white balance." if not transform.is_identity else ".")
                + ("" if same_place else " The angles differ, so check by eye.")
            )
            findings.append(
                {
                    "type": "costume",
                    "check": part,
                    "character": character,
                    "identified_by": match.by,
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
    "vanished": "Something seen before the cut is missing after it",
    "appeared": "Something appears after the cut that was not there before",
    "moved": "Something moved between the two sides of the cut",
    "changed": "Something at this place looks different on the two sides of the cut",
}


def _prop_finding(result: PairResult, change: Change, thresholds: Thresholds) -> dict[str, Any]:
    w1, h1 = result.first.image.shape[1], result.first.image.shape[0]
    w2, h2 = result.second.image.shape[1], result.second.image.shape[0]
    reg = result.registration
    reliability = min(1.0, 0.6 + 0.8 * reg.inlier_ratio) * (0.8 if change.kind == "changed" else 1.0)
    explanation = (
        f"{_PROP_WORDS[change.kind]} ({change.area_fraction * 100:.1f}% of the frame), with people and passers-by "
        f"left out and the two frames' light evened out. Colour difference {change.difference:.0f} where "
        f"{thresholds.prop_pixel_delta_e:.0f} is the limit."
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


def _light_findings(result: PairResult, thresholds: Thresholds, where: str) -> list[dict[str, Any]]:
    light = result.light
    assert light is not None
    reliability = min(1.0, 0.7 + light.pixels / (0.4 * result.first.image.shape[0] * result.first.image.shape[1]))
    if not light.same_place and result.shared is None:
        reliability *= 0.7  # whole frames of two angles: weaker evidence than the set both see
    findings = []
    if abs(light.stops) > thresholds.exposure_stops:
        brighter = "brighter" if light.stops > 0 else "darker"
        findings.append(
            {
                "type": "lighting",
                "check": "exposure",
                "pair": result.index,
                "outgoing": side(result.first.ref(), None),
                "incoming": side(result.second.ref(), None),
                "measured": measured(
                    "stops",
                    light.stops,
                    thresholds.exposure_stops,
                    "stops",
                    mean_lightness=[round(light.lightness[0], 2), round(light.lightness[1], 2)],
                ),
                "confidence": confidence(abs(light.stops), thresholds.exposure_stops, reliability),
                "explanation": (
                    f"After the cut the picture is {abs(light.stops):.1f} stop {brighter} "
                    f"(the limit is {thresholds.exposure_stops:.2f} stop), {where}."
                ),
            }
        )
    a, b = result.white or light.white
    delta_uv = math.hypot(b.u - a.u, b.v - a.v)
    mired = None if a.cct is None or b.cct is None else 1e6 / b.cct - 1e6 / a.cct
    # Along the colour temperatures the shift is judged in mireds; off them (green or magenta, or no
    # temperature at all) by the distance in CIE 1960 uv.
    if mired is not None and abs(mired) > thresholds.white_balance_mired:
        value, threshold, unit, metric = abs(mired), thresholds.white_balance_mired, "mired", "mired_shift"
    else:
        tint = delta_uv if mired is None else max(0.0, delta_uv - _locus_distance(a, b))
        value, threshold, unit, metric = (
            tint,
            thresholds.white_balance_delta_uv,
            "Δuv",
            "delta_uv" if mired is None else "tint_shift",
        )
    flagged = value > threshold
    if flagged:
        warmer = _warmer(a, b, mired)
        kelvin = (
            f"from about {a.cct:.0f} K to {b.cct:.0f} K, a shift of {abs(mired):.0f} mired "
            f"(the limit is {thresholds.white_balance_mired:.0f})"
            if mired is not None and unit == "mired"
            else "with a green or magenta tint"
        )
        findings.append(
            {
                "type": "lighting",
                "check": "white_balance",
                "pair": result.index,
                "outgoing": side(result.first.ref(), None),
                "incoming": side(result.second.ref(), None),
                "measured": measured(
                    metric,
                    value,
                    threshold,
                    unit,
                    cct_kelvin=[None if a.cct is None else round(a.cct), None if b.cct is None else round(b.cct)],
                    mired_shift=None if mired is None else round(mired, 1),
                    delta_uv=round(delta_uv, 5),
                ),
                "confidence": confidence(value, threshold, reliability),
                "explanation": f"The white balance turns {warmer} across the cut, {kelvin}; {where}.",
            }
        )
    return findings


def _locus_distance(a: WhitePoint, b: WhitePoint) -> float:
    """How far apart two white points are along the colour temperatures (uv between their locus points)."""
    (ua, va), (ub, vb) = planckian_uv(a.cct or 6500.0), planckian_uv(b.cct or 6500.0)
    return math.hypot(ub - ua, vb - va)


def _warmer(a: WhitePoint, b: WhitePoint, mired: float | None) -> str:
    if mired is not None:
        return "warmer" if mired > 0 else "cooler"
    return "warmer" if (b.rgb[0] / max(b.rgb[2], 1e-6)) > (a.rgb[0] / max(a.rgb[2], 1e-6)) else "cooler"


@dataclass
class Reference:
    input_index: int
    name: str
    frame: Frame
    person: Person | None
    character: str = ""  # the character sheet's name (the display name when none was given)
    costume: str | None = None  # the sheet's costume words, e.g. "red jacket, jeans"
    scene: str | None = None

    def __post_init__(self) -> None:
        self.character = self.character or self.name


def reference_findings(
    references: list[Reference], frames: list[Frame], *, thresholds: Thresholds, people: PeopleCache
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Costume against the continuity bible: each reference's character, found by appearance in the
    given frames of the shots, compared part by part. Returns (findings, per-frame notes for the report)."""
    findings: list[dict[str, Any]] = []
    seen: list[dict[str, Any]] = []
    usable = [r for r in references if r.person is not None]
    flagged: set[tuple[str, int, str]] = set()  # (character, input, part): one finding per shot and part
    for frame in frames:
        found = people.get(frame)
        if not found or not usable:
            continue
        matches = match_people([r.person for r in usable], found, max_cost=1.2)
        h, w = frame.image.shape[:2]
        for match in matches:
            ref = usable[match.a]
            person = found[match.b]
            people.characters.add(ref.character, person)
            seen.append(
                {
                    "character": ref.character,
                    "reference": ref.input_index,
                    "input": frame.input_index,
                    "frame": frame.frame,
                    "ciede2000": _rounded(match.differences),
                }
            )
            for part in COSTUME_PARTS:
                value = match.differences.get(part)
                key = (ref.character, frame.input_index, part)
                if value is None or value <= thresholds.costume_delta_e or key in flagged:
                    continue
                flagged.add(key)
                rh, rw = ref.frame.image.shape[:2]
                before, after = ref.person.parts[part], person.parts[part]
                findings.append(
                    {
                        "type": "costume",
                        "check": f"reference_{part}",
                        "character": ref.character,
                        "identified_by": match.by,
                        "pair": None,
                        "reference": side(ref.frame.ref(), normalized_box(ref.person.part_box(part), rw, rh)),
                        "shot": side(frame.ref(), normalized_box(person.part_box(part), w, h)),
                        "measured": measured(
                            "ciede2000", value, thresholds.costume_delta_e, "ΔE00", before=lab_list(before), after=lab_list(after)
                        ),
                        "confidence": confidence(value, thresholds.costume_delta_e, 0.8),
                        "explanation": (
                            f"{ref.character}: compared with the reference still {ref.name}"
                            + (f" (costume: {ref.costume})" if ref.costume else "")
                            + f", the {PART_WORDS[part]} is {colour_name(after)} instead of {colour_name(before)}. "
                            f"Colour difference {value:.0f} where {thresholds.costume_delta_e:.0f} is the limit. "
                            "The light may differ from the reference's, so check by eye."
                        ),
                    }
                )
    return findings, seen


def make_reference(
    input_index: int,
    name: str,
    frame: Frame,
    people: PeopleCache,
    *,
    character: str | None = None,
    costume: str | None = None,
    scene: str | None = None,
) -> Reference:
    """A reference still of one character (the biggest person in it), entered in the run's character book."""
    found = people.get(frame)
    person = max(found, key=lambda p: p.box[2] * p.box[3]) if found else None
    reference = Reference(input_index, name, frame, person, character or "", costume, scene)
    people.characters.add(reference.character, person)
    return reference


def _where(x: float) -> str:
    return "on the left" if x < 0.38 else "on the right" if x > 0.62 else "in the middle"


def _rounded(values: dict[str, float | None]) -> dict[str, float | None]:
    return {k: None if v is None else round(v, 2) for k, v in values.items()}
