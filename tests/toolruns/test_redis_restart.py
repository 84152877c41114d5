"""Fault test with real processes: Redis restarted during a run. Nothing lost, nothing doubled.

Services mode only. The shared Redis (REDIS_URL) is never touched: the test starts a private
`redis-server` on a free loopback port that keeps nothing on disk, points two `celery -A portal
worker` processes and this process's dispatch at it, SIGKILLs it while runs are in flight and starts
it again, empty, on the same port. That is the hard case: every message is gone, the ones waiting in
the queue and the unacknowledged ones of the running jobs alike. The database is the truth:

- the two runs being executed keep going (their workers reconnect; the lease lives in PostgreSQL);
- the run whose message was waiting in the queue, and the run started while Redis was down (its
  dispatch failed), are sent again by the recovery pass (celery beat in production, the test loop
  here) and run once;
- every run ends succeeded after exactly one attempt, with exactly one set of outputs, and the
  duplicate messages recovery may send are no-ops."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection

from portal.audit.models import AuditEvent
from portal.footage.models import Asset, AssetVersion
from portal.toolruns.models import ToolRun, ToolRunOutput
from tests.toolruns.conftest import TEST_TOOL_PACKAGES
from tests.toolruns.helpers import recover_runs
from tests.toolruns.test_workers_services import Workers, start, wait_until

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
# Recovery sends a queued run again once its last message is this old (10 min in production).
REDISPATCH_SECONDS = 2
LONG_RUN = {"steps": 160, "step_seconds": 0.05}  # ~8 s
SHORT_RUN = {"steps": 10, "step_seconds": 0.05}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateRedis:
    """A redis-server of this test's own, on loopback, with no persistence: a restart comes back empty."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        import redis

        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed"
        self.starts += 1
        cmd = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        cmd += ["--dir", str(self.folder), "--logfile", str(self.folder / f"redis-{self.starts}.log"), "--daemonize", "no"]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while True:
            try:
                if redis.Redis.from_url(self.url, socket_timeout=1, retry=None).ping():
                    return
            except redis.RedisError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"private redis-server did not start on port {self.port}: {self.log_text()}")
            time.sleep(0.05)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def client(self):
        import redis

        return redis.Redis.from_url(self.url, socket_timeout=5)

    def log_text(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-2000:] for p in sorted(self.folder.glob("redis-*.log")))


@pytest.fixture
def broker(private_redis, settings):
    """This process dispatches to the private Redis too: the Celery app's broker URL, and its
    connection and producer pools (built lazily from it and cached), are switched for the test."""
    from portal.celery import app

    def use(url: str) -> None:
        app.conf.broker_url = url
        app._pool = None
        app.amqp._producer_pool = None

    before = app.conf.broker_url
    settings.CELERY_BROKER_URL = private_redis.url
    use(private_redis.url)
    assert app.connection_for_write().as_uri().endswith(f":{private_redis.port}/0")
    yield private_redis
    use(before)


