"""One credential check for sessions, API tokens and websockets (hardening findings 1, 2 and 3).

1. A member of a studio that requires two-factor sign-in, signed in with a password only, was
   redirected everywhere over HTTP but the project socket accepted the session.
2. An API token made before the studio required two-factor kept working (200 on assets, 201 on a tus
   upload) while the same person's browser was sent to set up two-factor.
3. Open sockets outlived sign-out and deactivation, because the re-check used the user cached at connect.
"""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal.accounts.services import api_token_create
from portal.asgi import application
from portal.live.services import publish
from portal.studios import services as studio_services
from tests.live.test_revocation import _revoked

pytestmark = pytest.mark.django_db(transaction=True)


def _signed_in(user) -> Client:
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


async def _connect(project_id: int, client: Client):
    headers = [(b"origin", b"http://testserver"), (b"host", b"testserver")]
    headers.append((b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()))
    communicator = WebsocketCommunicator(application, f"/ws/projects/{project_id}/", headers=headers)
    connected, code = await communicator.connect(timeout=5)
    return communicator, connected, code


def _require_two_factor(world):
    studio_services.studio_update(actor=world.a.users["studio_admin"], studio=world.a.studio, require_two_factor=True)


def test_a_password_only_session_of_a_two_factor_studio_gets_no_socket(world):
    _require_two_factor(world)
    client = _signed_in(world.a.users["producer"])
    assert client.get(f"/s/{world.a.studio.slug}/").status_code == 302  # HTTP sends them to set it up

    async def scenario():
        communicator, connected, code = await _connect(world.a.project.pk, client)
        return connected, code

    connected, code = asyncio.run(scenario())
    assert not connected and code == 4404


def test_a_token_made_before_two_factor_was_required_stops_until_its_owner_sets_it_up(world):
    producer = world.a.users["producer"]
    _token, raw = api_token_create(user=producer, name="render farm")
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    assets = f"/api/v1/projects/{world.a.project.pk}/assets/"
    assert Client().get(assets, **bearer).status_code == 200
    _require_two_factor(world)
    refused = Client().get(assets, **bearer)
    assert refused.status_code == 401
    assert "two-factor" in refused.json()["detail"]
    tus = Client().post(
        f"/api/v1/projects/{world.a.project.pk}/uploads/", HTTP_TUS_RESUMABLE="1.0.0", HTTP_UPLOAD_LENGTH="10", **bearer
    )
    assert tus.status_code == 401
    # the owner sets up an authenticator: the token works again
    device = TOTPDevice.objects.create(user=producer, name="phone", confirmed=True)
    assert device.verify_token(f"{totp(device.bin_key):06d}")
    assert Client().get(assets, **bearer).status_code == 200


def test_signing_out_closes_the_open_socket_at_once(world):
    viewer = world.a.users["viewer"]
    client = _signed_in(viewer)
    other_session = _signed_in(viewer)  # the same person in another browser keeps theirs

    async def scenario():
        socket, connected, _ = await _connect(world.a.project.pk, client)
        assert connected and (await socket.receive_json_from(timeout=5))["type"] == "hello"
        kept, connected2, _ = await _connect(world.a.project.pk, other_session)
        assert connected2 and (await kept.receive_json_from(timeout=5))["type"] == "hello"
        response = await sync_to_async(client.post)("/account/sign-out/")
        assert response.status_code == 302
        revoked = await _revoked(socket)
        await sync_to_async(publish)(world.a.project.pk, "asset.changed", {"asset": 1})
        heard = await kept.receive_json_from(timeout=5)
        await kept.disconnect()
        return revoked, heard

    revoked, heard = asyncio.run(scenario())
    assert revoked
    assert heard["type"] == "asset.changed"


def test_disabling_an_account_closes_its_sockets_at_once(world):
    viewer = world.a.users["viewer"]
    client = _signed_in(viewer)

    def disable():
        viewer.is_active = False
        viewer.save(update_fields=["is_active"])

    async def scenario():
        socket, connected, _ = await _connect(world.a.project.pk, client)
        assert connected and (await socket.receive_json_from(timeout=5))["type"] == "hello"
        await sync_to_async(disable)()
        return await _revoked(socket)

    assert asyncio.run(scenario())


def test_a_ping_after_sign_out_elsewhere_is_refused(world):
    """Even without the sign-out notice (a lost message), the next ping reads the session afresh."""
    viewer = world.a.users["viewer"]
    client = _signed_in(viewer)

    async def scenario():
        socket, connected, _ = await _connect(world.a.project.pk, client)
        assert connected and (await socket.receive_json_from(timeout=5))["type"] == "hello"
        session_key = client.cookies["sessionid"].value
        from importlib import import_module

        from django.conf import settings

        # signed out in another browser: the session engine deletes it (from the cache and the database)
        store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
        await sync_to_async(store.delete)()
        await socket.send_json_to({"type": "ping"})
        return await _revoked(socket)

    assert asyncio.run(scenario())


def test_a_studio_admin_without_a_project_role_hears_no_footage_events(world):
    """Finding 9: the socket asked only project.view; HTTP refuses this admin the footage itself."""
    from portal.access.policy import Action, can

    admin = world.a.users["studio_admin"]
    assert can(admin, Action.PROJECT_VIEW, world.a.project) and not can(admin, Action.FOOTAGE_VIEW, world.a.project)

    async def scenario():
        admin_client = await sync_to_async(_signed_in)(admin)
        member_client = await sync_to_async(_signed_in)(world.a.users["viewer"])
        admin_socket, connected, _ = await _connect(world.a.project.pk, admin_client)
        assert connected and (await admin_socket.receive_json_from(timeout=5))["type"] == "hello"
        member, connected2, _ = await _connect(world.a.project.pk, member_client)
        assert connected2 and (await member.receive_json_from(timeout=5))["type"] == "hello"
        for event in ("asset.changed", "toolrun.progress", "review.note"):
            await sync_to_async(publish)(world.a.project.pk, event, {"asset": 1})
        heard_by_member = [(await member.receive_json_from(timeout=5))["type"] for _ in range(3)]
        heard_by_admin = await admin_socket.receive_nothing(timeout=1)
        await admin_socket.send_json_to({"type": "ping"})
        pong = await admin_socket.receive_json_from(timeout=5)  # still connected, just not told about footage
        await member.disconnect()
        await admin_socket.disconnect()
        return heard_by_member, heard_by_admin, pong

    heard_by_member, nothing, pong = asyncio.run(scenario())
    assert heard_by_member == ["asset.changed", "toolrun.progress", "review.note"]
    assert nothing is True
    assert pong == {"type": "pong"}
