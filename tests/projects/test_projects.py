"""Projects and project members: bad codes, duplicates, archived projects, and a producer who
tries to drop their own producer role. Every refusal says why and writes nothing."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from portal.audit.models import AuditEvent
from portal.projects import services
from portal.projects.models import Project, ProjectMembership
from tests.studios.helpers import counts, counts_but_audit, flashed, last_denial

CODE_RULE = "Use 2 to 32 capital letters, digits or underscores, starting with a letter (e.g. HOD_S2)."


def create_page(client, side, code: str, name: str = "A New Show", frame_rate: str = "24/1"):
    return client.post(f"/s/{side.studio.slug}/projects/new/", {"code": code, "name": name, "frame_rate": frame_rate})


def create_api(api, side, code: str, name: str = "A New Show"):
    return api.post(
        "/api/v1/projects/", {"studio": side.studio.pk, "code": code, "name": name, "frame_rate": "24/1"}, format="json"
    )


def page_errors(response) -> str:
    return str(response.context["form"].errors)


# --- creating ----------------------------------------------------------------------------------


def test_a_studio_admin_creates_a_project(world, client_for):
    response = create_page(client_for(world.a.users["studio_admin"]), world.a, "HOD_S2", frame_rate="24000/1001")
    assert response.status_code == 302
    assert response["Location"] == f"/s/{world.a.studio.slug}/p/HOD_S2/"
    assert flashed(response) == ["Project HOD_S2 created."]
    project = Project.objects.get(studio=world.a.studio, code="HOD_S2")
    assert project.frame_rate == "24000/1001" and project.created_by == world.a.users["studio_admin"]
    assert AuditEvent.objects.filter(action="project.create", project=project).exists()


@pytest.mark.parametrize("code", ["HOD S2", "1ST_SHOW", "X", "HOD-S2", "ÉTÉ_24", "_HOD"])
def test_a_bad_code_is_refused_clearly_and_nothing_is_created(world, client_for, api_for, code):
    before = counts()
    response = create_page(client_for(world.a.users["studio_admin"]), world.a, code)
    assert response.status_code == 400
    assert CODE_RULE in page_errors(response)
    api = create_api(api_for(world.a.users["studio_admin"]), world.a, code)
    assert api.status_code == 400
    assert api.json()["code"] == [CODE_RULE]
    assert counts() == before


def test_a_too_long_code_is_refused_clearly(world, client_for, api_for):
    code = "A" * 33
    before = counts()
    response = create_page(client_for(world.a.users["studio_admin"]), world.a, code)
    assert response.status_code == 400
    assert "at most 32 characters" in page_errors(response)
    api = create_api(api_for(world.a.users["studio_admin"]), world.a, code)
    assert api.status_code == 400
    assert "32 characters" in str(api.json()["code"])
    with pytest.raises(ValidationError) as excinfo:
        services.project_create(actor=world.a.users["studio_admin"], studio=world.a.studio, code=code, name="Long")
    assert "code" in excinfo.value.message_dict
    assert counts() == before


def test_a_lowercase_code_is_taken_in_capitals(world, client_for):
    """The service normalizes case rather than refusing: the person sees the code it got."""
    response = create_page(client_for(world.a.users["studio_admin"]), world.a, " hod_s2 ")
    assert response.status_code == 302
    assert flashed(response) == ["Project HOD_S2 created."]
    assert list(Project.objects.filter(studio=world.a.studio, code__iexact="hod_s2").values_list("code", flat=True)) == ["HOD_S2"]


@pytest.mark.parametrize("code", ["PRJ_A", "prj_a"])
def test_a_duplicate_code_is_refused_clearly(world, client_for, api_for, code):
    before = counts()
    message = "Studio A already has a project with the code PRJ_A."
    response = create_page(client_for(world.a.users["studio_admin"]), world.a, code)
    assert response.status_code == 400
    assert message in page_errors(response)
    api = create_api(api_for(world.a.users["studio_admin"]), world.a, code)
    assert api.status_code == 400
    assert api.json()["code"] == [message]
    assert counts() == before


def test_the_same_code_is_fine_in_another_studio(world, api_for):
    response = create_api(api_for(world.b.users["studio_admin"]), world.b, "PRJ_A")
    assert response.status_code == 201
    assert Project.objects.filter(code="PRJ_A").count() == 2


@pytest.mark.parametrize("role", ["member", "producer"])
def test_only_studio_admins_create_projects_and_the_refusal_is_audited(world, client_for, api_for, role):
    before = counts_but_audit()
    actor = world.a.users[role]
    assert create_page(client_for(actor), world.a, "NOPE").status_code == 403
    assert last_denial().details == {"attempted": "project.create", "answered": 403}
    assert last_denial().actor_id == actor.pk
    assert create_api(api_for(actor), world.a, "NOPE").status_code == 403
    assert create_api(api_for(world.b.users["studio_admin"]), world.a, "NOPE").status_code == 404
    assert counts_but_audit() == before


def test_project_create_rolls_back_when_the_audit_write_fails(world, monkeypatch):
    before = counts()

    def failing_record(**kwargs):
        raise RuntimeError("audit log unavailable")

    monkeypatch.setattr(services, "record", failing_record)
    with pytest.raises(RuntimeError):
        services.project_create(actor=world.a.users["studio_admin"], studio=world.a.studio, code="ROLLBACK", name="Nope")
    assert counts() == before
    assert not Project.objects.filter(code="ROLLBACK").exists()


# --- archived projects -------------------------------------------------------------------------


def project_url(side, tail: str = "") -> str:
    return f"/s/{side.studio.slug}/p/{side.project.code}/{tail}"


def test_an_archived_project_refuses_member_changes_but_can_be_unarchived(world, client_for, api_for):
    side = world.a
    admin, producer = side.users["studio_admin"], side.users["producer"]
    response = client_for(admin).post(project_url(side, "settings/"), {"operation": "archive"})
    assert flashed(response) == ["Project archived: it is read-only until restored."]
    assert Project.objects.get(pk=side.project.pk).is_archived

    artist_membership = ProjectMembership.objects.get(project=side.project, user=side.users["artist"])
    before = counts_but_audit()
    denials = AuditEvent.objects.filter(action="access.denied").count()
    for actor in (admin, producer):
        client, api = client_for(actor), api_for(actor)
        assert (
            client.post(project_url(side, "members/add/"), {"user": side.users["member"].pk, "role": "viewer"}).status_code == 403
        )
        assert client.post(project_url(side, f"members/{artist_membership.pk}/role/"), {"role": "viewer"}).status_code == 403
        assert client.post(project_url(side, f"members/{artist_membership.pk}/remove/")).status_code == 403
        members_api = f"/api/v1/projects/{side.project.pk}/members/"
        assert api.post(members_api, {"user_id": side.users["member"].pk, "role": "viewer"}, format="json").status_code == 403
        assert api.patch(f"{members_api}{artist_membership.pk}/", {"role": "viewer"}, format="json").status_code == 403
        assert api.delete(f"{members_api}{artist_membership.pk}/").status_code == 403
        # still readable
        assert client.get(project_url(side)).status_code == 200
        assert api.get(members_api).status_code == 200
    assert counts_but_audit() == before
    assert AuditEvent.objects.filter(action="access.denied").count() == denials + 12
    assert last_denial().details == {"attempted": "members.manage", "answered": 403}
    assert last_denial().project_id == side.project.pk

    response = client_for(admin).post(project_url(side, "settings/"), {"operation": "unarchive"})
    assert flashed(response) == ["Project restored."]
    assert not Project.objects.get(pk=side.project.pk).is_archived
    assert AuditEvent.objects.filter(action="project.unarchive", project=side.project).exists()
    response = client_for(producer).post(project_url(side, "members/add/"), {"user": side.users["member"].pk, "role": "viewer"})
    assert flashed(response) == [f"{side.users['member'].email} added as Viewer."]
    assert ProjectMembership.objects.get(project=side.project, user=side.users["member"]).role == "viewer"


def test_archiving_twice_or_unarchiving_an_active_project_says_so(world, client_for, api_for):
    side, admin = world.a, world.a.users["studio_admin"]
    response = client_for(admin).post(project_url(side, "settings/"), {"operation": "unarchive"})
    assert flashed(response) == ["The project is not archived."]
    assert api_for(admin).post(f"/api/v1/projects/{side.project.pk}/archive/").status_code == 200
    response = api_for(admin).post(f"/api/v1/projects/{side.project.pk}/archive/")
    assert response.status_code == 400
    assert response.json()["detail"] == "The project is already archived."
    assert api_for(admin).post(f"/api/v1/projects/{side.project.pk}/unarchive/").json()["status"] == "active"


def test_only_managers_archive_a_project(world, api_for):
    before = counts_but_audit()
    assert api_for(world.a.users["producer"]).post(f"/api/v1/projects/{world.a.project.pk}/archive/").status_code == 403
    assert api_for(world.b.users["studio_admin"]).post(f"/api/v1/projects/{world.a.project.pk}/archive/").status_code == 404
    assert counts_but_audit() == before
    assert not Project.objects.get(pk=world.a.project.pk).is_archived


# --- a producer and their own role -----------------------------------------------------------------


def own_membership(side, role: str = "producer") -> ProjectMembership:
    return ProjectMembership.objects.get(project=side.project, user=side.users[role])


SELF_DEMOTION = "You cannot remove your own producer role. Ask another producer or a studio admin."


@pytest.mark.parametrize("new_role", ["director", "viewer"])
def test_a_producer_cannot_change_their_own_producer_role(world, client_for, api_for, new_role):
    side, producer = world.a, world.a.users["producer"]
    m = own_membership(side)
    before = counts()
    response = client_for(producer).post(project_url(side, f"members/{m.pk}/role/"), {"role": new_role})
    assert response.status_code == 302
    assert flashed(response) == [SELF_DEMOTION]
    api = api_for(producer).patch(f"/api/v1/projects/{side.project.pk}/members/{m.pk}/", {"role": new_role}, format="json")
    assert api.status_code == 400
    assert api.json()["detail"] == SELF_DEMOTION
    assert counts() == before
    m.refresh_from_db()
    assert m.role == "producer"


def test_a_producer_cannot_remove_themselves(world, client_for, api_for):
    side, producer = world.a, world.a.users["producer"]
    m = own_membership(side)
    before = counts()
    response = client_for(producer).post(project_url(side, f"members/{m.pk}/remove/"))
    assert flashed(response) == [SELF_DEMOTION]
    api = api_for(producer).delete(f"/api/v1/projects/{side.project.pk}/members/{m.pk}/")
    assert api.status_code == 400
    assert api.json()["detail"] == SELF_DEMOTION
    assert counts() == before
    assert ProjectMembership.objects.filter(pk=m.pk, role="producer").exists()


def test_another_producer_or_a_studio_admin_can_change_a_producer(world, client_for, api_for):
    side, producer = world.a, world.a.users["producer"]
    # the director becomes a second producer, then demotes the first
    director_m = own_membership(side, "director")
    response = client_for(producer).post(project_url(side, f"members/{director_m.pk}/role/"), {"role": "producer"})
    assert flashed(response) == [f"Role of {director_m.user.email} changed."]
    m = own_membership(side)
    response = api_for(side.users["director"]).patch(
        f"/api/v1/projects/{side.project.pk}/members/{m.pk}/", {"role": "artist"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["role"] == "artist"
    # and a studio admin can remove a producer
    assert (
        api_for(side.users["studio_admin"]).delete(f"/api/v1/projects/{side.project.pk}/members/{director_m.pk}/").status_code
        == 204
    )
    assert AuditEvent.objects.filter(
        action="project_membership.role_change", details__user=producer.email, details__to="artist"
    ).exists()


def test_a_producer_may_still_change_other_members(world, api_for):
    side = world.a
    m = own_membership(side, "artist")
    response = api_for(side.users["producer"]).patch(
        f"/api/v1/projects/{side.project.pk}/members/{m.pk}/", {"role": "viewer"}, format="json"
    )
    assert response.status_code == 200
    m.refresh_from_db()
    assert m.role == "viewer"


@pytest.mark.parametrize("role", ["director", "artist", "viewer"])
def test_other_project_roles_cannot_change_members_and_the_refusal_is_audited(world, client_for, api_for, role):
    side, actor = world.a, world.a.users[role]
    target = own_membership(side, "viewer" if role != "viewer" else "artist")
    before = counts_but_audit()
    assert client_for(actor).post(project_url(side, f"members/{target.pk}/remove/")).status_code == 403
    assert last_denial().details == {"attempted": "members.manage", "answered": 403}
    assert (
        api_for(actor)
        .patch(f"/api/v1/projects/{side.project.pk}/members/{target.pk}/", {"role": "producer"}, format="json")
        .status_code
        == 403
    )
    assert counts_but_audit() == before


# --- adding members ---------------------------------------------------------------------------------


def test_adding_someone_outside_the_studio_or_already_on_the_project_is_refused(world, api_for):
    side = world.a
    api = api_for(side.users["producer"])
    url = f"/api/v1/projects/{side.project.pk}/members/"
    before = counts()
    response = api.post(url, {"email": world.b.users["viewer"].email, "role": "viewer"}, format="json")
    assert response.status_code == 400
    assert response.json()["user"] == ["Only members of the studio can join its projects. Invite them to the studio first."]
    response = api.post(url, {"user_id": side.users["artist"].pk, "role": "viewer"}, format="json")
    assert response.status_code == 400
    assert response.json()["user"] == ["artist@a.test is already on this project."]
    response = api.post(url, {"user_id": side.users["member"].pk, "role": "owner"}, format="json")
    assert response.status_code == 400
    response = api.post(url, {"role": "viewer"}, format="json")
    assert response.status_code == 400
    assert counts() == before


def test_the_project_page_offers_only_studio_members_not_yet_on_the_project(world, client_for):
    side = world.a
    response = client_for(side.users["producer"]).get(project_url(side))
    offered = {int(value) for value, _label in response.context["add_form"].fields["user"].choices}
    assert offered == {side.users["studio_admin"].pk, side.users["member"].pk}
    before = counts()
    response = client_for(side.users["producer"]).post(
        project_url(side, "members/add/"), {"user": world.b.users["viewer"].pk, "role": "viewer"}
    )
    assert flashed(response) == ["Choose a studio member and a role."]
    assert counts() == before
