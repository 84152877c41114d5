"""Pages and API lists make a constant number of queries whatever the number of rows: measured
at N rows, then again after adding 20 more (through the services), the counts must be equal."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.projects import services as project_services
from portal.studios import services as studio_services
from tests.factories import add_person, make_studio

# these tests count what rendering costs: every request renders (no kept page copy)
pytestmark = pytest.mark.usefixtures("no_page_cache")

GROWTH = 20


@dataclass
class Small:
    studio: object
    admin: object
    project: object
    serial: int = 0

    def next(self) -> int:
        self.serial += 1
        return self.serial


@pytest.fixture
def small(db, django_capture_on_commit_callbacks):
    """A studio with an admin, a project with a producer, one plain member and one open invitation."""
    studio = make_studio("Counting Studio", "counting")
    admin = add_person(studio, "admin@counting.test", "studio_admin")
    project = project_services.project_create(actor=admin, studio=studio, code="COUNT", name="Counting")
    add_person(studio, "producer@counting.test", "member", project=project, project_role="producer", inviter=admin)
    add_person(studio, "member@counting.test", "member", inviter=admin)
    studio_services.invitation_send(
        actor=admin, studio=studio, email="pending@counting.test", project=project, project_role="viewer"
    )
    studio.refresh_from_db()
    return Small(studio=studio, admin=admin, project=project)


# --- ways to grow ---------------------------------------------------------------------------


def more_studio_members(s: Small) -> None:
    for _ in range(GROWTH):
        n = s.next()
        # some on a project (project_count per member), some not
        if n % 2:
            add_person(s.studio, f"m{n}@counting.test", "member", project=s.project, project_role="artist", inviter=s.admin)
        else:
            add_person(s.studio, f"m{n}@counting.test", "member", inviter=s.admin)


def more_project_members(s: Small) -> None:
    for _ in range(GROWTH):
        n = s.next()
        add_person(s.studio, f"p{n}@counting.test", "member", project=s.project, project_role="director", inviter=s.admin)


def more_candidates_and_project_members(s: Small) -> None:
    more_project_members(s)
    more_studio_members(s)  # half of them are candidates for "add member"


def more_projects(s: Small) -> None:
    for _ in range(GROWTH):
        n = s.next()
        project_services.project_create(actor=s.admin, studio=s.studio, code=f"GROW_{n}", name=f"Grown {n}")


def more_invitations(s: Small) -> None:
    for _ in range(GROWTH):
        n = s.next()
        studio_services.invitation_send(
            actor=s.admin,
            studio=s.studio,
            email=f"i{n}@counting.test",
            project=s.project if n % 2 else None,
            project_role="artist" if n % 2 else "",
        )


def more_of_everything_on_the_dashboard(s: Small) -> None:
    more_studio_members(s)
    more_projects(s)
    more_invitations(s)


def more_audit_events(s: Small) -> None:
    # each invitation writes one audit row, with a target, a project for half of them
    more_invitations(s)


# --- what is measured -----------------------------------------------------------------------

CASES = {
    "audit page": ("page", lambda s: f"/s/{s.studio.slug}/audit/", more_audit_events),
    "audit page, filtered": ("page", lambda s: f"/s/{s.studio.slug}/audit/?action=invitation.&actor=admin", more_audit_events),
    "studio dashboard": ("page", lambda s: f"/s/{s.studio.slug}/", more_of_everything_on_the_dashboard),
    "project page": ("page", lambda s: f"/s/{s.studio.slug}/p/{s.project.code}/", more_candidates_and_project_members),
    "api projects": ("api", lambda s: "/api/v1/projects/", more_projects),
    "api studio members": ("api", lambda s: f"/api/v1/studios/{s.studio.pk}/members/", more_studio_members),
    "api project members": ("api", lambda s: f"/api/v1/projects/{s.project.pk}/members/", more_project_members),
    "api studio invitations": ("api", lambda s: f"/api/v1/studios/{s.studio.pk}/invitations/", more_invitations),
    "api audit events": ("api", lambda s: f"/api/v1/studios/{s.studio.pk}/audit-events/", more_audit_events),
    "api me": ("api", lambda s: "/api/v1/me/", more_projects),
}


def rows_in(response, kind: str) -> int:
    """How many rows the response lists, to prove the growth reached it."""
    if kind == "api":
        data = response.json()
        if isinstance(data, dict) and "results" in data:
            return len(data["results"])
        return len(data.get("projects", []))
    return len(response.content)


def measure(client, url: str, kind: str):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
        if getattr(response, "streaming", False):
            b"".join(response.streaming_content)
    assert response.status_code == 200, (url, response.status_code)
    return [q["sql"] for q in ctx.captured_queries], rows_in(response, kind)


def _shape(sql: str) -> str:
    return re.sub(r"\b\d+\b", "N", re.sub(r"'[^']*'", "'?'", sql))


def repeated(before: list[str], after: list[str]) -> str:
    """The query shapes that ran more often at N+20: the N+1 culprits."""
    grown = Counter(map(_shape, after)) - Counter(map(_shape, before))
    return "\n".join(f"+{n}x {sql[:300]}" for sql, n in grown.most_common(5)) or "(different queries, same multiset size)"


@pytest.mark.parametrize("case", list(CASES))
def test_query_count_does_not_grow_with_rows(case, small, client_for, api_for, django_capture_on_commit_callbacks):
    kind, url_of, grow = CASES[case]
    client = client_for(small.admin) if kind == "page" else api_for(small.admin)
    url = url_of(small)
    client.get(url)  # warm-up: session, content types and other first-request caches
    before, rows_before = measure(client, url, kind)
    with django_capture_on_commit_callbacks(execute=True):
        grow(small)
    after, rows_after = measure(client, url, kind)
    assert rows_after > rows_before, "the growth did not reach the listing"
    assert len(after) == len(before), f"{case}: {len(before)} queries at N, {len(after)} at N+{GROWTH}\n{repeated(before, after)}"


def test_api_studio_list_query_count_does_not_grow_with_studios(small, api_for, django_capture_on_commit_callbacks):
    """A person can belong to several studios (a freelancer); /api/v1/studios/ lists them all."""
    api = api_for(small.admin)
    api.get("/api/v1/studios/")
    before, rows_before = measure(api, "/api/v1/studios/", "api")
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(GROWTH):
            add_person(make_studio(f"Other {n}", f"other-{n}"), small.admin.email, "member" if n % 2 else "studio_admin")
    after, rows_after = measure(api, "/api/v1/studios/", "api")
    assert rows_after == rows_before + GROWTH
    assert len(after) == len(before), f"{len(before)} queries at N, {len(after)} at N+{GROWTH}\n{repeated(before, after)}"
