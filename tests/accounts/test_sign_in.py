"""Signing in and out, with every attempt on the record, and django-axes locking an account (or
an address) after 5 failures for 15 minutes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from portal.accounts.views import LOCKED_MESSAGE, LOCKED_SCOPE
from portal.audit.models import AuditEvent
from portal.audit.services import PLATFORM_CHAIN, chain_for

SIGN_IN = "/account/sign-in/"
WRONG = "not-the-password-42"


def sign_in(client: Client, email: str, password: str, ip: str = "10.0.0.1"):
    return client.post(SIGN_IN, {"username": email, "password": password}, REMOTE_ADDR=ip)


def signed_in_as(client: Client):
    user_id = client.session.get("_auth_user_id")
    return int(user_id) if user_id else None


def fail_times(n: int, email: str, ip: str = "10.0.0.1") -> list[int]:
    return [sign_in(Client(), email, WRONG, ip).status_code for _ in range(n)]


def test_sign_in_succeeds_and_is_audited_in_the_users_studio_chain(world, client, password):
    user = world.a.users["artist"]
    response = sign_in(client, user.email.upper(), password)  # addresses are case-insensitive
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert signed_in_as(client) == user.pk
    event = AuditEvent.objects.get(action="auth.sign_in")
    assert event.chain == chain_for(world.a.studio.pk)
    assert event.actor_id == user.pk
    assert event.ip == "10.0.0.1"
    # and the person reaches their studio
    assert client.get(f"/s/{world.a.studio.slug}/").status_code == 200


def test_sign_in_follows_a_safe_next_but_not_an_external_one(world, password):
    user = world.a.users["artist"]
    client = Client()
    response = client.post(f"{SIGN_IN}?next=/s/{world.a.studio.slug}/", {"username": user.email, "password": password})
    assert response["Location"] == f"/s/{world.a.studio.slug}/"
    client = Client()
    response = client.post(f"{SIGN_IN}?next=https://evil.test/", {"username": user.email, "password": password})
    assert response["Location"] == "/"


def test_a_person_in_two_studios_gets_the_sign_in_on_both_chains(world, client, password):
    from tests.factories import add_person

    person = add_person(world.b.studio, world.a.users["viewer"].email, "member", inviter=world.b.users["studio_admin"])
    sign_in(client, person.email, password)
    chains = set(AuditEvent.objects.filter(action="auth.sign_in").values_list("chain", flat=True))
    assert chains == {chain_for(world.a.studio.pk), chain_for(world.b.studio.pk)}


def test_wrong_password_gets_401_and_is_audited(world, client):
    user = world.a.users["artist"]
    response = sign_in(client, user.email, WRONG)
    assert response.status_code == 401
    assert "Email or password is not right." in response.content.decode()
    assert signed_in_as(client) is None
    event = AuditEvent.objects.get(action="auth.sign_in_failed")
    assert event.chain == chain_for(world.a.studio.pk)
    assert event.actor_id == user.pk
    assert event.details == {"email": user.email, "reason": "bad credentials"}
    assert WRONG not in str(event.details)


def test_unknown_email_gets_the_same_answer_and_is_audited_in_the_platform_chain(world, client):
    response = sign_in(client, "nobody@nowhere.test", WRONG)
    assert response.status_code == 401
    assert "Email or password is not right." in response.content.decode()
    event = AuditEvent.objects.get(action="auth.sign_in_failed")
    assert event.chain == PLATFORM_CHAIN
    assert event.studio_id is None and event.actor_id is None
    assert event.actor_email == "nobody@nowhere.test"


def test_a_disabled_account_is_refused_even_with_the_right_password(world, client, password):
    user = world.a.users["artist"]
    user.is_active = False
    user.save(update_fields=["is_active"])
    response = sign_in(client, user.email, password)
    assert response.status_code == 403
    assert "disabled" in response.content.decode()
    assert signed_in_as(client) is None
    assert AuditEvent.objects.filter(action="auth.sign_in_failed", details__reason="inactive").exists()


def test_five_failures_lock_the_account(world, password):
    user = world.a.users["artist"]
    statuses = fail_times(5, user.email)
    assert statuses[:4] == [401, 401, 401, 401]
    assert statuses[4] == 429  # the fifth failure already locks
    client = Client()
    response = sign_in(client, user.email, password)  # sixth: the right password
    assert response.status_code == 429
    assert LOCKED_MESSAGE in response.content.decode()
    assert signed_in_as(client) is None
    assert client.get(f"/s/{world.a.studio.slug}/").status_code == 302  # to the sign-in page
    locked = AuditEvent.objects.filter(action="auth.locked_out", actor=user)
    assert locked.exists()
    assert {e.chain for e in locked} == {chain_for(world.a.studio.pk)}
    assert AuditEvent.objects.filter(action="auth.sign_in_failed", actor=user).count() == 4
    assert not AuditEvent.objects.filter(action="auth.sign_in", actor=user).exists()


def test_four_failures_do_not_lock_and_a_success_resets_the_count(world, password):
    user = world.a.users["artist"]
    assert fail_times(4, user.email) == [401] * 4
    assert sign_in(Client(), user.email, password).status_code == 302
    assert fail_times(4, user.email) == [401] * 4  # counting starts again after a success
    assert sign_in(Client(), user.email, password).status_code == 302


def test_the_lock_page_keeps_the_email_in_the_form(world):
    user = world.a.users["artist"]
    fail_times(4, user.email)
    response = sign_in(Client(), user.email, WRONG)
    assert response.status_code == 429
    assert f'value="{user.email}"' in response.content.decode()


def test_lockout_is_per_username_from_any_address(world, password):
    user = world.a.users["artist"]
    fail_times(5, user.email, ip="10.0.0.1")
    response = sign_in(Client(), user.email, password, ip="10.9.9.9")
    assert response.status_code == 429
    assert LOCKED_MESSAGE in response.content.decode()


def test_one_address_failing_on_many_accounts_locks_none_of_the_others(world, password):
    """Finding 10: one careless person behind a shared address (a studio's NAT) no longer locks out
    everybody behind it, across studios; only the account that failed five times is locked."""
    careless = world.a.users["artist"]
    assert fail_times(5, careless.email, ip="10.0.0.7")[-1] == 429
    for role in ("member", "producer", "director", "viewer"):
        assert sign_in(Client(), world.a.users[role].email, WRONG, ip="10.0.0.7").status_code == 401
    other = world.b.users["viewer"]
    assert sign_in(Client(), other.email, password, ip="10.0.0.7").status_code == 302
    response = sign_in(Client(), careless.email, password, ip="10.0.0.7")
    assert response.status_code == 429
    assert LOCKED_SCOPE in response.content.decode()  # the page says what is locked


def test_the_lock_lifts_after_15_minutes(world, password):
    from axes.models import AccessAttempt

    user = world.a.users["artist"]
    fail_times(5, user.email)
    assert sign_in(Client(), user.email, password).status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    assert sign_in(Client(), user.email, password).status_code == 302


def test_sign_out_is_post_only(world, client_for):
    user = world.a.users["artist"]
    client = client_for(user)
    response = client.get("/account/sign-out/")
    assert response.status_code == 405
    assert signed_in_as(client) == user.pk
    assert not AuditEvent.objects.filter(action="auth.sign_out").exists()
    response = client.post("/account/sign-out/")
    assert response.status_code == 302
    assert response["Location"] == "/account/sign-in/"
    assert signed_in_as(client) is None
    event = AuditEvent.objects.get(action="auth.sign_out")
    assert event.actor_id == user.pk and event.chain == chain_for(world.a.studio.pk)
    assert client.get(f"/s/{world.a.studio.slug}/").status_code == 302


@pytest.mark.parametrize("path", ["/", "/account/"])
def test_pages_need_a_signed_in_user(db, client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/account/sign-in/")


def test_a_forged_forwarded_for_changes_neither_the_lock_nor_the_audit_log(world, password, settings):
    """Finding 7: with no trusted proxy, X-Forwarded-For is the client's to write and is ignored."""
    settings.TRUSTED_PROXIES = []
    user = world.a.users["artist"]
    statuses = [
        Client()
        .post(SIGN_IN, {"username": user.email, "password": WRONG}, REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=f"6.6.6.{n}")
        .status_code
        for n in range(5)
    ]
    assert statuses[-1] == 429
    failed = AuditEvent.objects.filter(action="auth.sign_in_failed", actor=user)
    assert {e.ip for e in failed} == {"10.0.0.1"}
