"""Progress reaches other people's pages over the real project websocket, and a run started on the
embedded default is executed by the worker inside the server process (tools queue included)."""

from __future__ import annotations

import asyncio
import threading
import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from portal.asgi import application
from portal.celery import app, start_embedded_worker, stop_embedded_worker
from portal.footage.models import Asset
from portal.toolruns import services
from portal.toolruns.models import ToolRun

pytestmark = pytest.mark.django_db(transaction=True)


def _headers(user) -> list[tuple[bytes, bytes]]:
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    return [(b"origin", b"http://testserver"), (b"host", b"testserver"), (b"cookie", cookie.encode())]


def test_a_second_user_watches_the_run_live_over_the_project_socket(world_tx, clip_version):
    world = world_tx
    clip = clip_version(world.a.project, world.a.users["artist"])
    watcher = _headers(world.a.users["viewer"])
    outsider = _headers(world.b.users["producer"])

    async def go():
        communicator = WebsocketCommunicator(application, f"/ws/projects/{world.a.project.pk}/", headers=watcher)
        other = WebsocketCommunicator(application, f"/ws/projects/{world.b.project.pk}/", headers=outsider)
        assert (await communicator.connect(timeout=5))[0] and (await other.connect(timeout=5))[0]
        assert (await communicator.receive_json_from(timeout=5))["type"] == "hello"
        assert (await other.receive_json_from(timeout=5))["type"] == "hello"
        run = await database_sync_to_async(services.toolrun_create)(
            actor=world.a.users["artist"],
            project=world.a.project,
            tool="sleeper",
            params={"steps": 60, "step_seconds": 0.02},
            input_version_ids=[clip.pk],
        )
        execution = asyncio.ensure_future(database_sync_to_async(services.toolrun_execute)(run.pk))
        received = []
        while not received or received[-1]["type"] != "toolrun.finished":
            received.append(await communicator.receive_json_from(timeout=10))
        await execution
        assert await other.receive_nothing(timeout=0.3), "another project's socket hears nothing of it"
        await communicator.disconnect()
        await other.disconnect()
        return run, received

    run, received = async_to_sync(go)()
    types = [e["type"] for e in received]
    assert types[:2] == ["toolrun.queued", "toolrun.started"]
    assert types[-2:] == ["asset.ready", "toolrun.finished"]
    progress = [e for e in received if e["type"] == "toolrun.progress"]
    assert len(progress) >= 2 and all(e["run"] == run.pk for e in progress)
    assert [e["progress"] for e in progress] == sorted(e["progress"] for e in progress)
    assert progress[-1]["stage"] in ("sleeping", "done") and progress[-1]["elapsed"] is not None
    assert received[-1]["status"] == "succeeded" and received[-1]["progress"] == 1.0
    # one sequence per project, no gaps: a page that sees a gap knows to refetch
    seqs = [e["seq"] for e in received]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))


@pytest.fixture
def embedded_worker(monkeypatch, settings):
    # The worker's start-up recovery pass is not what this test is about, and the in-memory test
    # database takes one writer at a time: keep those tasks out.
    real_send = app.send_task
    skipped = ("jobs.recover",)
    monkeypatch.setattr(app, "send_task", lambda name, *a, **kw: None if name in skipped else real_send(name, *a, **kw))
    if settings.CELERY_BROKER_URL.startswith("memory://"):
        # The in-process broker is this process's alone: start from empty queues.
        with app.connection_for_write() as connection:
            for queue in ("default", settings.TOOLRUNS_QUEUE):
                try:
                    connection.default_channel.queue_purge(queue)
                except Exception:  # noqa: BLE001 - a queue nobody declared yet has nothing to purge
                    pass
    else:
        # A shared Redis: a tools queue of this test's own, so nobody else's worker takes the run.
        settings.TOOLRUNS_QUEUE = f"tools-test-{uuid.uuid4().hex[:8]}"
    worker = start_embedded_worker()
    yield worker
    stop_embedded_worker()


def test_the_embedded_worker_runs_tools_from_the_tools_queue(world_tx, clip_version, real_dispatch, embedded_worker, monkeypatch):
    world = world_tx
    clip = clip_version(world.a.project, world.a.users["artist"])
    finished = threading.Event()
    from portal.live import services as live_services

    real_publish = live_services.publish

    def publish(project_id, event_type, data=None):
        real_publish(project_id, event_type, data)
        if event_type == "toolrun.finished":
            finished.set()

    monkeypatch.setattr(live_services, "publish", publish)
    run = services.toolrun_create(
        actor=world.a.users["artist"], project=world.a.project, tool="sleeper", params={"steps": 3}, input_version_ids=[clip.pk]
    )
    # nothing else touches the database until the worker says the run is over
    assert finished.wait(timeout=30), "the embedded worker never finished the run"
    run.refresh_from_db()
    assert run.status == ToolRun.Status.SUCCEEDED and run.attempts == 1
    assert run.worker and "MainThread" not in run.worker  # executed by the worker's own threads
    assert Asset.objects.filter(project=world.a.project, kind=Asset.Kind.GENERATED).count() == 1
