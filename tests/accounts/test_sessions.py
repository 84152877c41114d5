"""Sessions are read from the cache on every request (the database row behind it), and still end the
moment the person signs out, changes their password or is disabled: the user row is read afresh."""

from __future__ import annotations

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from portal.accounts.credentials import session_user

SIGN_IN = "/account/sign-in/"


def _signed_in(user, password) -> Client:
    client = Client()
    response = client.post(SIGN_IN, {"username": user.email, "password": password})
    assert response.status_code == 302
    return client


def _replay(client: Client) -> Client:
    """Another browser holding the same session cookie (a copied or stolen cookie)."""
    other = Client()
    other.cookies["sessionid"] = client.cookies["sessionid"].value
    return other


def test_a_signed_in_request_reads_the_session_without_a_query(world, password):
    client = _signed_in(world.a.users["artist"], password)
    page = f"/s/{world.a.studio.slug}/p/{world.a.project.code}/"
    assert client.get(page).status_code == 200
    with CaptureQueriesContext(connection) as captured:
        assert client.get(page).status_code == 200
    assert not [q["sql"] for q in captured.captured_queries if "django_session" in q["sql"]]


def test_after_sign_out_the_same_cookie_is_refused_everywhere(world, password):
    user = world.a.users["artist"]
    client = _signed_in(user, password)
    copy = _replay(client)
    dashboard = f"/s/{world.a.studio.slug}/"
    assert copy.get(dashboard).status_code == 200
    session_key = client.cookies["sessionid"].value
    assert client.post("/account/sign-out/").status_code == 302
    response = copy.get(dashboard)
    assert response.status_code == 302 and response["Location"].startswith("/account/sign-in/")
    assert copy.get(f"/api/v1/studios/{world.a.studio.pk}/").status_code == 401
    assert session_user(session_key) is None  # what an open websocket asks on its next ping


def test_a_password_change_ends_the_other_sessions(world, password):
    user = world.a.users["artist"]
    here = _signed_in(user, password)
    elsewhere = _signed_in(user, password)
    dashboard = f"/s/{world.a.studio.slug}/"
    assert elsewhere.get(dashboard).status_code == 200
    new = "a-brand-new-password-5521"
    response = here.post("/account/password/", {"old_password": password, "new_password1": new, "new_password2": new})
    assert response.status_code == 302
    assert here.get(dashboard).status_code == 200  # the session that changed it stays signed in
    refused = elsewhere.get(dashboard)
    assert refused.status_code == 302 and refused["Location"].startswith("/account/sign-in/")


def test_a_disabled_account_is_signed_out_on_its_next_request(world, password):
    user = world.a.users["artist"]
    client = _signed_in(user, password)
    dashboard = f"/s/{world.a.studio.slug}/"
    assert client.get(dashboard).status_code == 200
    user.is_active = False
    user.save(update_fields=["is_active"])
    response = client.get(dashboard)
    assert response.status_code == 302 and response["Location"].startswith("/account/sign-in/")
