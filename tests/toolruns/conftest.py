"""Tool-run fixtures: real clips made with ffmpeg's lavfi (never committed binaries), stored as READY
footage versions at their real storage keys, and the suite's own test tools registered."""

from __future__ import annotations

import hashlib
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from portal.footage import storage
from portal.footage.models import Asset, AssetVersion
from tests.footage.conftest import world_tx  # noqa: F401 - re-exported fixture
from tests.footage.helpers import make_ready_version

TEST_TOOL_PACKAGES = ["tests.toolruns.tool_sleeper", "tests.toolruns.tool_external", "tests.toolruns.tool_crasher"]


def render_clip(target: Path, source: str = "testsrc2=size=160x90:rate=25:duration=2") -> Path:
    cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", source]
    subprocess.run([*cmd, "-pix_fmt", "yuv420p", str(target)], check=True, stdin=subprocess.DEVNULL)
    return target


@pytest.fixture(scope="session")
def lavfi_clip(tmp_path_factory) -> Path:
    """2 s of testsrc2, 160x90 at 25 fps, H.264 in MP4."""
    return render_clip(tmp_path_factory.mktemp("clips") / "testsrc.mp4")


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def store_real_file(version: AssetVersion, path: Path) -> AssetVersion:
    """Put a real file at the version's original key, with its true size and SHA-256."""
    storage.save_file(version.file_key, path)
    version.sha256 = sha256_of(path)
    version.size = path.stat().st_size
    version.save(update_fields=["sha256", "size"])
    return version


@pytest.fixture
def clip_version(lavfi_clip) -> Callable[..., AssetVersion]:
    """clip_version(project, uploader, kind=footage, name=...) -> a READY version holding the real clip."""

    def make(project, uploader, *, kind: str = Asset.Kind.FOOTAGE, name: str = "testsrc.mp4") -> AssetVersion:
        version = make_ready_version(project, uploader=uploader, kind=kind, name=name)
        return store_real_file(version, lavfi_clip)

    return make


@pytest.fixture(autouse=True)
def _toolruns_settings(settings, tmp_path):
    settings.TOOLRUNS_EXTRA_TOOL_PACKAGES = TEST_TOOL_PACKAGES
    settings.FOOTAGE_TEMP_DIR = str(tmp_path / "scratch")
    # The heartbeat stays quiet unless a test is about it: the embedded test database (in-memory
    # SQLite) refuses writes from two threads at once.
    settings.TOOLRUN_LEASE_SECONDS = 600
    Path(settings.FOOTAGE_TEMP_DIR).mkdir()
    if settings.CELERY_BROKER_URL.startswith("redis://"):
        # the steady state: a broker that has not restarted since recovery last looked (a test about
        # restarts removes the mark itself)
        import redis

        from portal.jobs.engine import BROKER_MARK

        redis.Redis.from_url(settings.CELERY_BROKER_URL).set(BROKER_MARK, "test")


@pytest.fixture
def private_redis(tmp_path_factory):
    """A redis-server of the test's own on loopback, with no persistence: a restart comes back empty."""
    from tests.toolruns.test_redis_restart import PrivateRedis

    server = PrivateRedis(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.kill()


@pytest.fixture
def scratch(settings) -> Path:
    return Path(settings.FOOTAGE_TEMP_DIR)


@pytest.fixture
def events(monkeypatch) -> list[dict]:
    """Every live event published from here on, as pages would receive it: {"type": ..., **data}.

    Patches the one publish() both direct and on-commit publication go through, so "only after
    commit" still holds; delivery over a real websocket is tested in test_live.py."""
    seen: list[dict] = []

    def record(project_id, event_type, data=None):
        seen.append({"project": project_id, "type": event_type, "_t": time.monotonic(), **(data or {})})

    monkeypatch.setattr("portal.live.services.publish", record)
    monkeypatch.setattr("portal.toolruns.services.publish", record)
    return seen


@pytest.fixture(autouse=True)
def dispatched(request, monkeypatch) -> list[tuple[int, str]]:
    """(run id, queue) of every "run job N" message sent. Nothing reaches a broker, unless the test
    asks for `real_dispatch` (the embedded-worker and services-mode tests)."""
    sent: list[tuple[int, str]] = []
    if "real_dispatch" in request.fixturenames:
        return sent
    from portal.celery import app

    task = app.tasks["jobs.run"]
    real_apply_async = task.apply_async

    def fake_apply_async(args=None, kwargs=None, queue=None, **options):
        if args[0] != "toolrun":  # other jobs (an ingest) go their usual way
            return real_apply_async(args, kwargs, queue=queue, **options)
        sent.append((args[1], queue))

    monkeypatch.setattr(task, "apply_async", fake_apply_async)
    return sent


@pytest.fixture
def real_dispatch():
    """Marker fixture: messages go to the configured broker for real."""
    return True
