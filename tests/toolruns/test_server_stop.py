"""Ctrl-C on `make run` (the embedded default: one uvicorn process with the Celery worker inside) while a
tool run works: the server stops quietly (no traceback), promptly, and the run goes back to the queue
untouched by the attempt, so the next server starts it again and it finishes.

The server is a real subprocess, as `make run` starts it, on a database of its own (embedded mode
whatever mode the suite runs in: that is the mode `make run` serves)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.browser_support import ROOT, _free_port

pytestmark = pytest.mark.slow

MAKE_RUN = """
from pathlib import Path
from portal.footage.models import Asset
from portal.projects.models import Project, ProjectMembership
from portal.toolruns import services
from tests.footage.helpers import make_ready_version
from tests.toolruns.conftest import render_clip, store_real_file

project = Project.objects.order_by("pk").first()
artist = ProjectMembership.objects.filter(project=project, role="artist").select_related("user").first().user
version = make_ready_version(project, uploader=artist, kind=Asset.Kind.FOOTAGE, name="clip.mp4")
store_real_file(version, render_clip(Path({clip!r})))
run = services.toolrun_create(
    actor=artist, project=project, tool="sleeper", params={{"steps": 60, "step_seconds": 0.1}}, input_version_ids=[version.pk]
)
print("RUN", run.pk)
"""


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "PORTAL_SERVER", "PYTEST_CURRENT_TEST")}
    env.update(
        DJANGO_SETTINGS_MODULE="portal.settings",
        PORTAL_DATA_DIR=str(tmp_path / "data"),
        TOOLRUNS_EXTRA_TOOL_PACKAGES="tests.toolruns.tool_sleeper",
        PYTHONUNBUFFERED="1",
    )
    return env


def _run_row(tmp_path: Path, run_id: int) -> tuple:
    with sqlite3.connect(tmp_path / "data" / "portal.sqlite3", timeout=10) as db:
        return db.execute("SELECT status, attempts, progress, error FROM toolruns_toolrun WHERE id = ?", (run_id,)).fetchone()


def _wait_for(tmp_path: Path, run_id: int, statuses: set[str], server: subprocess.Popen, timeout: float = 90.0) -> tuple:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = _run_row(tmp_path, run_id)
        if row[0] in statuses:
            return row
        assert server.poll() is None, "the server stopped by itself"
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} never reached {statuses}: {_run_row(tmp_path, run_id)}")


def _serve(tmp_path: Path, env: dict[str, str], name: str) -> tuple[subprocess.Popen, Path]:
    stderr = tmp_path / f"{name}.stderr"
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "portal.asgi:application", "--host", "127.0.0.1", "--port", str(_free_port())],
        cwd=ROOT,
        env={**env, "PORTAL_SERVER": "1"},
        stdout=subprocess.DEVNULL,
        stderr=stderr.open("w"),
    )
    return server, stderr


def _interrupt(server: subprocess.Popen, stderr: Path) -> str:
    server.send_signal(signal.SIGINT)  # what Ctrl-C in the terminal sends
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        raise AssertionError("the server did not stop on Ctrl-C:\n" + stderr.read_text()[-3000:]) from None
    return stderr.read_text()


def test_ctrl_c_during_a_run_stops_quietly_and_the_run_starts_again_with_the_next_server(tmp_path):
    env = _env(tmp_path)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run([sys.executable, "manage.py", "seed_demo", "--quiet", "--accounts-only"], cwd=ROOT, env=env, check=True)
    made = subprocess.run(
        [sys.executable, "manage.py", "shell", "-v0", "-c", MAKE_RUN.format(clip=str(tmp_path / "clip.mp4"))],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    run_id = int(next(line.split()[1] for line in made.stdout.splitlines() if line.startswith("RUN ")))

    server, stderr = _serve(tmp_path, env, "first")
    try:
        _wait_for(tmp_path, run_id, {"running"}, server)
        time.sleep(1.0)  # well into its 6 s of work
        log = _interrupt(server, stderr)
    finally:
        if server.poll() is None:
            server.kill()
    assert server.returncode == 0, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
    assert "Unrecoverable error" not in log and "was never awaited" not in log, log[-3000:]
    status, attempts, progress, error = _run_row(tmp_path, run_id)
    # back in the queue as it was: the attempt the server's stop cut short does not count against the run
    assert (status, attempts, progress, error) == ("queued", 0, 0.0, "")

    server, stderr = _serve(tmp_path, env, "second")
    try:
        status, attempts, progress, error = _wait_for(tmp_path, run_id, {"succeeded", "failed", "cancelled"}, server)
        log = _interrupt(server, stderr)
    finally:
        if server.poll() is None:
            server.kill()
    assert (status, attempts, progress, error) == ("succeeded", 1, 1.0, "")
    assert "Traceback" not in log, log[-3000:]
