"""Queries built once (portal.core.prepared): the same rows as the ORM, read afresh at every call."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portal.access.policy import roles_of
from portal.core.prepared import PreparedQuery
from portal.projects.models import ProjectMembership
from portal.studios.models import StudioMembership

# these tests count what rendering costs: every request renders (no kept page copy)
pytestmark = pytest.mark.usefixtures("no_page_cache")


def _membership_roles(user_id, studio_id):
    return StudioMembership.objects.filter(user_id=user_id, studio_id=studio_id).values_list("role").order_by()


def test_each_call_runs_with_its_own_arguments_and_reads_the_rows_afresh(world):
    query = PreparedQuery(_membership_roles, int, int)
    artist, admin_b = world.a.users["artist"], world.b.users["studio_admin"]
    assert query.rows(artist.pk, world.a.studio.pk) == [["member"]]
    assert query.rows(admin_b.pk, world.b.studio.pk) == [["studio_admin"]]
    assert query.first(artist.pk, world.b.studio.pk) is None  # another studio's: nothing
    StudioMembership.objects.filter(user=artist, studio=world.a.studio).update(role="studio_admin")
    assert query.first(artist.pk, world.a.studio.pk) == ["studio_admin"]


def test_the_query_is_built_once_and_still_counted(world):
    built = []

    def build(user_id, studio_id):
        built.append((user_id, studio_id))
        return _membership_roles(user_id, studio_id)

    query = PreparedQuery(build, int, int)
    with CaptureQueriesContext(connection) as captured:
        for _ in range(3):
            query.rows(world.a.users["artist"].pk, world.a.studio.pk)
    assert len(built) == 1
    assert len(captured.captured_queries) == 3  # the query-count tests see every run


def test_an_argument_the_sql_does_not_carry_is_refused(db):
    # the marker goes through a string lookup: it would not reach the SQL as the id it stands for
    query = PreparedQuery(lambda user_id: StudioMembership.objects.filter(role=str(user_id)).values_list("pk"), int)
    with pytest.raises(ValueError, match="do not reach"):
        query.rows(1)
    with pytest.raises(TypeError):
        PreparedQuery(_membership_roles, int, int).rows(1)


def test_roles_follow_a_membership_change_between_two_requests(world):
    """The per-request roles come from a prepared query: a removed project role is gone on the next ask."""
    artist = world.a.users["artist"]
    roles = roles_of(artist, world.a.project)
    assert roles is not None and roles.project_role == "artist"
    ProjectMembership.objects.filter(user=artist, project=world.a.project).delete()
    roles = roles_of(artist, world.a.project)
    assert roles is not None and roles.studio_role == "member" and roles.project_role is None


def _values(obj) -> list:
    return [getattr(obj, field.attname) for field in type(obj)._meta.concrete_fields]


def test_the_scope_finders_make_the_same_objects_as_the_orm(world):
    from django.http import Http404

    from portal.access.scope import PROJECT_CODE, PROJECT_PK, STUDIO_PK, STUDIO_SLUG
    from portal.projects.models import Project
    from portal.studios.models import Studio

    studio, project = world.a.studio, world.a.project
    expected_studio = Studio.objects.get(pk=studio.pk)
    expected_project = Project.objects.select_related("studio").get(pk=project.pk)
    for found in (STUDIO_SLUG.find({"studio": studio.slug}), STUDIO_PK.find({"studio_pk": str(studio.pk)})):
        assert isinstance(found, Studio) and _values(found) == _values(expected_studio)
        assert not found._state.adding and found._state.db == "default"
    for found in (
        PROJECT_CODE.find({"studio": studio.slug, "project": project.code}),
        PROJECT_PK.find({"project_pk": project.pk}),
    ):
        assert isinstance(found, Project) and _values(found) == _values(expected_project)
        with CaptureQueriesContext(connection) as captured:
            assert _values(found.studio) == _values(expected_project.studio)  # read with it, no query of its own
        assert not captured.captured_queries
    for scope, kwargs in (
        (PROJECT_CODE, {"studio": world.b.studio.slug, "project": project.code}),  # another studio's slug
        (PROJECT_PK, {"project_pk": str(2**70)}),
        (PROJECT_PK, {"project_pk": "12a"}),
        (STUDIO_SLUG, {"studio": "no-such-studio"}),
    ):
        with pytest.raises(Http404):
            scope.find(kwargs)


def test_the_bell_counts_the_persons_unread_notifications(world, client_for):
    from portal.review.models import Notification

    producer = world.a.users["producer"]
    client = client_for(producer)
    dashboard = f"/s/{world.a.studio.slug}/p/{world.a.project.code}/"
    assert b"data-unread-count" not in client.get(dashboard).content  # none: no count shown
    for n in range(3):
        Notification.objects.create(user=producer, project=world.a.project, verb="mention", text=f"n{n}")
    Notification.objects.create(user=world.a.users["viewer"], project=world.a.project, verb="mention", text="not hers")
    assert b"data-unread-count>3</span>" in client.get(dashboard).content
    Notification.objects.filter(user=producer, text="n0").update(read_at=timezone.now())
    assert b"data-unread-count>2</span>" in client.get(dashboard).content
