"""Invitations: the emailed link, every way it can be unusable, acceptance (new and existing
people), duplicates, and that a failing service leaves nothing half-written."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.projects.models import ProjectMembership
from portal.studios import services
from portal.studios.models import Invitation, StudioMembership
from tests.studios.helpers import counts, counts_but_audit, flashed, invite_path, last_denial

User = get_user_model()
NEW_EMAIL = "newcomer@elsewhere.test"
NEW_PASSWORD = "a-good-long-passphrase-1"


@pytest.fixture
def invite(world, client_for, mailoutbox, django_capture_on_commit_callbacks):
    """invite(email, **fields) -> the /invite/<token>/ path from the email the studio-a admin's page sent."""

    def send(email: str = NEW_EMAIL, studio_role: str = "member", project=None, project_role: str = "") -> str:
        sent_before = len(mailoutbox)
        with django_capture_on_commit_callbacks(execute=True):
            response = client_for(world.a.users["studio_admin"]).post(
                f"/s/{world.a.studio.slug}/invitations/",
                {
                    "email": email,
                    "studio_role": studio_role,
                    "project": project.pk if project else "",
                    "project_role": project_role,
                },
            )
        assert response.status_code == 302
        assert flashed(response) == [f"Invitation sent to {email}."]
        assert len(mailoutbox) == sent_before + 1
        message = mailoutbox[-1]
        assert message.to == [email.lower()]
        assert world.a.studio.name in message.subject
        return invite_path(message)

    return send


def accept_as_new(client: Client, path: str, password: str = NEW_PASSWORD, full_name: str = "Nova Newcomer"):
    return client.post(path, {"full_name": full_name, "password1": password, "password2": password})


def assert_unusable(response, status: int, text: str) -> None:
    assert response.status_code == status
    assert text in response.context["message"]
    assert text in response.content.decode()


# --- accepting -------------------------------------------------------------------------------


def test_accepting_creates_the_person_with_their_password_and_memberships(world, invite):
    path = invite(NEW_EMAIL, project=world.a.project, project_role="artist")
    client = Client()
    page = client.get(path)
    assert page.status_code == 200
    assert page.context["invitation"].email == NEW_EMAIL
    assert page.context["existing"] is False

    response = accept_as_new(client, path)
    assert response.status_code == 302
    assert response["Location"] == f"/s/{world.a.studio.slug}/"
    user = User.objects.get(email=NEW_EMAIL)
    assert user.check_password(NEW_PASSWORD)
    assert user.full_name == "Nova Newcomer"
    assert StudioMembership.objects.get(studio=world.a.studio, user=user).role == "member"
    assert ProjectMembership.objects.get(project=world.a.project, user=user).role == "artist"
    assert int(client.session["_auth_user_id"]) == user.pk  # signed straight in
    assert client.get(f"/s/{world.a.studio.slug}/p/{world.a.project.code}/").status_code == 200
    invitation = Invitation.objects.get(email=NEW_EMAIL)
    assert invitation.state == Invitation.State.ACCEPTED and invitation.accepted_by_id == user.pk
    actions = set(AuditEvent.objects.filter(actor=user).values_list("action", flat=True))
    assert {"invitation.accept", "membership.add", "project_membership.add"} <= actions


def test_accepting_a_studio_admin_invitation_makes_a_studio_admin_without_a_project(world, invite):
    path = invite(NEW_EMAIL, studio_role="studio_admin")
    accept_as_new(Client(), path)
    user = User.objects.get(email=NEW_EMAIL)
    assert StudioMembership.objects.get(studio=world.a.studio, user=user).role == "studio_admin"
    assert not ProjectMembership.objects.filter(user=user).exists()


def test_an_invitation_link_works_once(world, invite):
    path = invite()
    assert accept_as_new(Client(), path).status_code == 302
    before = counts()
    assert_unusable(Client().get(path), 410, "already used")
    assert_unusable(accept_as_new(Client(), path, password="another-long-passphrase-2"), 410, "already used")
    assert counts() == before
    assert User.objects.get(email=NEW_EMAIL).check_password(NEW_PASSWORD)


@pytest.mark.parametrize(
    "password1, password2, error",
    [
        ("short", "short", "too short"),
        ("1234567890123", "1234567890123", "entirely numeric"),
        ("a-good-long-passphrase-1", "a-different-passphrase-2", "The two passwords differ."),
    ],
)
def test_a_bad_password_creates_nothing(world, invite, password1, password2, error):
    path = invite()
    before = counts()
    response = Client().post(path, {"full_name": "Nova", "password1": password1, "password2": password2})
    assert response.status_code == 400
    assert error in str(response.context["form"].errors)
    assert counts() == before
    assert Invitation.objects.get(email=NEW_EMAIL).state == Invitation.State.PENDING