@pytest.fixture
def workers(world_tx, settings, tmp_path, real_dispatch, broker):
    """Worker processes on a queue of this test's own, on the private Redis, this test's database and media folder."""
    queue = f"tools-test-{uuid.uuid4().hex[:8]}"
    settings.TOOLRUNS_QUEUE = queue
    settings.TOOLRUN_LEASE_SECONDS = LEASE_SECONDS
    settings.TOOLRUN_REDISPATCH_SECONDS = REDISPATCH_SECONDS
    database_url = re.sub(r"/[^/?]*(\?|$)", f"/{connection.settings_dict['NAME']}\\1", os.environ["DATABASE_URL"], count=1)
    env = {k: v for k, v in os.environ.items() if k not in ("PORTAL_SERVER", "PYTEST_CURRENT_TEST")}
    env.update(
        DJANGO_SETTINGS_MODULE="portal.settings",
        DATABASE_URL=database_url,
        REDIS_URL=broker.url,
        CHANNELS_PREFIX=f"test-{queue}",
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


def test_redis_restarted_mid_run_loses_nothing_and_doubles_nothing(world_tx, workers, broker, clip_version, scratch):
    world = world_tx
    names = workers.start(2)
    clip = clip_version(world.a.project, world.a.users["artist"])
    queue = workers.queue

    # Two long runs, one on each worker (concurrency 1, prefetch 1, late acks: a worker holds one
    # message at a time), and a third whose message waits in the Redis list behind them.
    long_a = start(world, clip, "sleeper", LONG_RUN)
    long_b = start(world, clip, "sleeper", LONG_RUN)
    wait_until(
        lambda: ToolRun.objects.filter(pk__in=[long_a.pk, long_b.pk], status=ToolRun.Status.RUNNING, progress__gt=0).count() == 2,
        timeout=30,
        what="both long runs to be running",
        workers=workers,
    )
    waiting = start(world, clip, "sleeper", SHORT_RUN)
    wait_until(
        lambda: broker.client().llen(queue) == 1, timeout=10, what="the third message to wait in the queue", workers=workers
    )
    assert broker.client().hlen("unacked") == 2  # the two running jobs' messages, not acknowledged until they end
    assert ToolRun.objects.get(pk=waiting.pk).status == ToolRun.Status.QUEUED
    running = {r.pk: r for r in ToolRun.objects.filter(pk__in=[long_a.pk, long_b.pk])}
    assert {r.worker for r in running.values()} == set(names)
    assert all(r.progress < 0.75 for r in running.values()), "the runs must still be mid-way when Redis goes"

    # Redis dies (SIGKILL: no shutdown, no save) with every message in it.
    broker.kill()
    down_at = time.monotonic()
    # A run started while the broker is down: its row commits, its dispatch fails (and is logged).
    offline = start(world, clip, "sleeper", SHORT_RUN)
    time.sleep(max(0.0, 1.5 - (time.monotonic() - down_at)))
    broker.start()
    # Empty: the hard case. (The workers reconnect at once and declare their queue again, so the
    # database is not checked for no keys at all, only for no messages.)
    client = broker.client()
    assert client.llen(queue) == 0 and client.hlen("unacked") == 0, "the restarted Redis must have lost every message"
    assert ToolRun.objects.get(pk=offline.pk).status == ToolRun.Status.QUEUED
    assert ToolRun.objects.get(pk=waiting.pk).status == ToolRun.Status.QUEUED

    runs = [long_a.pk, long_b.pk, waiting.pk, offline.pk]
    # beat's periodic recovery pass, played by the loop: queued runs whose message is older than
    # REDISPATCH_SECONDS are sent again (duplicates included, which the claim turns into no-ops).
    wait_until(
        lambda: ToolRun.objects.filter(pk__in=runs, finished_at__isnull=False).count() == len(runs),
        timeout=60,
        what="all four runs to finish after the Redis restart",
        workers=workers,
        tick=recover_runs,
    )
    # Whatever duplicate messages recovery sent are taken and dropped before we count.
    wait_until(
        lambda: client.llen(queue) == 0 and not client.hlen("unacked"),
        timeout=20,
        what="the duplicate messages to be consumed",
        workers=workers,
    )

    for run in ToolRun.objects.filter(pk__in=runs).order_by("pk"):
        context = f"run {run.pk}: {run.status} {run.error}\n{workers.log_text()}"
        assert run.status == ToolRun.Status.SUCCEEDED, context
        assert run.attempts == 1, context  # never started twice: no lease lapsed, no duplicate claimed it
        assert run.worker in names, context
        assert run.progress == 1.0 and run.claim_token == "" and run.lease_until is None
        output = ToolRunOutput.objects.select_related("version").get(run=run)
        assert output.name == "result" and output.version.status == AssetVersion.Status.READY
        assert output.version.provenance["run"] == run.pk
        assert AuditEvent.objects.filter(action="toolrun.running", target_id=str(run.pk)).count() == 1, context
        assert AuditEvent.objects.filter(action="toolrun.succeeded", target_id=str(run.pk)).count() == 1, context
    # The long runs ended on the workers that had them when Redis went.
    assert {pk: r.worker for pk, r in running.items()} == dict(ToolRun.objects.filter(pk__in=running).values_list("pk", "worker"))
    assert ToolRunOutput.objects.filter(run__in=runs).count() == len(runs)
    assert Asset.objects.filter(project=world.a.project, kind=Asset.Kind.GENERATED).count() == len(runs)
    assert not AssetVersion.objects.filter(asset__project=world.a.project).exclude(status=AssetVersion.Status.READY).exists()
    # Both workers lived through it, and no temp folder is left behind.
    assert all(proc.poll() is None for proc in workers.procs.values()), workers.log_text()
    recover_runs()
    assert not list(scratch.iterdir())
