"""TOTP two-factor sign-in (django-otp): setting it up, being asked for it, studios requiring it,
and the API refusing session calls that skipped it."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal.accounts.services import api_token_create, backup_code_digest
from portal.audit.models import AuditEvent
from portal.studios import services as studio_services

SETUP = "/account/2fa/setup/"
VERIFY = "/account/2fa/verify/"


def code_for(device: TOTPDevice, steps_ahead: int = 0) -> str:
    """The code the person's phone shows now (or `steps_ahead` periods later)."""
    device.refresh_from_db()
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift + steps_ahead):0{device.digits}d}"


def wrong_code(device: TOTPDevice) -> str:
    right = {code_for(device, n) for n in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in right)


def sign_in(email: str, password: str) -> Client:
    client = Client()
    response = client.post("/account/sign-in/", {"username": email, "password": password})
    assert response.status_code == 302
    return client


def enable_totp(client: Client, user) -> tuple[TOTPDevice, list[str]]:
    """Go through the setup page as the person would; return the device and the backup codes."""
    response = client.get(SETUP)
    assert response.status_code == 200
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    assert response.context["secret"]  # shown for typing in by hand, next to the QR code
    response = client.post(SETUP, {"token": code_for(device)})
    assert response.status_code == 200
    codes = response.context["codes"]
    device.refresh_from_db()
    assert device.confirmed
    return device, codes


def test_setup_confirms_with_a_code_and_shows_backup_codes(world, client_for):
    user = world.a.users["producer"]
    client = client_for(user)
    device, codes = enable_totp(client, user)
    assert len(codes) == 8
    assert len(set(codes)) == 8
    backup = StaticDevice.objects.get(user=user)
    stored = sorted(t.token for t in backup.token_set.all())
    assert stored == sorted(backup_code_digest(c) for c in codes)
    assert not set(stored) & set(codes)  # hashed: the database alone does not give the codes away
    # shown once: the setup page now sends back to the account page, which does not list them
    assert client.get(SETUP)["Location"] == "/account/"
    account_page = client.get("/account/").content.decode()
    assert not any(code in account_page for code in codes)
    assert AuditEvent.objects.filter(action="auth.2fa_enabled", actor=user).exists()
    # the session that set it up is verified: it carries on
    assert client.get(f"/s/{world.a.studio.slug}/").status_code == 200


def test_setup_refuses_a_wrong_code(world, client_for):
    user = world.a.users["producer"]
    client = client_for(user)
    client.get(SETUP)
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    response = client.post(SETUP, {"token": wrong_code(device)})
    assert response.status_code == 400
    assert "That code is not right" in response.content.decode()
    device.refresh_from_db()
    assert not device.confirmed
    assert not StaticDevice.objects.filter(user=user).exists()
    assert not AuditEvent.objects.filter(action="auth.2fa_enabled").exists()


def test_a_fresh_sign_in_must_pass_the_second_factor(world, client_for, password):
    user = world.a.users["producer"]
    device, _codes = enable_totp(client_for(user), user)
    client = sign_in(user.email, password)
    dashboard = f"/s/{world.a.studio.slug}/"
    response = client.get(dashboard)
    assert response.status_code == 302
    assert response["Location"].startswith(f"{VERIFY}?")
    assert parse_qs(urlsplit(response["Location"]).query) == {"next": [dashboard]}
    assert client.get(f"/s/{world.a.studio.slug}/p/{world.a.project.code}/").status_code == 302
    assert client.get(VERIFY).status_code == 200

    response = client.post(f"{VERIFY}?next={dashboard}", {"token": wrong_code(device)})
    assert response.status_code == 400
    assert client.get(dashboard).status_code == 302
    assert AuditEvent.objects.filter(action="auth.2fa_failed", actor=user).exists()

    device.throttle_reset()  # a failure throttles the next try for a second; let it pass
    response = client.post(f"{VERIFY}?next={dashboard}", {"token": code_for(device, steps_ahead=1)})
    assert response.status_code == 302
    assert response["Location"] == dashboard
    assert client.get(dashboard).status_code == 200
    assert AuditEvent.objects.filter(action="auth.2fa_verified", actor=user).exists()


def test_a_backup_code_works_once(world, client_for, password):
    user = world.a.users["producer"]
    _device, codes = enable_totp(client_for(user), user)
    client = sign_in(user.email, password)
    assert client.post(VERIFY, {"token": codes[0]}).status_code == 302
    assert client.get(f"/s/{world.a.studio.slug}/").status_code == 200
    again = sign_in(user.email, password)
    assert again.post(VERIFY, {"token": codes[0]}).status_code == 400
    assert again.get(f"/s/{world.a.studio.slug}/").status_code == 302


def test_session_api_calls_need_the_second_factor_but_tokens_do_not(world, client_for, password):
    user = world.a.users["producer"]
    enable_totp(client_for(user), user)
    _token, raw = api_token_create(user=user, name="render farm")
    client = sign_in(user.email, password)
    response = client.get("/api/v1/me/")
    assert response.status_code == 403
    assert response.json() == {"detail": "Complete two-factor sign-in first."}
    assert Client().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200