# --- unusable links ------------------------------------------------------------------------------


def test_a_made_up_token_is_not_valid(world):
    before = counts()
    assert_unusable(Client().get("/invite/not-a-real-token/"), 404, "not valid")
    assert_unusable(accept_as_new(Client(), "/invite/not-a-real-token/"), 404, "not valid")
    assert_unusable(Client().get("/invite/" + "x" * 250 + "/"), 404, "not valid")
    assert counts() == before


def test_an_expired_invitation_says_so(world, invite):
    path = invite()
    Invitation.objects.filter(email=NEW_EMAIL).update(expires_at=timezone.now() - timedelta(minutes=1))
    before = counts()
    assert_unusable(Client().get(path), 410, "expired")
    assert_unusable(accept_as_new(Client(), path), 410, "expired")
    assert counts() == before
    assert not User.objects.filter(email=NEW_EMAIL).exists()


def test_a_revoked_invitation_says_it_was_withdrawn(world, invite, client_for):
    path = invite()
    invitation = Invitation.objects.get(email=NEW_EMAIL)
    response = client_for(world.a.users["studio_admin"]).post(f"/s/{world.a.studio.slug}/invitations/{invitation.pk}/revoke/")
    assert flashed(response) == [f"Invitation for {NEW_EMAIL} revoked."]
    assert AuditEvent.objects.filter(action="invitation.revoke", target_id=str(invitation.pk)).exists()
    before = counts()
    assert_unusable(Client().get(path), 410, "withdrawn")
    assert_unusable(accept_as_new(Client(), path), 410, "withdrawn")
    assert counts() == before


def test_resending_makes_the_old_link_invalid(world, invite, client_for, mailoutbox, django_capture_on_commit_callbacks):
    old_path = invite()
    invitation = Invitation.objects.get(email=NEW_EMAIL)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(world.a.users["studio_admin"]).post(f"/s/{world.a.studio.slug}/invitations/{invitation.pk}/resend/")
    assert "the earlier link no longer works" in flashed(response)[0]
    new_path = invite_path(mailoutbox[-1])
    assert new_path != old_path
    assert Invitation.objects.get(pk=invitation.pk).send_count == 2
    assert_unusable(Client().get(old_path), 404, "not valid")
    assert_unusable(accept_as_new(Client(), old_path), 404, "not valid")
    assert accept_as_new(Client(), new_path).status_code == 302
    assert User.objects.filter(email=NEW_EMAIL).exists()


def test_resending_or_revoking_a_closed_invitation_is_refused(world, invite, client_for):
    accept_as_new(Client(), invite())
    invitation = Invitation.objects.get(email=NEW_EMAIL)
    admin = world.a.users["studio_admin"]
    before = counts()
    response = client_for(admin).post(f"/s/{world.a.studio.slug}/invitations/{invitation.pk}/resend/")
    assert flashed(response) == ["This invitation was already accepted; send a new one instead."]
    response = client_for(admin).post(f"/s/{world.a.studio.slug}/invitations/{invitation.pk}/revoke/")
    assert flashed(response) == ["This invitation was already accepted; remove the member instead."]
    assert counts() == before


def test_a_suspended_studios_invitation_cannot_be_accepted(world, invite):
    path = invite()
    services.studio_suspend(actor=world.staff, studio=world.a.studio)
    before = counts()
    assert_unusable(Client().get(path), 410, "suspended")
    assert_unusable(accept_as_new(Client(), path), 410, "suspended")
    assert counts() == before


# --- bound to the invited address ------------------------------------------------------------


def assert_only_a_denial_was_recorded(before: dict) -> None:
    """Nothing was written but the access.denied row on the studio's audit record."""
    after = counts()
    assert after.pop("audit_events") == before.pop("audit_events") + 1
    assert after == before
    assert AuditEvent.objects.order_by("-id").first().action == "access.denied"


def test_signed_in_as_someone_else_a_new_address_invitation_is_refused(world, invite, client_for):
    path = invite()
    someone_else = client_for(world.b.users["viewer"])
    before = counts()
    response = accept_as_new(someone_else, path)
    assert_unusable(response, 403, "for another email address")
    assert_only_a_denial_was_recorded(before)
    assert Invitation.objects.get(email=NEW_EMAIL).state == Invitation.State.PENDING
    assert not StudioMembership.objects.filter(studio=world.a.studio, user=world.b.users["viewer"]).exists()


