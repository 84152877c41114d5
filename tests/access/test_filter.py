"""The policy's second question: `filter(user, action, queryset)` keeps exactly the rows on which
`can(user, action, row)` is true, for every role and every action, on a mixed set of rows (two studios,
an archived project, a project nobody is on, footage and generated versions released or not, invitations
and memberships), and again once a studio is suspended and consents to external AI."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from portal.access import policy
from portal.access.policy import Action, can
from portal.footage.models import Asset, AssetVersion
from portal.projects import services as project_services
from portal.projects.models import Project, ProjectMembership
from portal.studios.models import Invitation, Studio, StudioMembership
from tests.factories import ROLE_SPECS
from tests.footage.helpers import make_ready_version


@pytest.fixture
def rows(world):
    a, b = world.a, world.b
    admin = a.users["studio_admin"]
    project_services.project_create(actor=admin, studio=a.studio, code="EMPTY", name="Nobody on it")
    old = project_services.project_create(actor=admin, studio=a.studio, code="OLD", name="Archived")
    project_services.project_member_add(actor=admin, project=old, user=a.users["artist"], role="artist")
    make_ready_version(old, uploader=a.users["artist"], name="old.mov")
    project_services.project_archive(actor=admin, project=old)
    artist = a.users["artist"]
    make_ready_version(a.project, uploader=artist, name="footage.mov")
    make_ready_version(a.project, uploader=artist, kind=Asset.Kind.GENERATED, name="pending.mov")
    released = make_ready_version(a.project, uploader=artist, kind=Asset.Kind.GENERATED, name="approved.mov")
    AssetVersion.objects.filter(pk=released.pk).update(
        approval_verdict="approved", approval_sha256=released.sha256, approved_sha256=released.sha256, released_key="x/y"
    )
    make_ready_version(b.project, uploader=b.users["artist"], name="other.mov")
    return {
        "studio": Studio.objects.all(),
        "project": Project.objects.select_related("studio"),
        "version": AssetVersion.objects.select_related("asset__project__studio"),
        "asset": Asset.objects.select_related("project__studio"),
        "invitation": Invitation.objects.select_related("studio", "project"),
        "project membership": ProjectMembership.objects.select_related("project__studio"),
        "studio membership": StudioMembership.objects.select_related("studio"),
    }


def callers(world) -> dict[str, object]:
    people = {f"a:{role}": world.a.users[role] for role in ROLE_SPECS}
    people |= {"b:studio_admin": world.b.users["studio_admin"], "b:artist": world.b.users["artist"]}
    people |= {"staff": world.staff, "anonymous": AnonymousUser()}
    return people


def disagreements(world, rows) -> tuple[list[str], int, int]:
    problems, allowed, checked = [], 0, 0
    for who, user in callers(world).items():
        for kind, queryset in rows.items():
            everything = list(queryset)
            for action in Action:
                expected = {row.pk for row in everything if can(user, action, row)}
                got = set(policy.filter(user, action, queryset).values_list("pk", flat=True))
                checked += len(everything)
                allowed += len(expected)
                if got != expected:
                    problems.append(f"{who} {action} on {kind}: filter {sorted(got)}, can() {sorted(expected)}")
    return problems, allowed, checked


def test_filter_agrees_with_can_row_by_row(world, rows):
    problems, allowed, checked = disagreements(world, rows)
    assert not problems, "\n".join(problems)
    assert 0 < allowed < checked  # both answers were given, many times


def test_filter_agrees_with_can_for_a_suspended_studio_a_consenting_one_and_a_disabled_user(world, rows):
    Studio.objects.filter(pk=world.b.studio.pk).update(status=Studio.Status.SUSPENDED)
    Studio.objects.filter(pk=world.a.studio.pk).update(allow_external_ai=True)
    world.a.users["producer"].is_active = False
    problems, allowed, checked = disagreements(world, rows)
    assert not problems, "\n".join(problems)
    assert 0 < allowed < checked
    artist = world.a.users["artist"]
    assert policy.filter(artist, Action.EXTERNAL_AI_USE, Project.objects.all()).get() == world.a.project
    assert not policy.filter(world.b.users["studio_admin"], Action.STUDIO_VIEW, Studio.objects.all()).exists()


def test_filter_keeps_the_querysets_order_and_annotations(world, rows):
    from django.db.models import Count

    admin = world.a.users["studio_admin"]
    qs = Project.objects.annotate(n=Count("memberships")).order_by("-code")
    got = list(policy.filter(admin, Action.PROJECT_VIEW, qs))
    assert [p.code for p in got] == sorted((p.code for p in got), reverse=True)
    assert {p.code for p in got} == {"PRJ_A", "EMPTY", "OLD"}
    assert all(hasattr(p, "n") for p in got)
