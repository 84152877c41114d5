"""Personal API tokens: shown once, stored hashed, `Authorization: Bearer` authenticates, and a
revoked, expired or someone else's token does nothing."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.test import Client
from django.utils import timezone

from portal.accounts.models import ApiToken
from portal.accounts.services import api_token_create
from portal.audit.models import AuditEvent


def bearer(raw: str) -> Client:
    client = Client()
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {raw}"
    return client


def test_token_created_on_the_account_page_is_shown_once_and_stored_hashed(world, client_for):
    user = world.a.users["artist"]
    client = client_for(user)
    response = client.post("/account/tokens/", {"name": "render farm", "expires_in_days": 30})
    assert response.status_code == 302
    assert response["Location"] == "/account/"
    page = client.get("/account/")
    raw = page.context["new_token"]
    assert raw.startswith("psp_")
    assert raw in page.content.decode()
    assert client.get("/account/").context["new_token"] is None  # gone on the next visit
    assert raw not in client.get("/account/").content.decode()

    token = ApiToken.objects.get(user=user)
    assert token.key_hash != raw
    assert token.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert token.hint == raw[:10]
    assert not ApiToken.objects.filter(key_hash__contains=raw[10:]).exists()
    assert timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)
    event = AuditEvent.objects.get(action="token.create")
    assert event.actor_id == user.pk
    assert raw not in str(event.details) and raw[10:] not in str(event.details)
    assert bearer(raw).get("/api/v1/me/").json()["email"] == user.email


def test_token_page_refuses_a_nameless_or_too_long_lived_token(world, client_for):
    client = client_for(world.a.users["artist"])
    client.post("/account/tokens/", {"name": "", "expires_in_days": 30})
    client.post("/account/tokens/", {"name": "forever", "expires_in_days": 366})
    assert not ApiToken.objects.exists()
    assert not AuditEvent.objects.filter(action="token.create").exists()


def test_token_created_through_the_api_is_returned_once(world, api_for):
    user = world.a.users["artist"]
    api = api_for(user)
    response = api.post("/api/v1/tokens/", {"name": "ci", "expires_in_days": 7}, format="json")
    assert response.status_code == 201
    raw = response.json()["token"]
    token = ApiToken.objects.get(pk=response.json()["id"])
    assert token.key_hash == hashlib.sha256(raw.encode()).hexdigest() != raw
    listing = api.get("/api/v1/tokens/").json()
    assert [t["id"] for t in listing["results"]] == [token.pk]
    assert "token" not in listing["results"][0] and raw not in str(listing)
    assert api.post("/api/v1/tokens/", {"name": "ci", "expires_in_days": 0}, format="json").status_code == 400


def test_bearer_token_authenticates_api_calls(world):
    user = world.a.users["producer"]
    _token, raw = api_token_create(user=user, name="script")
    response = bearer(raw).get("/api/v1/me/")
    assert response.status_code == 200
    data = response.json()
    assert data["email"] == user.email
    assert [s["slug"] for s in data["studios"]] == [world.a.studio.slug]
    assert [(p["code"], p["role"]) for p in data["projects"]] == [(world.a.project.code, "producer")]
    assert ApiToken.objects.get(user=user).last_used_at is not None


def test_bad_tokens_get_401(world):
    assert bearer("psp_made-up").get("/api/v1/me/").status_code == 401
    assert Client().get("/api/v1/me/", HTTP_AUTHORIZATION="Bearer").status_code == 401
    assert Client().get("/api/v1/me/").status_code in (401, 403)


def test_a_revoked_token_gets_401(world, client_for):
    user = world.a.users["producer"]
    token, raw = api_token_create(user=user, name="script")
    assert bearer(raw).get("/api/v1/me/").status_code == 200
    response = client_for(user).post(f"/account/tokens/{token.pk}/revoke/")
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    response = bearer(raw).get("/api/v1/me/")
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]
    assert AuditEvent.objects.filter(action="token.revoke", actor=user).count() == 1


def test_a_token_revoked_through_the_api_gets_401(world, api_for):
    user = world.a.users["producer"]
    token, raw = api_token_create(user=user, name="script")
    assert api_for(user).delete(f"/api/v1/tokens/{token.pk}/").status_code == 204
    assert bearer(raw).get("/api/v1/me/").status_code == 401
    # a token can revoke itself
    token2, raw2 = api_token_create(user=user, name="self")
    assert bearer(raw2).delete(f"/api/v1/tokens/{token2.pk}/").status_code == 204
    assert bearer(raw2).get("/api/v1/me/").status_code == 401


def test_an_expired_token_gets_401(world):
    user = world.a.users["producer"]
    token, raw = api_token_create(user=user, name="short", expires_in_days=1)
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = bearer(raw).get("/api/v1/me/")
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_a_disabled_persons_token_gets_401(world):
    user = world.a.users["producer"]
    _token, raw = api_token_create(user=user, name="script")
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert bearer(raw).get("/api/v1/me/").status_code == 401


def test_another_users_token_cannot_be_revoked(world, client_for, api_for):
    owner, other = world.a.users["producer"], world.a.users["artist"]
    token, raw = api_token_create(user=owner, name="mine")
    assert client_for(other).post(f"/account/tokens/{token.pk}/revoke/").status_code == 404
    assert api_for(other).delete(f"/api/v1/tokens/{token.pk}/").status_code == 404
    _other_token, other_raw = api_token_create(user=other, name="theirs")
    assert bearer(other_raw).delete(f"/api/v1/tokens/{token.pk}/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None
    assert bearer(raw).get("/api/v1/me/").status_code == 200
    assert not AuditEvent.objects.filter(action="token.revoke").exists()
    assert [t["id"] for t in api_for(other).get("/api/v1/tokens/").json()["results"]] == [_other_token.pk]


def test_a_bearer_token_cannot_mint_more_tokens(world, client_for):
    user = world.a.users["producer"]
    _token, raw = api_token_create(user=user, name="short", expires_in_days=1)
    response = bearer(raw).post("/api/v1/tokens/", {"name": "long", "expires_in_days": 365}, content_type="application/json")
    assert response.status_code == 403
    assert ApiToken.objects.filter(user=user).count() == 1