def test_a_wrong_account_refusal_is_on_the_studios_audit_record(world, invite, client_for):
    path = invite()
    intruder = world.b.users["viewer"]
    assert accept_as_new(client_for(intruder), path).status_code == 403
    assert AuditEvent.objects.filter(studio=world.a.studio, actor=intruder).exclude(action__startswith="auth.").exists()


def test_signed_in_as_someone_else_an_existing_persons_invitation_is_refused(world, invite, client_for):
    invited = world.b.users["artist"]
    path = invite(invited.email)
    before = counts()
    response = client_for(world.b.users["viewer"]).post(path)
    assert_unusable(response, 403, "for another email address")
    assert_only_a_denial_was_recorded(before)
    assert not StudioMembership.objects.filter(studio=world.a.studio, user__in=[invited, world.b.users["viewer"]]).exists()


def test_an_existing_person_must_sign_in_as_the_invited_address_then_accept(world, invite, password):
    person = world.b.users["artist"]  # a member of studio b, invited to studio a
    path = invite(person.email.upper(), project=world.a.project, project_role="viewer")
    client = Client()
    page = client.get(path)
    assert page.status_code == 200 and page.context["existing"] is True

    before = counts_but_audit()
    # Anonymous: no password can be set for an existing account through the link
    response = accept_as_new(client, path, password="hijack-attempt-password-9")
    assert response.status_code == 302
    assert response["Location"] == f"/account/sign-in/?next={path}"
    assert flashed(response) == [f"Sign in as {person.email} to accept the invitation."]
    assert counts_but_audit() == before
    person.refresh_from_db()
    assert person.check_password(password)

    response = client.post(response["Location"], {"username": person.email, "password": password})
    assert response["Location"] == path
    response = client.post(path)
    assert response.status_code == 302
    assert response["Location"] == f"/s/{world.a.studio.slug}/"
    assert StudioMembership.objects.get(studio=world.a.studio, user=person).role == "member"
    assert StudioMembership.objects.filter(studio=world.b.studio, user=person).exists()
    assert ProjectMembership.objects.get(project=world.a.project, user=person).role == "viewer"
    assert User.objects.filter(email__iexact=person.email).count() == 1
    assert client.get(f"/s/{world.a.studio.slug}/").status_code == 200


# --- refused invitations ---------------------------------------------------------------------


@pytest.mark.parametrize("email", ["artist@a.test", "Artist@A.TEST"])
def test_inviting_a_member_is_refused_clearly(world, client_for, api_for, mailoutbox, django_capture_on_commit_callbacks, email):
    before = counts()
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(world.a.users["studio_admin"]).post(
            f"/s/{world.a.studio.slug}/invitations/", {"email": email, "studio_role": "member"}
        )
        api = api_for(world.a.users["studio_admin"]).post(
            f"/api/v1/studios/{world.a.studio.pk}/invitations/", {"email": email}, format="json"
        )
    message = "artist@a.test is already a member of Studio A."
    assert flashed(response) == [message]
    assert api.status_code == 400
    assert api.json()["email"] == [message]
    assert counts() == before
    assert mailoutbox == []


def test_a_second_pending_invitation_is_refused_clearly(
    world, invite, client_for, api_for, mailoutbox, django_capture_on_commit_callbacks
):
    invite()
    before, sent = counts(), len(mailoutbox)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(world.a.users["studio_admin"]).post(
            f"/s/{world.a.studio.slug}/invitations/", {"email": NEW_EMAIL.upper(), "studio_role": "member"}
        )
        api = api_for(world.a.users["studio_admin"]).post(
            f"/api/v1/studios/{world.a.studio.pk}/invitations/", {"email": NEW_EMAIL}, format="json"
        )
    assert flashed(response) == [f"{NEW_EMAIL} already has a pending invitation. Use “Resend” to send it again."]
    assert api.status_code == 400
    assert "already has a pending invitation" in api.json()["detail"]
    assert counts() == before
    assert len(mailoutbox) == sent


def test_an_expired_pending_invitation_is_replaced_by_a_new_one(world, invite):
    old_path = invite()
    Invitation.objects.filter(email=NEW_EMAIL).update(expires_at=timezone.now() - timedelta(days=1))
    new_path = invite()
    states = sorted(i.state for i in Invitation.objects.filter(email=NEW_EMAIL))
    assert states == [Invitation.State.PENDING, Invitation.State.REVOKED]
    assert_unusable(Client().get(old_path), 410, "withdrawn")
    assert accept_as_new(Client(), new_path).status_code == 302


