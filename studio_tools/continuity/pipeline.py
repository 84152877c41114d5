"""From decoded shots to numbered findings: the part of a run that neither reads nor writes files.

The tool calls `check_shots` after decoding; the quality benchmark calls it on pictures generated in
memory, so both measure exactly the same code.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from studio_tools.continuity.analysis import (
    MATCH_BACK_LIMIT,
    PairResult,
    PeopleCache,
    Reference,
    analyse_pair,
    people_free_mask,
    reference_findings,
)
from studio_tools.continuity.findings import Thresholds
from studio_tools.continuity.frames import Frame, Shot, motion_mask, pick_edge_frame
from studio_tools.continuity.setdiff import register
from studio_tools.core import NullProgress, Progress

CHECKS = ("costume", "prop", "lighting")


@dataclass
class Checked:
    pairs: list[PairResult]
    findings: list[dict[str, Any]]
    edges: list[tuple[Frame, Frame]]  # per shot: (first usable frame, last usable frame)
    reference_matches: list[dict[str, Any]] = field(default_factory=list)
    frames: dict[tuple[int, int], Frame] = field(default_factory=dict)  # every frame looked at, by (input, frame)


def check_shots(
    shots: Sequence[Shot],
    references: Sequence[Reference] = (),
    *,
    checks: Iterable[str] = CHECKS,
    thresholds: Thresholds | None = None,
    progress: Progress | None = None,
    people: PeopleCache | None = None,
) -> Checked:
    """Run the measured checks over shots in cut order (and against reference stills)."""
    progress = progress or NullProgress()
    wanted = set(checks)
    thresholds = thresholds or Thresholds()
    people = people or PeopleCache()
    edges = [(pick_edge_frame(s.head, at_end=False), pick_edge_frame(s.tail, at_end=True)) for s in shots]
    for shot, (head, tail) in zip(shots, edges, strict=True):
        if head.moving is None:
            head.moving = motion_mask(shot.head)
        if tail.moving is None:
            tail.moving = motion_mask(shot.tail)
    pairs: list[PairResult] = []
    steps = max(1, len(shots) - 1 + (1 if references else 0))
    for k in range(1, len(shots)):
        progress.check_cancelled()
        first, second = edges[k - 1][1], edges[k][0]
        registration = register(first.image, second.image, *_feature_masks(first, second, people, wanted))
        match_back = None
        if not registration.ok:
            for j in range(k - 2, max(-1, k - 2 - MATCH_BACK_LIMIT), -1):
                earlier = register(edges[j][1].image, second.image, *_feature_masks(edges[j][1], second, people, wanted))
                if earlier.ok:
                    match_back = (j, earlier)
                    break
        common = {"checks": wanted, "thresholds": thresholds, "people": people}
        pairs.append(
            analyse_pair(
                len(pairs),
                first,
                second,
                adjacent=True,
                registration=registration,
                **common,
            )
        )
        if match_back is not None:
            j, earlier = match_back
            pair = analyse_pair(len(pairs), edges[j][1], second, adjacent=False, registration=earlier, **common)
            pair.notes.append(f"match-back: shot {j + 1} and shot {k + 1} see the same place across the reverse in between")
            pairs.append(pair)
        progress.update(k / steps, message=f"cut {k}/{len(shots) - 1}")

    findings = [f for pair in pairs for f in pair.findings]
    reference_seen: list[dict[str, Any]] = []
    if references and "costume" in wanted:
        progress.check_cancelled()
        frames: list[Frame] = []
        for shot, (head, tail) in zip(shots, edges, strict=True):
            for frame in (head, *shot.keys, tail):
                if all((f.input_index, f.frame) != (frame.input_index, frame.frame) for f in frames):
                    frames.append(frame)
        ref_findings, reference_seen = reference_findings(list(references), frames, thresholds=thresholds, people=people)
        findings += ref_findings
    for n, finding in enumerate(findings, start=1):
        finding["id"] = f"M{n}"
        finding["source"] = "measured"
        finding["at"] = finding.get("incoming") or finding.get("shot")
    progress.update(1.0)
    looked_at = {(f.input_index, f.frame): f for shot, edge in zip(shots, edges, strict=True) for f in (*edge, *shot.keys)}
    return Checked(pairs, findings, edges, reference_seen, looked_at)


def _feature_masks(first: Frame, second: Frame, people: PeopleCache, wanted: set[str]):
    """Where registration may take its features: not on people, not on what moves in the shot."""
    look = bool(wanted & {"costume", "prop"})
    return tuple(people_free_mask(frame, people.get(frame) if look else []) for frame in (first, second))


def check_images(images: Sequence, *, checks: Iterable[str] = CHECKS, thresholds: Thresholds | None = None) -> Checked:
    """`check_shots` over RGB arrays held in memory, one picture per shot."""
    shots = [Shot.from_image(n, n, f"shot{n + 1}", image) for n, image in enumerate(images)]
    return check_shots(shots, checks=checks, thresholds=thresholds)