def test_a_studio_requiring_two_factor_sends_members_without_a_device_to_setup(world, client_for, api_for):
    admin = world.a.users["studio_admin"]
    studio_services.studio_update(actor=admin, studio=world.a.studio, require_two_factor=True)
    member = world.a.users["artist"]
    client = client_for(member)
    response = client.get(f"/s/{world.a.studio.slug}/")
    assert response.status_code == 302
    assert response["Location"] == SETUP
    assert client.get("/").status_code == 302
    api = client.get("/api/v1/me/")
    assert api.status_code == 403 and api.json()["detail"] == "Complete two-factor sign-in first."
    # the setup page itself is reachable, and once set up the studio opens
    enable_totp(client, member)
    assert client.get(f"/s/{world.a.studio.slug}/").status_code == 200
    # studio b did not ask for it
    assert client_for(world.b.users["artist"]).get(f"/s/{world.b.studio.slug}/").status_code == 200


def test_two_factor_cannot_be_turned_off_when_the_studio_requires_it(world, client_for):
    user = world.a.users["producer"]
    client = client_for(user)
    enable_totp(client, user)
    studio_services.studio_update(actor=world.a.users["studio_admin"], studio=world.a.studio, require_two_factor=True)
    response = client.post("/account/2fa/disable/")
    assert response.status_code == 302
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Your studio requires two-factor sign-in, so it cannot be turned off."
    ]
    assert TOTPDevice.objects.filter(user=user, confirmed=True).exists()
    assert not AuditEvent.objects.filter(action="auth.2fa_disabled").exists()


def test_two_factor_can_be_turned_off_when_not_required(world, client_for):
    user = world.a.users["producer"]
    client = client_for(user)
    enable_totp(client, user)
    assert client.post("/account/2fa/disable/").status_code == 302
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert not StaticDevice.objects.filter(user=user).exists()
    assert AuditEvent.objects.filter(action="auth.2fa_disabled", actor=user).exists()


@pytest.mark.parametrize("path", ["/account/2fa/disable/"])
def test_turning_two_factor_off_is_post_only(world, client_for, path):
    assert client_for(world.a.users["producer"]).get(path).status_code == 405


def test_a_password_alone_cannot_replace_the_authenticator(world, client_for, password):
    """Someone who knows only the password must not enrol their own phone in place of the owner's."""
    user = world.a.users["producer"]
    owner_device, _codes = enable_totp(client_for(user), user)
    attacker = sign_in(user.email, password)
    response = attacker.get(SETUP)
    assert response.status_code == 302
    assert response["Location"].startswith(VERIFY)
    assert not TOTPDevice.objects.filter(user=user, confirmed=False).exists()
    assert list(TOTPDevice.objects.filter(user=user)) == [owner_device]
    assert attacker.get(f"/s/{world.a.studio.slug}/").status_code == 302


def test_a_password_alone_cannot_turn_two_factor_off(world, client_for, password):
    user = world.a.users["producer"]
    enable_totp(client_for(user), user)
    attacker = sign_in(user.email, password)
    attacker.post("/account/2fa/disable/")
    assert TOTPDevice.objects.filter(user=user, confirmed=True).exists()
    assert StaticDevice.objects.filter(user=user).exists()
    assert not AuditEvent.objects.filter(action="auth.2fa_disabled").exists()
    assert attacker.get(f"/s/{world.a.studio.slug}/").status_code == 302


def test_after_the_second_factor_the_person_lands_on_the_full_page_they_asked_for(world, client_for, password):
    admin = world.a.users["studio_admin"]
    device, _codes = enable_totp(client_for(admin), admin)
    client = sign_in(admin.email, password)
    wanted = f"/s/{world.a.studio.slug}/audit/?actor=producer&action=invitation."
    response = client.get(wanted)
    assert response.status_code == 302
    response = client.post(response["Location"], {"token": code_for(device, steps_ahead=1)})
    assert response.status_code == 302
    assert response["Location"] == wanted


def test_a_backup_code_works_typed_in_capitals(world, client_for, password):
    user = world.a.users["artist"]
    _device, codes = enable_totp(client_for(user), user)
    client = sign_in(user.email, password)
    response = client.post(VERIFY, {"token": codes[1].upper()})
    assert response.status_code == 302 and "2fa" not in response.url
    assert client.get(f"/s/{world.a.studio.slug}/").status_code == 200


def test_platform_staff_see_devices_in_the_admin_but_never_their_secrets(world, client_for):
    user = world.a.users["artist"]
    device, codes = enable_totp(client_for(user), user)
    staff = world.staff
    staff.is_superuser = True
    staff.save()
    admin_client = client_for(staff)
    backup = StaticDevice.objects.get(user=user)
    for url in (
        "/admin/otp_totp/totpdevice/",
        f"/admin/otp_totp/totpdevice/{device.pk}/change/",
        "/admin/otp_static/staticdevice/",
        f"/admin/otp_static/staticdevice/{backup.pk}/change/",
    ):
        page = admin_client.get(url)
        assert page.status_code == 200, url
        html = page.content.decode()
        assert user.email in html
        assert device.key not in html and device.bin_key.hex() not in html, url
        assert not any(code in html for code in codes), url
        assert "qrcode" not in html.lower(), url
    # django-otp's page with the key's QR code is gone too
    config = admin_client.get(f"/admin/otp_totp/totpdevice/{device.pk}/config/", follow=True).content.decode()
    assert device.key not in config and "qrcode" not in config.lower()