def test_the_api_sends_an_invitation(world, api_for, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_for(world.a.users["studio_admin"]).post(
            f"/api/v1/studios/{world.a.studio.pk}/invitations/",
            {"email": NEW_EMAIL, "project": world.a.project.pk, "project_role": "director"},
            format="json",
        )
    assert response.status_code == 201
    assert response.json()["state"] == "pending"
    assert "token" not in response.json()
    assert accept_as_new(Client(), invite_path(mailoutbox[0])).status_code == 302
    assert ProjectMembership.objects.get(project=world.a.project, user__email=NEW_EMAIL).role == "director"


def test_the_api_refuses_a_project_of_another_studio_and_a_project_role_without_project(world, api_for):
    api = api_for(world.a.users["studio_admin"])
    url = f"/api/v1/studios/{world.a.studio.pk}/invitations/"
    before = counts()
    assert (
        api.post(url, {"email": NEW_EMAIL, "project": world.b.project.pk, "project_role": "artist"}, format="json").status_code
        == 404
    )
    response = api.post(url, {"email": NEW_EMAIL, "project_role": "artist"}, format="json")
    assert response.status_code == 400
    assert "A project role needs a project." in response.json()["detail"]
    response = api.post(url, {"email": NEW_EMAIL, "project": world.a.project.pk}, format="json")
    assert response.status_code == 400
    assert "Choose the role" in response.json()["detail"]
    assert counts() == before


@pytest.mark.parametrize("role", ["member", "producer"])
def test_only_studio_admins_invite_and_the_refusal_is_audited(world, client_for, api_for, role):
    before = counts_but_audit()
    actor = world.a.users[role]
    response = client_for(actor).post(f"/s/{world.a.studio.slug}/invitations/", {"email": NEW_EMAIL, "studio_role": "member"})
    assert response.status_code == 403
    denial = last_denial()
    assert (denial.actor_id, denial.studio_id) == (actor.pk, world.a.studio.pk)
    assert denial.details == {"attempted": "studio.members.manage", "answered": 403}
    response = api_for(actor).post(f"/api/v1/studios/{world.a.studio.pk}/invitations/", {"email": NEW_EMAIL}, format="json")
    assert response.status_code == 403
    assert last_denial().pk != denial.pk
    assert counts_but_audit() == before


def test_another_studios_admin_cannot_invite_and_gets_404(world, client_for, api_for):
    before = counts_but_audit()
    actor = world.b.users["studio_admin"]
    assert (
        client_for(actor)
        .post(f"/s/{world.a.studio.slug}/invitations/", {"email": NEW_EMAIL, "studio_role": "member"})
        .status_code
        == 404
    )
    assert last_denial().details == {"attempted": "studio.members.manage", "answered": 404}
    assert (
        api_for(actor).post(f"/api/v1/studios/{world.a.studio.pk}/invitations/", {"email": NEW_EMAIL}, format="json").status_code
        == 404
    )
    assert counts_but_audit() == before


# --- all or nothing ----------------------------------------------------------------------------


def _failing_record(on_action: str):
    real = services.record

    def record(**kwargs):
        if kwargs["action"] == on_action:
            raise RuntimeError("audit log unavailable")
        return real(**kwargs)

    return record


def test_invitation_send_rolls_back_when_the_audit_write_fails(
    world, monkeypatch, mailoutbox, django_capture_on_commit_callbacks
):
    admin = world.a.users["studio_admin"]
    # an expired invitation that the new one would close
    stale, _raw = services.invitation_send(actor=admin, studio=world.a.studio, email=NEW_EMAIL)
    Invitation.objects.filter(pk=stale.pk).update(expires_at=timezone.now() - timedelta(days=1))
    before = counts()
    monkeypatch.setattr(services, "record", _failing_record("invitation.send"))
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        services.invitation_send(actor=admin, studio=world.a.studio, email=NEW_EMAIL)
    assert counts() == before
    assert Invitation.objects.get(pk=stale.pk).revoked_at is None  # the close of the old one rolled back too
    assert mailoutbox == []


def test_invitation_accept_rolls_back_when_the_audit_write_fails(world, invite, monkeypatch):
    path = invite(project=world.a.project, project_role="artist")
    before = counts()
    monkeypatch.setattr(services, "record", _failing_record("project_membership.add"))
    with pytest.raises(RuntimeError):
        services.invitation_accept(raw_token=path.split("/")[2], password=NEW_PASSWORD, full_name="Nova")
    assert counts() == before
    assert not User.objects.filter(email=NEW_EMAIL).exists()
    assert Invitation.objects.get(email=NEW_EMAIL).state == Invitation.State.PENDING
    monkeypatch.undo()
    assert accept_as_new(Client(), path).status_code == 302  # the link still works afterwards
