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


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """pytest-xdist: add up what the workers checked (on the controller)."""
    tally = getattr(node, "workeroutput", {}).get("matrix_tally")
    if tally:
        total = _tally(node.config)
        total["cases"] += tally["cases"]
        total["tests"].update(tally["tests"])


def pytest_sessionfinish(session, exitstatus):
    """On a pytest-xdist worker: hand the tally to the controller."""
    workeroutput = getattr(session.config, "workeroutput", None)
    tally = session.config.stash.get(MATRIX_TALLY, None)
    if workeroutput is not None and tally:
        workeroutput["matrix_tally"] = {"cases": tally["cases"], "tests": sorted(tally["tests"])}


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    tally = config.stash.get(MATRIX_TALLY, None)
    if tally and tally["cases"]:
        terminalreporter.write_line(f"policy matrix: {tally['cases']} cases checked in {len(tally['tests'])} route tests")
