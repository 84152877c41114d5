"""Tally of the policy matrix (tests/access/test_policy_matrix.py), printed at the end of the run."""

from __future__ import annotations

import pytest

MATRIX_TALLY = pytest.StashKey[dict]()


def _tally(config) -> dict:
    return config.stash.setdefault(MATRIX_TALLY, {"cases": 0, "tests": set()})


@pytest.fixture
def matrix_tally(request) -> dict:
    """{"cases": role×side cases checked so far, "tests": ids (route names) of the matrix tests that finished}."""
    return _tally(request.config)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    tally = config.stash.get(MATRIX_TALLY, None)
    if tally and tally["cases"]:
        terminalreporter.write_line(f"policy matrix: {tally['cases']} cases checked in {len(tally['tests'])} route tests")
