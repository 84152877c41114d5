"""Queries built once (portal.core.prepared): the same rows as the ORM, read afresh at every call."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.access.policy import roles_of
from portal.core.prepared import PreparedQuery
from portal.projects.models import ProjectMembership
from portal.studios.models import StudioMembership


def _membership_roles(user_id, studio_id):
    return StudioMembership.objects.filter(user_id=user_id, studio_id=studio_id).values_list("role").order_by()


def test_each_call_runs_with_its_own_arguments_and_reads_the_rows_afresh(world):
    query = PreparedQuery(_membership_roles, arguments=2)
    artist, admin_b = world.a.users["artist"], world.b.users["studio_admin"]
    assert query.rows(artist.pk, world.a.studio.pk) == [("member",)]
    assert query.rows(admin_b.pk, world.b.studio.pk) == [("studio_admin",)]
    assert query.first(artist.pk, world.b.studio.pk) is None  # another studio's: nothing
    StudioMembership.objects.filter(user=artist, studio=world.a.studio).update(role="studio_admin")
    assert query.first(artist.pk, world.a.studio.pk) == ("studio_admin",)


def test_the_query_is_built_once_and_still_counted(world):
    built = []

    def build(user_id, studio_id):
        built.append((user_id, studio_id))
        return _membership_roles(user_id, studio_id)

    query = PreparedQuery(build, arguments=2)
    with CaptureQueriesContext(connection) as captured:
        for _ in range(3):
            query.rows(world.a.users["artist"].pk, world.a.studio.pk)
    assert len(built) == 1
    assert len(captured.captured_queries) == 3  # the query-count tests see every run


def test_an_argument_the_sql_does_not_carry_is_refused(db):
    # the marker goes through a string lookup: it would not reach the SQL as the id it stands for
    query = PreparedQuery(lambda user_id: StudioMembership.objects.filter(role=str(user_id)).values_list("pk"), arguments=1)
    with pytest.raises(ValueError, match="do not reach"):
        query.rows(1)
    with pytest.raises(TypeError):
        PreparedQuery(_membership_roles, arguments=2).rows(1)


def test_roles_follow_a_membership_change_between_two_requests(world):
    """The per-request roles come from a prepared query: a removed project role is gone on the next ask."""
    artist = world.a.users["artist"]
    roles = roles_of(artist, world.a.project)
    assert roles is not None and roles.project_role == "artist"
    ProjectMembership.objects.filter(user=artist, project=world.a.project).delete()
    roles = roles_of(artist, world.a.project)
    assert roles is not None and roles.studio_role == "member" and roles.project_role is None
