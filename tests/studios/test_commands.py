"""Onboarding from the command line (invite_studio_admin) and studio slugs (the demo seed: test_seed_demo.py)."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command
from django.test import Client

from portal.audit.models import AuditEvent
from portal.audit.verify import verify_all
from portal.studios import services
from portal.studios.models import Invitation, Studio, StudioMembership
from tests.factories import make_studio
from tests.studios.helpers import counts, invite_path


def invite_studio_admin(*args: str) -> str:
    out = StringIO()
    call_command("invite_studio_admin", *args, stdout=out)
    return out.getvalue()


def test_invite_studio_admin_creates_the_studio_and_emails_the_admin(db, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        out = invite_studio_admin("--studio-name", "Northlight Pictures", "--email", "Boss@Northlight.test")
    studio = Studio.objects.get(slug="northlight-pictures")
    assert studio.name == "Northlight Pictures"
    assert studio.status == "invited"
    assert "created studio Northlight Pictures (northlight-pictures)" in out
    assert "invited boss@northlight.test as studio admin of Northlight Pictures" in out
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["boss@northlight.test"]
    invitation = Invitation.objects.get(studio=studio)
    assert invitation.studio_role == "studio_admin"
    assert AuditEvent.objects.filter(studio=studio, action="studio.create").exists()
    assert AuditEvent.objects.filter(studio=studio, action="invitation.send", actor=None).exists()

    # the emailed link makes a studio admin and activates the studio
    client = Client()
    password = "northlight-boss-passphrase"
    response = client.post(invite_path(mailoutbox[0]), {"full_name": "The Boss", "password1": password, "password2": password})
    assert response.status_code == 302
    assert response["Location"] == "/s/northlight-pictures/"
    assert StudioMembership.objects.get(studio=studio, user__email="boss@northlight.test").role == "studio_admin"
    assert Studio.objects.get(pk=studio.pk).status == "active"
    assert client.get("/s/northlight-pictures/").status_code == 200


def test_invite_studio_admin_print_link_prints_a_working_link(db, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        out = invite_studio_admin("--studio-name", "Printed", "--email", "p@printed.test", "--print-link")
    path = re.search(r"(/invite/[^/\s]+/)", out).group(1)
    assert path == invite_path(mailoutbox[0])
    assert Client().get(path).status_code == 200


def test_invite_studio_admin_reuses_an_existing_studio(world, mailoutbox, django_capture_on_commit_callbacks):
    before = Studio.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        out = invite_studio_admin("--studio-name", "Studio A", "--slug", "studio-a", "--email", "second-admin@a.test")
    assert Studio.objects.count() == before
    assert "created studio" not in out
    invitation = Invitation.objects.get(email="second-admin@a.test")
    assert invitation.studio_id == world.a.studio.pk and invitation.studio_role == "studio_admin"
    assert mailoutbox[0].to == ["second-admin@a.test"]


def test_invite_studio_admin_by_name_alone_reuses_the_studio_with_that_name(db, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        invite_studio_admin("--studio-name", "Blue Fox", "--email", "one@fox.test")
        out = invite_studio_admin("--studio-name", "Blue Fox", "--email", "two@fox.test")
    assert Studio.objects.filter(name="Blue Fox").count() == 1
    assert "created studio" not in out
    assert set(Invitation.objects.filter(studio__slug="blue-fox").values_list("email", flat=True)) == {
        "one@fox.test",
        "two@fox.test",
    }
    assert len(mailoutbox) == 2


def test_invite_studio_admin_refuses_a_member_or_a_pending_invitation_clearly(
    world, mailoutbox, django_capture_on_commit_callbacks
):
    before = counts()
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(CommandError, match="already a member of Studio A"):
        invite_studio_admin("--studio-name", "Studio A", "--slug", "studio-a", "--email", "admin@a.test")
    with django_capture_on_commit_callbacks(execute=True):
        invite_studio_admin("--studio-name", "Brand New", "--email", "first@new.test")
    after_first = counts()
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(CommandError, match="already has a pending invitation"):
        invite_studio_admin("--studio-name", "Brand New", "--email", "first@new.test")
    assert counts() == after_first
    assert after_first["studios"] == before["studios"] + 1
    assert len(mailoutbox) == 1


def test_invite_studio_admin_rolls_back_the_new_studio_if_the_invitation_fails(
    db, mailoutbox, django_capture_on_commit_callbacks
):
    before = counts()
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(CommandError):
        invite_studio_admin("--studio-name", "Half Made", "--email", "not-an-address")
    assert counts() == before
    assert not Studio.objects.filter(slug="half-made").exists()
    assert mailoutbox == []


def test_studio_create_refuses_a_used_slug(world):
    before = counts()
    with pytest.raises(ValidationError) as excinfo:
        services.studio_create(actor=world.staff, name="Another A", slug="studio-a")
    assert excinfo.value.message_dict == {"slug": ["A studio with the slug “studio-a” already exists."]}
    with pytest.raises(ValidationError):
        services.studio_create(actor=world.staff, name="Studio A")  # slug derived from the name
    assert counts() == before


def test_studio_create_is_for_platform_staff_only(world):
    before = counts()
    with pytest.raises(PermissionDenied):
        services.studio_create(actor=world.a.users["studio_admin"], name="Rogue", slug="rogue")
    assert counts() == before


def test_studio_create_refuses_a_bad_slug(db):
    with pytest.raises(ValidationError) as excinfo:
        services.studio_create(actor=None, name="Bad", slug="bad slug!")
    assert "slug" in excinfo.value.message_dict
    assert not Studio.objects.exists()
    make_studio("Good", "good")
    assert verify_all()[1] is None
