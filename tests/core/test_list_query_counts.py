"""Every list the crew opens on a review day (assets, notes, runs, audit; page and API) makes the same
number of queries with 5 rows as with 50: measured at 5, then asserted with
django_assert_max_num_queries at 50. Rows are made through the services (footage stand-ins without
ffmpeg, as tests/footage/helpers.py does for tests about something else)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.audit.services import record
from portal.projects import services as project_services
from portal.review import services as review_services
from portal.toolruns import services as toolrun_services
from portal.toolruns.models import ToolRun
from tests.factories import add_person, make_studio
from tests.footage.helpers import make_ready_version

# these tests count what rendering costs: every request renders (no kept page copy)
pytestmark = pytest.mark.usefixtures("no_page_cache")

SMALL, LARGE = 5, 50


@dataclass
class Crew:
    studio: object
    admin: object
    producer: object
    project: object
    reviewed: object = None  # the version the notes are on
    made: dict = field(default_factory=dict)


@pytest.fixture
def crew(db):
    studio = make_studio("Load Studio", "load")
    admin = add_person(studio, "admin@load.test", "studio_admin")
    project = project_services.project_create(actor=admin, studio=studio, code="LOAD", name="Load")
    producer = add_person(studio, "producer@load.test", "member", project=project, project_role="producer", inviter=admin)
    add_person(studio, "artist@load.test", "member", project=project, project_role="artist", inviter=admin)
    crew = Crew(studio=studio, admin=admin, producer=producer, project=project)
    crew.reviewed = make_ready_version(project, uploader=producer, name="reviewed.mov")
    return crew


def grow_assets(crew: Crew, total: int) -> None:
    have = crew.made.get("assets", 1)  # the reviewed version's asset
    for n in range(have, total):
        make_ready_version(crew.project, uploader=crew.producer, name=f"shot_{n:03d}.mov")
    crew.made["assets"] = max(have, total)


def grow_notes(crew: Crew, total: int) -> None:
    have = crew.made.get("notes", 0)
    for n in range(have, total):
        note = review_services.note_create(
            actor=crew.producer,
            version=crew.reviewed,
            frame_start=n % 25,
            text=f"note {n} for @artist@load.test" if n % 3 == 0 else f"note {n}",
            shapes=[{"type": "rect", "points": [[0.1, 0.1], [0.2, 0.2]]}] if n % 2 else None,
        )
        if n % 2:
            review_services.note_create(
                actor=crew.producer, version=crew.reviewed, frame_start=None, text=f"reply {n}", parent=note
            )
    crew.made["notes"] = max(have, total)


def grow_runs(crew: Crew, total: int) -> None:
    have = crew.made.get("runs", 0)
    for _ in range(have, total):
        run = toolrun_services.toolrun_create(
            actor=crew.producer, project=crew.project, tool="contactsheet", params={}, input_version_ids=[crew.reviewed.pk]
        )
        # finished, so the project's limit on runs at once never refuses the next one
        ToolRun.objects.filter(pk=run.pk).update(status=ToolRun.Status.SUCCEEDED)
    crew.made["runs"] = max(have, total)


def grow_audit(crew: Crew, total: int) -> None:
    have = crew.made.get("audit", 0)
    for n in range(have, total):
        record(action="test.load", actor=crew.producer, project=crew.project, target=crew.reviewed, details={"n": n})
    crew.made["audit"] = max(have, total)


# (who asks, page or API, url, how to grow)
CASES = {
    "assets api": ("producer", "api", lambda c: f"/api/v1/projects/{c.project.pk}/assets/", grow_assets),
    "versions api": ("producer", "api", lambda c: f"/api/v1/projects/{c.project.pk}/versions/", grow_assets),
    "asset list page": ("producer", "page", lambda c: f"/s/{c.studio.slug}/p/{c.project.code}/assets/", grow_assets),
    "project page": ("producer", "page", lambda c: f"/s/{c.studio.slug}/p/{c.project.code}/", grow_assets),
    "notes api": (
        "producer",
        "api",
        lambda c: f"/api/v1/projects/{c.project.pk}/versions/{c.reviewed.pk}/notes/",
        grow_notes,
    ),
    "runs page": ("producer", "page", lambda c: f"/s/{c.studio.slug}/p/{c.project.code}/tools/", grow_runs),
    "run list": ("producer", "page", lambda c: f"/s/{c.studio.slug}/p/{c.project.code}/tools/runs/", grow_runs),
    "runs api": ("producer", "api", lambda c: f"/api/v1/projects/{c.project.pk}/toolruns/", grow_runs),
    "audit page": ("admin", "page", lambda c: f"/s/{c.studio.slug}/audit/", grow_audit),
    "audit api": ("admin", "api", lambda c: f"/api/v1/studios/{c.studio.pk}/audit-events/", grow_audit),
}


def _get(client, url):
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code, response.content[:500])
    if getattr(response, "streaming", False):
        b"".join(response.streaming_content)
    return response


@pytest.mark.parametrize("case", list(CASES))
def test_list_makes_as_many_queries_with_50_rows_as_with_5(
    case, crew, client_for, api_for, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    who, kind, url_of, grow = CASES[case]
    user = getattr(crew, who)
    client = client_for(user) if kind == "page" else api_for(user)
    url = url_of(crew)
    with django_capture_on_commit_callbacks(execute=False):
        grow(crew, SMALL)
    _get(client, url)  # warm-up: session, content types and other first-request caches
    with CaptureQueriesContext(connection) as small:
        small_body = _get(client, url).content
    with django_capture_on_commit_callbacks(execute=False):
        grow(crew, LARGE)
    with django_assert_max_num_queries(len(small.captured_queries)):
        large_body = _get(client, url).content
    assert len(large_body) > len(small_body), "the growth did not reach the listing"
