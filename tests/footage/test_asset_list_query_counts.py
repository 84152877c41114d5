"""The grouped and filtered asset list makes as many queries with 50 assets as with 5, in the page,
on the project page and in the API, whatever the filters (issue 20's rule, for issue 17's list):
measured at 5, asserted with django_assert_max_num_queries at 50. Every group has rows at both sizes:
each step adds an upload, an upload rejected at ingest and a run with a media output, an edit list
and a report."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.footage.listing_helpers import finished_run, rejected_upload, upload

# these tests count what rendering costs: every request renders (no kept page copy)
pytestmark = pytest.mark.usefixtures("no_page_cache")

SMALL, LARGE = 5, 50
STEP_OUTPUTS = [("picture", "generated", "video/mp4"), ("edl", "edl", "text/plain"), ("findings", "report", "application/json")]


def _grow(project, user, made: dict, total: int) -> None:
    while made["assets"] < total:
        n = made["assets"]
        upload(project, uploader=user, name=f"shot_{n:03d}.mov", shot_code=f"030_{n:04d}")
        rejected_upload(project, uploader=user, name=f"broken_{n:03d}.mov", shot_code=f"030_{n + 1:04d}")
        finished_run(project, actor=user, tool="recap", outputs=STEP_OUTPUTS, shot_code=f"030_{n + 2:04d}")
        made["assets"] += 5


PAGE, API = "page", "api"
CASES = {
    "asset list, every group": (PAGE, "/s/{studio}/p/{project}/assets/"),
    "asset list, generated media": (PAGE, "/s/{studio}/p/{project}/assets/?group=generated"),
    "asset list, rejected": (PAGE, "/s/{studio}/p/{project}/assets/?group=rejected"),
    "asset list, ready and pending": (PAGE, "/s/{studio}/p/{project}/assets/?status=ready&approval=pending"),
    "asset list, shot code search": (PAGE, "/s/{studio}/p/{project}/assets/?q=030_"),
    "project page, edit lists found by shot code": (PAGE, "/s/{studio}/p/{project}/?group=edit_lists&q=030"),
    "assets api, every group": (API, "/api/v1/projects/{pk}/assets/"),
    "assets api, reports": (API, "/api/v1/projects/{pk}/assets/?group=reports"),
    "assets api, search and status": (API, "/api/v1/projects/{pk}/assets/?q=030_&status=ready"),
    "assets api, pending approval": (API, "/api/v1/projects/{pk}/assets/?approval=pending"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_asset_list_makes_as_many_queries_with_50_assets_as_with_5(
    case, world, client_for, api_for, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    kind, pattern = CASES[case]
    project, producer = world.a.project, world.a.users["producer"]
    url = pattern.format(studio=world.a.studio.slug, project=project.code, pk=project.pk)
    client = client_for(producer) if kind == PAGE else api_for(producer)
    made = {"assets": 0}
    with django_capture_on_commit_callbacks(execute=False):
        _grow(project, producer, made, SMALL)
    assert client.get(url).status_code == 200  # warm-up: session, content types and other first-request caches
    with CaptureQueriesContext(connection) as small:
        small_body = client.get(url).content
    with django_capture_on_commit_callbacks(execute=False):
        _grow(project, producer, made, LARGE)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(url)
    assert response.status_code == 200
    assert len(response.content) > len(small_body), "the growth did not reach the listing"
