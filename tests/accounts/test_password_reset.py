"""Password reset by email: the emailed link sets a new password once, and both ends are audited."""

from __future__ import annotations

import re

from django.test import Client

from portal.audit.models import AuditEvent
from portal.audit.services import PLATFORM_CHAIN, chain_for

NEW_PASSWORD = "a-brand-new-secret-77"
LINK = re.compile(r"https?://[^/\s]+(/account/password-reset/[^/\s]+/[^/\s]+/)")


def request_reset(client: Client, email: str):
    return client.post("/account/password-reset/", {"email": email})


def reset_link(message) -> str:
    match = LINK.search(message.body)
    assert match, message.body
    return match.group(1)


def set_new_password(client: Client, link: str, password: str = NEW_PASSWORD):
    response = client.get(link)  # Django swaps the token for a session and redirects
    assert response.status_code == 302
    form_url = response["Location"]
    assert client.get(form_url).status_code == 200
    return client.post(form_url, {"new_password1": password, "new_password2": password})


def sign_in(email: str, password: str, ip: str = "10.1.1.1"):
    return Client().post("/account/sign-in/", {"username": email, "password": password}, REMOTE_ADDR=ip)


def test_reset_email_link_sets_a_new_password(world, client, mailoutbox, password):
    user = world.a.users["director"]
    response = request_reset(client, user.email)
    assert response.status_code == 302
    assert response["Location"] == "/account/password-reset/sent/"
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == [user.email]
    assert "Reset your password" in message.subject
    link = reset_link(message)

    response = set_new_password(client, link)
    assert response.status_code == 302
    assert response["Location"] == "/account/password-reset/done/"
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert sign_in(user.email, NEW_PASSWORD).status_code == 302
    assert sign_in(user.email, password).status_code == 401

    requested = AuditEvent.objects.get(action="auth.password_reset_requested")
    assert requested.actor_id == user.pk and requested.chain == chain_for(world.a.studio.pk)
    changed = AuditEvent.objects.get(action="auth.password_changed")
    assert changed.actor_id == user.pk and changed.details == {"via": "reset"}
    assert NEW_PASSWORD not in str(changed.details)


def test_reset_link_works_once(world, client, mailoutbox):
    user = world.a.users["director"]
    request_reset(client, user.email)
    link = reset_link(mailoutbox[0])
    assert set_new_password(client, link).status_code == 302
    again = Client().get(link, follow=True)
    assert again.context["validlink"] is False
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


def test_reset_refuses_a_weak_new_password(world, client, mailoutbox, password):
    user = world.a.users["director"]
    request_reset(client, user.email)
    response = set_new_password(client, reset_link(mailoutbox[0]), password="short")
    assert response.status_code == 200
    assert response.context["form"].errors["new_password2"]
    user.refresh_from_db()
    assert user.check_password(password)
    assert not AuditEvent.objects.filter(action="auth.password_changed").exists()


def test_reset_for_an_unknown_address_says_the_same_and_sends_nothing(world, client, mailoutbox):
    response = request_reset(client, "nobody@nowhere.test")
    assert response.status_code == 302
    assert response["Location"] == "/account/password-reset/sent/"
    assert mailoutbox == []
    event = AuditEvent.objects.get(action="auth.password_reset_requested")
    assert event.chain == PLATFORM_CHAIN
    assert event.actor_id is None and event.actor_email == "nobody@nowhere.test"


def test_resetting_the_password_lifts_the_lock_as_the_lock_message_promises(world, client, mailoutbox):
    user = world.a.users["director"]
    for _ in range(5):
        sign_in(user.email, "wrong-password-000", ip="10.2.2.2")
    assert sign_in(user.email, "wrong-password-000", ip="10.3.3.3").status_code == 429
    request_reset(client, user.email)
    assert set_new_password(client, reset_link(mailoutbox[0])).status_code == 302
    assert sign_in(user.email, NEW_PASSWORD, ip="10.3.3.3").status_code == 302


def test_changing_the_password_keeps_the_session_and_is_audited(world, client_for, password):
    user = world.a.users["director"]
    client = client_for(user)
    response = client.post(
        "/account/password/", {"old_password": "wrong-old-one", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["old_password"]
    assert not AuditEvent.objects.filter(action="auth.password_changed").exists()
    response = client.post(
        "/account/password/", {"old_password": password, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == "/account/"
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert client.get("/account/").status_code == 200  # still signed in
    assert AuditEvent.objects.get(action="auth.password_changed").details == {"via": "change"}
