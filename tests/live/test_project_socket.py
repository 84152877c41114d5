"""The project websocket, through the real ASGI stack (origin check, session auth, policy)."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client

from portal.asgi import application
from portal.studios import services as studio_services


def _session_cookie(user) -> str:
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return f"sessionid={client.cookies['sessionid'].value}"


def _connect(project_id: int, *, user=None, origin: str = "http://testserver") -> tuple[bool, object]:
    headers = [(b"origin", origin.encode()), (b"host", b"testserver")]
    if user is not None:
        headers.append((b"cookie", _session_cookie(user).encode()))

    async def go():
        communicator = WebsocketCommunicator(application, f"/ws/projects/{project_id}/", headers=headers)
        connected, _subprotocol = await communicator.connect(timeout=5)
        first = await communicator.receive_json_from(timeout=5) if connected else None
        await communicator.disconnect()
        return connected, first

    return async_to_sync(go)()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("role", ["producer", "director", "artist", "viewer", "studio_admin"])
def test_project_members_connect_and_are_greeted(world, role):
    connected, first = _connect(world.a.project.pk, user=world.a.users[role])
    assert connected
    assert first == {"type": "hello", "project": world.a.project.pk}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("who", ["anonymous", "member_without_project", "other_studio_producer", "platform_staff"])
def test_outsiders_are_refused(world, who):
    user = {
        "anonymous": None,
        "member_without_project": world.a.users["member"],
        "other_studio_producer": world.b.users["producer"],
        "platform_staff": world.staff,
    }[who]
    connected, _ = _connect(world.a.project.pk, user=user)
    assert not connected


@pytest.mark.django_db(transaction=True)
def test_foreign_origin_is_refused_even_for_a_member(world):
    connected, _ = _connect(world.a.project.pk, user=world.a.users["producer"], origin="https://evil.example")
    assert not connected


@pytest.mark.django_db(transaction=True)
def test_suspended_studio_cannot_open_the_stream(world):
    studio_services.studio_suspend(actor=world.staff, studio=world.a.studio)
    connected, _ = _connect(world.a.project.pk, user=world.a.users["producer"])
    assert not connected


@pytest.mark.django_db(transaction=True)
def test_unknown_project_is_refused(world):
    connected, _ = _connect(999999, user=world.a.users["producer"])
    assert not connected
