"""Fault tests with real processes: two `celery -A portal worker` processes on Redis and PostgreSQL.

Services mode only (CI runs the suite a second time with DATABASE_URL and REDIS_URL): the workers
are separate processes and must share the database and the broker with this test. Each test gets a
queue of its own, so a worker someone else is running on the same Redis never takes these runs.
The periodic recovery pass (celery beat in production) is played by the test loop calling it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.db import connection
from django.test import Client

from portal.audit.models import AuditEvent
from portal.footage.models import Asset, AssetVersion
from portal.toolruns import services
from portal.toolruns.models import ToolRun, ToolRunOutput
from tests.toolruns.conftest import TEST_TOOL_PACKAGES
from tests.toolruns.helpers import recover_runs

pytestmark = [
    pytest.mark.services,
    pytest.mark.slow,
    pytest.mark.skipif(
        not (os.environ.get("REDIS_URL") and os.environ.get("DATABASE_URL")),
        reason="services mode only: real worker processes need Redis and PostgreSQL",
    ),
    pytest.mark.django_db(transaction=True),
]

ROOT = Path(__file__).resolve().parents[2]
LEASE_SECONDS = 3


class Workers:
    def __init__(self, tmp_path: Path, queue: str, env: dict[str, str]):
        self.tmp_path = tmp_path
        self.queue = queue
        self.env = env
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}

    def start(self, count: int) -> list[str]:
        names = []
        for _ in range(count):
            name = f"toolruns-{uuid.uuid4().hex[:6]}@test"
            log = self.tmp_path / f"{name}.log"
            self.logs[name] = log
            cmd = [sys.executable, "-m", "celery", "-A", "portal", "worker", "-Q", self.queue, "-c", "1", "-n", name]
            cmd += ["-l", "info", "--without-mingle", "--without-gossip", "--without-heartbeat"]
            # A session of its own, so a SIGKILL can take the worker and its pool child together,
            # like a machine that dies.
            handle = open(log, "w")  # noqa: SIM115 - closed with the process
            self.procs[name] = subprocess.Popen(
                cmd, cwd=ROOT, env=self.env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
            )
            names.append(name)
        deadline = time.monotonic() + 60
        for name in names:
            while "ready." not in self.logs[name].read_text(errors="replace"):
                if self.procs[name].poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"worker {name} did not start:\n{self.logs[name].read_text(errors='replace')}")
                time.sleep(0.1)
        return names

    def kill(self, name: str) -> None:
        os.killpg(self.procs[name].pid, signal.SIGKILL)
        self.procs[name].wait(timeout=10)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)

    def log_text(self) -> str:
        return "\n".join(f"--- {name}\n{path.read_text(errors='replace')[-4000:]}" for name, path in self.logs.items())


@pytest.fixture
def workers(world_tx, settings, tmp_path, real_dispatch):
    """Worker processes on a queue of this test's own, on this test's database and media folder."""
    queue = f"tools-test-{uuid.uuid4().hex[:8]}"
    settings.TOOLRUNS_QUEUE = queue
    settings.TOOLRUN_LEASE_SECONDS = LEASE_SECONDS
    database_url = re.sub(r"/[^/?]*(\?|$)", f"/{connection.settings_dict['NAME']}\\1", os.environ["DATABASE_URL"], count=1)
    env = {k: v for k, v in os.environ.items() if k not in ("PORTAL_SERVER", "PYTEST_CURRENT_TEST")}
    env.update(
        DJANGO_SETTINGS_MODULE="portal.settings",
        DATABASE_URL=database_url,
        REDIS_URL=os.environ["REDIS_URL"],
        TOOLRUNS_QUEUE=queue,
        TOOLRUNS_EXTRA_TOOL_PACKAGES=",".join(TEST_TOOL_PACKAGES),
        TOOLRUN_LEASE_SECONDS=str(LEASE_SECONDS),
        MEDIA_ROOT=str(settings.MEDIA_ROOT),
        FOOTAGE_TEMP_DIR=str(settings.FOOTAGE_TEMP_DIR),
        PORTAL_DATA_DIR=str(tmp_path / "worker-data"),
        PYTHONUNBUFFERED="1",
    )
    pool = Workers(tmp_path, queue, env)
    yield pool
    pool.stop_all()
    import redis

    redis.Redis.from_url(os.environ["REDIS_URL"]).delete(queue)


def wait_until(predicate, *, timeout: float, what: str, workers: Workers, tick=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if tick is not None:
            tick()
        if predicate():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}\n{workers.log_text()}")


def start(world, version, tool, params):
    return services.toolrun_create(
        actor=world.a.users["artist"], project=world.a.project, tool=tool, params=params, input_version_ids=[version.pk]
    )


def _headers(user):
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return [
        (b"origin", b"http://testserver"),
        (b"host", b"testserver"),
        (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()),
    ]


def test_two_worker_processes_run_the_demo_tool_and_progress_reaches_the_socket(world_tx, workers, clip_version):
    from portal.asgi import application

    world = world_tx
    workers.start(2)
    clip = clip_version(world.a.project, world.a.users["artist"])
    headers = _headers(world.a.users["viewer"])

    async def watch():
        communicator = WebsocketCommunicator(application, f"/ws/projects/{world.a.project.pk}/", headers=headers)
        assert (await communicator.connect(timeout=10))[0]
        await communicator.receive_json_from(timeout=5)  # hello
        from channels.db import database_sync_to_async

        run = await database_sync_to_async(start)(world, clip, "contactsheet", {"columns": 6, "rows": 6, "thumb_width": 64})
        received = []
        deadline = time.monotonic() + 90
        while (not received or received[-1].get("type") != "toolrun.finished") and time.monotonic() < deadline:
            received.append(await communicator.receive_json_from(timeout=90))
        await communicator.disconnect()
        return run, received

    run, received = async_to_sync(watch)()
    run.refresh_from_db()
    assert run.status == ToolRun.Status.SUCCEEDED, f"{run.error}\n{workers.log_text()}"
    assert run.worker in workers.procs and run.attempts == 1
    output = ToolRunOutput.objects.get(run=run)
    assert output.version.status == AssetVersion.Status.READY and output.version.provenance["input_sha256"] == [clip.sha256]
    types = [e["type"] for e in received]
    assert types[0] == "toolrun.queued" and "toolrun.started" in types and types[-1] == "toolrun.finished"
    assert any(e["type"] == "toolrun.progress" and e["run"] == run.pk for e in received), types
    assert "asset.ready" in types


def test_duplicate_messages_on_two_workers_run_the_run_once(world_tx, workers, clip_version):
    world = world_tx
    workers.start(2)
    run = start(world, clip_version(world.a.project, world.a.users["artist"]), "sleeper", {"steps": 20, "step_seconds": 0.05})
    for _ in range(3):  # a redelivery storm: four messages for one run, two workers taking them at once
        services.dispatch(run.pk)
    wait_until(
        lambda: ToolRun.objects.get(pk=run.pk).is_finished,
        timeout=60,
        what="the run to finish",
        workers=workers,
    )
    time.sleep(1.5)  # let the duplicates arrive and be dropped
    run.refresh_from_db()
    assert run.status == ToolRun.Status.SUCCEEDED and run.attempts == 1
    assert ToolRunOutput.objects.filter(run=run).count() == 1
    assert AuditEvent.objects.filter(action="toolrun.succeeded", target_id=str(run.pk)).count() == 1


def test_sigkill_mid_run_finishes_once_on_the_other_worker(world_tx, workers, clip_version, scratch):
    world = world_tx
    names = workers.start(2)
    run = start(world, clip_version(world.a.project, world.a.users["artist"]), "sleeper", {"steps": 120, "step_seconds": 0.05})
    wait_until(lambda: ToolRun.objects.get(pk=run.pk).progress >= 0.4, timeout=60, what="the run to get halfway", workers=workers)
    victim = ToolRun.objects.get(pk=run.pk).worker
    assert victim in names
    workers.kill(victim)
    survivor = next(n for n in names if n != victim)
    # beat's periodic recovery pass, played by the loop: once the victim's lease lapses the run is sent again
    wait_until(
        lambda: ToolRun.objects.get(pk=run.pk).is_finished,
        timeout=90,
        what="the run to finish on the other worker",
        workers=workers,
        tick=recover_runs,
    )
    run.refresh_from_db()
    assert run.status == ToolRun.Status.SUCCEEDED, f"{run.error}\n{workers.log_text()}"
    assert run.attempts == 2 and run.worker == survivor
    assert ToolRunOutput.objects.filter(run=run).count() == 1
    assert Asset.objects.filter(project=world.a.project, kind=Asset.Kind.GENERATED).count() == 1
    assert AuditEvent.objects.filter(action="toolrun.succeeded", target_id=str(run.pk)).count() == 1
    # the dead worker's temp folder goes with the next recovery pass
    recover_runs()
    assert not [p for p in scratch.iterdir() if p.name.startswith(f"toolrun-{run.pk}-")]


def test_a_run_that_kills_its_worker_every_time_fails_after_three_attempts(world_tx, workers, clip_version):
    world = world_tx
    workers.start(2)
    run = start(world, clip_version(world.a.project, world.a.users["artist"]), "crasher", {})
    wait_until(
        lambda: ToolRun.objects.get(pk=run.pk).is_finished,
        timeout=120,
        what="the run to be given up",
        workers=workers,
        tick=recover_runs,
    )
    run.refresh_from_db()
    assert run.status == ToolRun.Status.FAILED and run.attempts == 3
    assert run.error.startswith("This run crashed its worker 3 times")
    assert AuditEvent.objects.filter(action="toolrun.running", target_id=str(run.pk)).count() == 3
    # the worker processes themselves survived their pool children dying
    assert all(proc.poll() is None for proc in workers.procs.values())
