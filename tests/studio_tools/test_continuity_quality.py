"""The quality benchmark of the issue, as a test: generated shot pairs with known errors injected.

Positives: a recoloured costume (jacket or trousers), a prop removed (inpainted away), a prop added,
a prop moved, an exposure jump, a white-balance jump; half of them with a nuisance on top (camera
move, noise or recompression). Negatives: no error, but a small camera move, noise, heavy JPEG
recompression or a reframe. Every pair runs through `check_shots`, the same code the tool runs after
decoding. Targets: precision and recall of at least 0.9 overall, and the negatives mostly clean.

The thresholds and the detectors were developed on other seeds of the same generator; this seed was
picked afterwards and its result taken as it came, so the table is a fair estimate on this generator
(not on real footage: see the tool's notes on what the detectors miss).
"""

from __future__ import annotations

import time

import pytest

from studio_tools.continuity import synthetic as synth
from studio_tools.continuity.pipeline import check_images

PER_CASE = 4
SEED = 61_000
CASES = (*synth.POSITIVE_CASES, "prop_moved", *synth.NEGATIVE_CASES)


@pytest.fixture(scope="module")
def benchmark():
    pairs = synth.benchmark_pairs(PER_CASE, seed=SEED, cases=CASES)
    t0 = time.monotonic()
    findings = [check_images([p.outgoing, p.incoming]).findings for p in pairs]
    return pairs, findings, (time.monotonic() - t0) / len(pairs)


def table(pairs, findings, seconds_per_pair: float) -> str:
    scores = synth.score_pairs(pairs, findings)
    lines = [
        f"continuity benchmark: {len(pairs)} generated pairs (480x270), {seconds_per_pair:.2f} s per pair",
        f"{'check':<10}{'TP':>5}{'FP':>5}{'FN':>5}{'precision':>11}{'recall':>9}",
    ]
    for name, s in scores.items():
        lines.append(
            f"{name:<10}{s.true_positives:>5}{s.false_positives:>5}{s.false_negatives:>5}{s.precision:>11.3f}{s.recall:>9.3f}"
        )
    negatives = [f for p, f in zip(pairs, findings, strict=True) if p.negative]
    clean = sum(1 for f in negatives if not f)
    lines.append(f"negatives clean: {clean}/{len(negatives)}")
    for case in CASES:
        rows = [(p, f) for p, f in zip(pairs, findings, strict=True) if p.case == case]
        right = sum(
            1 for p, f in rows if all(any(synth.finding_matches(x, t) for x in f) for t in p.truths) and len(f) == len(p.truths)
        )
        lines.append(f"  {case:<14} exactly right {right}/{len(rows)}")
    return "\n".join(lines)


def test_precision_and_recall_meet_the_targets(benchmark, capsys):
    pairs, findings, seconds = benchmark
    with capsys.disabled():
        print("\n" + table(pairs, findings, seconds))
    scores = synth.score_pairs(pairs, findings)
    overall = scores["overall"]
    assert overall.precision >= 0.9 and overall.recall >= 0.9, table(pairs, findings, seconds)
    for check in ("costume", "prop", "lighting"):
        assert scores[check].precision >= 0.75 and scores[check].recall >= 0.75, (check, scores[check])
    negatives = [f for p, f in zip(pairs, findings, strict=True) if p.negative]
    assert sum(1 for f in negatives if f) <= 0.1 * len(negatives), "negatives should be mostly clean"


def test_findings_carry_everything_a_reviewer_needs(benchmark):
    _, findings, _ = benchmark
    flat = [f for per_pair in findings for f in per_pair]
    assert flat, "the positives must produce findings"
    for f in flat:
        assert f["source"] == "measured" and f["type"] in ("costume", "prop", "lighting")
        assert 0.0 < f["confidence"] <= 1.0 and f["explanation"]
        if f["type"] != "prop":  # a prop's value is the region's mean difference; its pixels passed the threshold
            assert abs(f["measured"]["value"]) > f["measured"]["threshold"]
        for side in ("outgoing", "incoming"):
            assert {"input", "frame", "time", "timecode", "box"} <= set(f[side])
            box = f[side]["box"]
            if f["type"] == "lighting":
                assert box is None
            elif box is not None:
                assert 0 <= box["x"] <= 1 and 0 <= box["y"] <= 1 and 0 < box["w"] <= 1 and 0 < box["h"] <= 1


def test_prop_direction_is_mostly_right(benchmark):
    """Vanished vs appeared is told apart by inpainting each side's region from its surroundings."""
    pairs, findings, _ = benchmark
    judged = right = 0
    for pair, found in zip(pairs, findings, strict=True):
        for truth in pair.truths:
            if truth.check != "prop" or truth.kind == "moved":
                continue
            hit = next((f for f in found if synth.finding_matches(f, truth)), None)
            if hit is not None:
                judged += 1
                right += hit["check"] == truth.kind
    assert judged >= 6 and right >= 0.8 * judged, (right, judged)


def test_lower_sensitivity_never_finds_more():
    pairs = synth.benchmark_pairs(1, seed=SEED + 1, cases=("costume", "prop_added", "exposure", "noise"))
    for pair in pairs:
        strict = check_images([pair.outgoing, pair.incoming], thresholds=synth_thresholds(0.0)).findings
        loose = check_images([pair.outgoing, pair.incoming], thresholds=synth_thresholds(1.0)).findings
        assert len(strict) <= len(loose), pair.case


def synth_thresholds(sensitivity: float):
    from studio_tools.continuity.findings import Thresholds

    return Thresholds.for_sensitivity(sensitivity)
