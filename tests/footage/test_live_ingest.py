"""Ingest reports through the project's websocket: a page open on the project hears the upload
complete and the asset become ready, in order, with increasing sequence numbers; a page open on
another project hears nothing."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from portal.asgi import application
from tests.footage.test_ingest import upload
from tests.live.test_project_socket import _session_cookie


async def _open(project_id: int, user) -> WebsocketCommunicator:
    cookie = await sync_to_async(_session_cookie)(user)
    headers = [(b"origin", b"http://testserver"), (b"host", b"testserver"), (b"cookie", cookie.encode())]
    communicator = WebsocketCommunicator(application, f"/ws/projects/{project_id}/", headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    assert (await communicator.receive_json_from(timeout=5))["type"] == "hello"
    return communicator


async def _drain(communicator, timeout: float = 1.0) -> list[dict]:
    # receive_nothing() waits without cancelling the application (a receive timeout would).
    events = []
    while not await communicator.receive_nothing(timeout=timeout):
        events.append(await communicator.receive_json_from(timeout=timeout))
    return events


@pytest.mark.django_db(transaction=True)
def test_upload_and_ingest_events_reach_the_project_and_only_it(
    world_tx,
    clips,
    eager,
    api_for,
    django_capture_on_commit_callbacks,
):
    world = world_tx

    async def scenario():
        mine = await _open(world.a.project.pk, world.a.users["viewer"])
        theirs = await _open(world.b.project.pk, world.b.users["viewer"])
        api = api_for(world.a.users["artist"])
        version = await sync_to_async(upload)(api, world.a.project, clips["png"], capture=django_capture_on_commit_callbacks)
        heard = await _drain(mine)
        overheard = await _drain(theirs, timeout=0.3)
        await mine.disconnect()
        await theirs.disconnect()
        return version, heard, overheard

    version, heard, overheard = asyncio.run(scenario())
    statuses = [e.get("status") for e in heard if e["type"].startswith("asset.")]
    assert statuses == ["uploading", "processing", "ready"], heard
    assert heard[-1]["type"] == "asset.ready" and heard[-1]["version"] == version.pk
    seqs = [e["seq"] for e in heard]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert overheard == []
