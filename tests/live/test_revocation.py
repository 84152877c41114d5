"""An open project websocket loses the stream as soon as its user loses access: removed from the
project, removed from the studio, or the studio suspended. Pings re-check access too."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from portal.asgi import application
from portal.live.services import publish
from portal.projects.models import ProjectMembership
from portal.projects.services import project_member_remove
from portal.studios import services as studio_services
from portal.studios.models import StudioMembership
from tests.live.test_project_socket import _session_cookie


async def _open(project_id: int, user) -> WebsocketCommunicator:
    cookie = await sync_to_async(_session_cookie)(user)
    headers = [(b"origin", b"http://testserver"), (b"host", b"testserver"), (b"cookie", cookie.encode())]
    communicator = WebsocketCommunicator(application, f"/ws/projects/{project_id}/", headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    assert (await communicator.receive_json_from(timeout=5))["type"] == "hello"
    return communicator


async def _revoked(communicator) -> bool:
    """True when the server says access.revoked and closes with 4403."""
    message = await communicator.receive_json_from(timeout=5)
    closed = await communicator.receive_output(timeout=5)
    return message == {"type": "access.revoked"} and closed == {"type": "websocket.close", "code": 4403}


def _remove_from_project(world, role):
    membership = ProjectMembership.objects.get(project=world.a.project, user=world.a.users[role])
    project_member_remove(actor=world.a.users["producer"], membership=membership)


def _remove_from_studio(world, role):
    membership = StudioMembership.objects.get(studio=world.a.studio, user=world.a.users[role])
    studio_services.studio_membership_remove(actor=world.a.users["studio_admin"], membership=membership)


def _suspend(world, role):
    studio_services.studio_suspend(actor=world.staff, studio=world.a.studio)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("change", [_remove_from_project, _remove_from_studio, _suspend], ids=["project", "studio", "suspend"])
def test_losing_access_closes_the_open_stream_at_once(world, change):
    async def scenario():
        viewer = await _open(world.a.project.pk, world.a.users["viewer"])
        other = await _open(world.b.project.pk, world.b.users["viewer"])
        await sync_to_async(change)(world, "viewer")
        revoked = await _revoked(viewer)
        # the other studio's stream is untouched and still hears its own events
        await sync_to_async(publish)(world.b.project.pk, "asset.changed", {"asset": 1})
        heard = await other.receive_json_from(timeout=5)
        await other.disconnect()
        return revoked, heard

    revoked, heard = asyncio.run(scenario())
    assert revoked
    assert heard["type"] == "asset.changed"


@pytest.mark.django_db(transaction=True)
def test_a_ping_rechecks_access_and_keeps_members_subscribed(world):
    async def scenario():
        producer = await _open(world.a.project.pk, world.a.users["producer"])
        await producer.send_json_to({"type": "ping"})
        pong = await producer.receive_json_from(timeout=5)
        # access withdrawn behind the consumer's back (no event): the next ping notices
        await sync_to_async(ProjectMembership.objects.filter(project=world.a.project, user=world.a.users["producer"]).delete)()
        await producer.send_json_to({"type": "ping"})
        return pong, await _revoked(producer)

    pong, revoked = asyncio.run(scenario())
    assert pong == {"type": "pong"} and revoked
