"""Benchmark: the recap narration's local verifier on hand-written true and false sentence/lines pairs.

Prints the confusion matrix (true/false sentences against verified/unverified/contradicted) and every
case it gets wrong. The same cases are asserted in tests/studio_tools/test_recap_verify_bench.py.

    .venv/bin/python bench/verify_facts.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.studio_tools.data.verify_facts import evaluate, report  # noqa: E402

if __name__ == "__main__":
    print(report(evaluate()))
