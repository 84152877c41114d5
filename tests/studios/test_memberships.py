"""Studio memberships (the last studio admin stays) and suspending a whole studio."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from portal.audit.models import AuditEvent
from portal.projects.models import ProjectMembership
from portal.studios import services
from portal.studios.models import Studio, StudioMembership
from tests.factories import add_person
from tests.studios.helpers import counts, counts_but_audit, flashed, last_denial


def membership(side, role: str) -> StudioMembership:
    return StudioMembership.objects.get(studio=side.studio, user=side.users[role])


def member_url(side, m: StudioMembership, what: str) -> str:
    return f"/s/{side.studio.slug}/members/{m.pk}/{what}/"


def api_member_url(side, m: StudioMembership) -> str:
    return f"/api/v1/studios/{side.studio.pk}/members/{m.pk}/"


# --- the last studio admin ---------------------------------------------------------------------


def test_removing_the_last_studio_admin_is_refused(world, client_for, api_for):
    admin = world.a.users["studio_admin"]
    m = membership(world.a, "studio_admin")
    before = counts()
    response = client_for(admin).post(member_url(world.a, m, "remove"))
    assert response.status_code == 302
    assert flashed(response) == ["You cannot remove the last studio admin."]
    api = api_for(admin).delete(api_member_url(world.a, m))
    assert api.status_code == 400
    assert api.json()["detail"] == "You cannot remove the last studio admin."
    assert counts() == before


def test_demoting_the_last_studio_admin_is_refused(world, client_for, api_for):
    admin = world.a.users["studio_admin"]
    m = membership(world.a, "studio_admin")
    before = counts()
    response = client_for(admin).post(member_url(world.a, m, "role"), {"role": "member"})
    assert flashed(response) == ["This is the last studio admin: make someone else studio admin first."]
    api = api_for(admin).patch(api_member_url(world.a, m), {"role": "member"}, format="json")
    assert api.status_code == 400
    assert "last studio admin" in api.json()["detail"]
    assert counts() == before
    m.refresh_from_db()
    assert m.role == "studio_admin"


def test_with_two_admins_one_can_step_down_then_the_other_is_the_last(world, client_for):
    admin = world.a.users["studio_admin"]
    second = membership(world.a, "member")
    response = client_for(admin).post(member_url(world.a, second, "role"), {"role": "studio_admin"})
    assert flashed(response) == [f"Role of {second.user.email} changed."]
    mine = membership(world.a, "studio_admin")
    response = client_for(admin).post(member_url(world.a, mine, "role"), {"role": "member"})
    assert flashed(response) == [f"Role of {admin.email} changed."]
    assert AuditEvent.objects.filter(action="membership.role_change", details__to="member", details__user=admin.email).exists()
    second_client = client_for(second.user)
    response = second_client.post(member_url(world.a, second, "remove"))
    assert flashed(response) == ["You cannot remove the last studio admin."]
    assert StudioMembership.objects.filter(studio=world.a.studio, role="studio_admin").count() == 1


def test_an_unknown_role_is_refused(world, api_for):
    m = membership(world.a, "member")
    before = counts()
    response = api_for(world.a.users["studio_admin"]).patch(api_member_url(world.a, m), {"role": "owner"}, format="json")
    assert response.status_code == 400
    assert counts() == before


def test_removing_a_member_takes_them_out_of_the_projects_and_the_studio(world, client_for, api_for):
    producer = world.a.users["producer"]
    m = membership(world.a, "producer")
    producer_client = client_for(producer)
    assert producer_client.get(f"/s/{world.a.studio.slug}/").status_code == 200
    response = client_for(world.a.users["studio_admin"]).post(member_url(world.a, m, "remove"))
    assert flashed(response) == [f"{producer.email} was removed from the studio and its projects."]
    assert not StudioMembership.objects.filter(pk=m.pk).exists()
    assert not ProjectMembership.objects.filter(user=producer, project__studio=world.a.studio).exists()
    assert producer_client.get(f"/s/{world.a.studio.slug}/").status_code == 404
    assert producer_client.get(f"/s/{world.a.studio.slug}/p/{world.a.project.code}/").status_code == 404
    assert api_for(producer).get(f"/api/v1/projects/{world.a.project.pk}/").status_code == 404
    actions = list(
        AuditEvent.objects.filter(details__user=producer.email, action__endswith=".remove").values_list("action", flat=True)
    )
    assert sorted(actions) == ["membership.remove", "project_membership.remove"]


@pytest.mark.parametrize("role", ["member", "producer"])
def test_only_studio_admins_change_studio_members_and_the_refusal_is_audited(world, client_for, api_for, role):
    actor = world.a.users[role]
    target = membership(world.a, "viewer")
    before = counts_but_audit()
    assert client_for(actor).post(member_url(world.a, target, "remove")).status_code == 403
    assert (last_denial().actor_id, last_denial().details["answered"]) == (actor.pk, 403)
    assert api_for(actor).delete(api_member_url(world.a, target)).status_code == 403
    assert api_for(actor).patch(api_member_url(world.a, target), {"role": "studio_admin"}, format="json").status_code == 403
    assert counts_but_audit() == before


def test_a_membership_of_another_studio_is_not_found(world, client_for, api_for):
    admin = world.a.users["studio_admin"]
    other = membership(world.b, "viewer")
    before = counts_but_audit()
    assert client_for(admin).post(f"/s/{world.a.studio.slug}/members/{other.pk}/remove/").status_code == 404
    assert api_for(admin).delete(f"/api/v1/studios/{world.a.studio.pk}/members/{other.pk}/").status_code == 404
    assert counts_but_audit() == before


# --- suspension ------------------------------------------------------------------------------


def test_suspending_a_studio_shuts_every_member_out_at_once_and_reactivating_restores_it(world, client_for, api_for):
    side = world.a
    clients = {role: client_for(user) for role, user in side.users.items()}
    apis = {role: api_for(user) for role, user in side.users.items()}
    dashboard = f"/s/{side.studio.slug}/"
    for role, client in clients.items():
        assert client.get(dashboard).status_code == 200, role

    services.studio_suspend(actor=world.staff, studio=side.studio)
    assert Studio.objects.get(pk=side.studio.pk).status == "suspended"
    event = AuditEvent.objects.get(action="studio.suspend")
    assert event.actor_id == world.staff.pk and event.studio_id == side.studio.pk

    for role in side.users:
        assert clients[role].get(dashboard).status_code == 404, role
        assert apis[role].get(f"/api/v1/studios/{side.studio.pk}/").status_code == 404, role
        assert apis[role].get(f"/api/v1/studios/{side.studio.pk}/members/").status_code == 404, role
        assert apis[role].get(f"/api/v1/projects/{side.project.pk}/").status_code == 404, role
        assert apis[role].get("/api/v1/studios/").json()["results"] == [], role
        assert apis[role].get("/api/v1/projects/").json()["results"] == [], role
    assert clients["producer"].get(f"/s/{side.studio.slug}/p/{side.project.code}/").status_code == 404
    assert clients["studio_admin"].get(f"/s/{side.studio.slug}/audit/").status_code == 404
    # the other studio is untouched
    assert client_for(world.b.users["artist"]).get(f"/s/{world.b.studio.slug}/").status_code == 200

    services.studio_activate(actor=world.staff, studio=side.studio)
    assert AuditEvent.objects.filter(action="studio.activate", actor=world.staff).exists()
    for role, client in clients.items():
        assert client.get(dashboard).status_code == 200, role
    assert apis["producer"].get(f"/api/v1/projects/{side.project.pk}/").status_code == 200


def test_a_suspended_studio_cannot_be_changed_by_its_admin(world, api_for):
    services.studio_suspend(actor=world.staff, studio=world.a.studio)
    before = counts_but_audit()
    admin = world.a.users["studio_admin"]
    assert (
        api_for(admin).post(f"/api/v1/studios/{world.a.studio.pk}/invitations/", {"email": "x@y.test"}, format="json").status_code
        == 404
    )
    assert (
        api_for(admin)
        .post("/api/v1/projects/", {"studio": world.a.studio.pk, "code": "NEW", "name": "New"}, format="json")
        .status_code
        == 404
    )
    assert counts_but_audit() == before


def test_platform_staff_suspend_from_the_django_admin(world, client_for):
    response = client_for(world.staff).post(
        "/admin/studios/studio/", {"action": "suspend", "_selected_action": [world.a.studio.pk], "index": 0}
    )
    assert response.status_code == 302
    assert Studio.objects.get(pk=world.a.studio.pk).status == "suspended"
    assert Studio.objects.get(pk=world.b.studio.pk).status == "active"
    assert client_for(world.a.users["artist"]).get(f"/s/{world.a.studio.slug}/").status_code == 404


def test_only_platform_staff_suspend_a_studio(world):
    before = counts()
    with pytest.raises(PermissionDenied):
        services.studio_suspend(actor=world.a.users["studio_admin"], studio=world.a.studio)
    assert counts() == before
    assert Studio.objects.get(pk=world.a.studio.pk).status == "active"


def test_a_person_in_a_suspended_studio_keeps_their_other_studio(world, client_for):
    person = add_person(world.b.studio, world.a.users["viewer"].email, "member", inviter=world.b.users["studio_admin"])
    services.studio_suspend(actor=world.staff, studio=world.a.studio)
    client = client_for(person)
    assert client.get(f"/s/{world.a.studio.slug}/").status_code == 404
    assert client.get(f"/s/{world.b.studio.slug}/").status_code == 200
