"""The benchmark of wrong facts: the local verifier must hold back every false sentence and verify most true ones.

Run with -s to see the confusion matrix (also printed by bench/verify_facts.py).
"""

from __future__ import annotations

from collections import Counter

from tests.studio_tools.data.verify_facts import CASES, SCENES, confusion, evaluate, report


def test_the_benchmark_is_big_and_varied_enough():
    assert len(CASES) >= 150
    assert len({c.sentence for c in CASES}) == len(CASES)  # no case counted twice
    assert all(c.scene in SCENES for c in CASES)
    kinds = Counter(c.kind.split(":")[0].split(" (")[0] for c in CASES if not c.true)
    for kind in ("negation", "swapped agent", "changed number", "changed weekday", "changed place", "invented motive"):
        assert kinds[kind] >= 3, kind
    for kind in ("antonym", "changed month", "changed time of day", "changed ordinal", "changed relationship", "modality"):
        assert kinds[kind] >= 2, kind
    assert sum(c.true for c in CASES) >= 60 and sum(not c.true for c in CASES) >= 90


def test_local_verifier_holds_back_every_false_sentence_and_passes_most_true_ones():
    outcomes = evaluate()
    print("\n" + report(outcomes))
    matrix = confusion(outcomes)
    false_total = sum(matrix["false"].values())
    true_total = sum(matrix["true"].values())
    leaked = [o.case.sentence for o in outcomes if not o.case.true and o.verdict == "verified"]
    assert leaked == [], f"false sentences verified: {leaked}"
    assert matrix["false"]["unverified"] + matrix["false"]["contradicted"] == false_total
    assert matrix["true"]["verified"] >= 0.8 * true_total, report(outcomes)
    # A true sentence is never called contradicted: that would hide a fact a person could sign off.
    assert matrix["true"]["contradicted"] == 0
    # Every held-back sentence says why, in plain words.
    assert all(o.problems for o in outcomes if o.verdict != "verified")


def test_contradictions_name_what_the_line_says():
    by_sentence = {o.case.sentence: o for o in evaluate()}
    helen = by_sentence["Helen never takes the cup to Newcastle."]
    assert helen.verdict == "contradicted"
    assert any("the cited line says Helen takes" in p for p in helen.problems)
    bernard = by_sentence["Bernard robs the museum on Friday."]
    assert bernard.verdict == "unverified"
    assert any("“someone” will rob; the sentence says Bernard" in p for p in bernard.problems)
    guards = by_sentence["Three guards watch the gate at night."]
    assert guards.verdict == "contradicted" and any("says 4 (number); the sentence says Three" in p for p in guards.problems)
    dusk = by_sentence["Marc will drive Helen to the station at dusk."]
    assert dusk.verdict == "contradicted" and any("dawn" in p for p in dusk.problems)
