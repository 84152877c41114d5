"""The REST API reaches the same services as the pages: start, list, read, cancel runs; list tools."""

from __future__ import annotations

import pytest

from portal.toolruns.models import ToolRun
from tests.footage.helpers import make_ready_version


@pytest.fixture
def clip(world):
    return make_ready_version(world.a.project, uploader=world.a.users["artist"], name="shot_010.mov")


def runs_url(project, *rest) -> str:
    return "/".join([f"/api/v1/projects/{project.pk}/toolruns", *map(str, rest)]) + "/"


def test_create_list_retrieve_and_cancel(world, api_for, clip, dispatched, django_capture_on_commit_callbacks):
    api = api_for(world.a.users["artist"])
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            runs_url(world.a.project),
            {"tool": "contactsheet", "params": {"rows": 2}, "inputs": {"clip": [clip.pk]}},
            format="json",
        )
    assert response.status_code == 201, response.content
    body = response.json()
    run_id = body["id"]
    assert body["status"] == "queued" and body["tool"] == "contactsheet" and body["params"]["rows"] == 2
    assert body["inputs"][0]["version"] == clip.pk and body["created_by"] == "artist@a.test"
    assert body["links"]["page"] == f"/s/studio-a/p/PRJ_A/runs/{run_id}/"
    assert dispatched == [(run_id, "tools")]

    listed = api.get(runs_url(world.a.project)).json()
    assert [r["id"] for r in listed["results"]] == [run_id]
    assert api.get(runs_url(world.a.project), {"status": "succeeded"}).json()["results"] == []
    assert api.get(runs_url(world.a.project), {"status": "bogus"}).status_code == 400

    viewer = api_for(world.a.users["viewer"])
    assert viewer.get(runs_url(world.a.project, run_id)).json()["status"] == "queued"
    assert viewer.post(runs_url(world.a.project, run_id, "cancel")).status_code == 403

    cancelled = api.post(runs_url(world.a.project, run_id, "cancel"))
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = api.post(runs_url(world.a.project, run_id, "cancel"))
    assert again.status_code == 409 and "already ended" in again.json()["detail"]


def test_input_version_ids_form(world, api_for, clip):
    response = api_for(world.a.users["director"]).post(
        runs_url(world.a.project), {"tool": "contactsheet", "input_version_ids": [clip.pk]}, format="json"
    )
    assert response.status_code == 201
    assert ToolRun.objects.get(pk=response.json()["id"]).inputs[0]["slot"] == "clip"


def test_bad_requests_get_per_field_errors(world, api_for, clip):
    api = api_for(world.a.users["artist"])
    url = runs_url(world.a.project)
    bad_params = api.post(url, {"tool": "contactsheet", "params": {"columns": 99}, "input_version_ids": [clip.pk]}, format="json")
    assert bad_params.status_code == 400 and "params.columns" in bad_params.json()
    both = api.post(url, {"tool": "contactsheet", "inputs": {"clip": [clip.pk]}, "input_version_ids": [clip.pk]}, format="json")
    assert both.status_code == 400 and "inputs" in both.json()
    sneaky = api.post(url, {"tool": "contactsheet", "input_version_ids": [clip.pk], "status": "succeeded"}, format="json")
    assert sneaky.status_code == 400 and "status" in sneaky.json()
    unknown_tool = api.post(url, {"tool": "nope", "input_version_ids": [clip.pk]}, format="json")
    assert unknown_tool.status_code == 400 and "tool" in unknown_tool.json()
    assert not ToolRun.objects.exists()


def test_another_studios_ids_leak_nothing(world, api_for, clip):
    theirs = make_ready_version(world.b.project, uploader=world.b.users["artist"])
    api = api_for(world.a.users["artist"])
    url = runs_url(world.a.project)
    leaked = api.post(url, {"tool": "contactsheet", "input_version_ids": [theirs.pk]}, format="json")
    missing = api.post(url, {"tool": "contactsheet", "input_version_ids": [10**9]}, format="json")
    assert leaked.status_code == missing.status_code == 400
    assert leaked.json() == {
        "inputs": [f"Version {theirs.pk} does not exist in this project."],
        "detail": f"Version {theirs.pk} does not exist in this project.",
    }
    # their run, through my project's URL: not found, for reading and for cancelling
    their_run = api_for(world.b.users["artist"]).post(
        runs_url(world.b.project), {"tool": "contactsheet", "input_version_ids": [theirs.pk]}, format="json"
    )
    their_id = their_run.json()["id"]
    assert api.get(runs_url(world.a.project, their_id)).status_code == 404
    assert api.post(runs_url(world.a.project, their_id, "cancel")).status_code == 404
    assert ToolRun.objects.get(pk=their_id).status == ToolRun.Status.QUEUED
    assert their_id not in [r["id"] for r in api.get(url).json()["results"]]


def test_external_ai_refusal_is_403_with_the_reason(world, api_for, clip):
    response = api_for(world.a.users["artist"]).post(
        runs_url(world.a.project), {"tool": "external_ai_demo", "input_version_ids": [clip.pk]}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["code"] == "external_ai_not_allowed"


def test_tools_list_with_schema_and_whether_allowed(world, api_for):
    api = api_for(world.a.users["viewer"])
    tools = {t["name"]: t for t in api.get(f"/api/v1/projects/{world.a.project.pk}/tools/").json()}
    sheet = tools["contactsheet"]
    assert sheet["version"] == "1.0.0" and sheet["allowed"] is True and sheet["uses_external_ai"] is False
    assert sheet["inputs"] == [
        {"name": "clip", "kinds": ["footage", "plate"], "min_count": 1, "max_count": 1, "description": "The video to sample."}
    ]
    assert sheet["params_schema"]["properties"]["columns"]["maximum"] == 12
    assert tools["external_ai_demo"]["allowed"] is False
    one = api.get(f"/api/v1/projects/{world.a.project.pk}/tools/contactsheet/")
    assert one.status_code == 200 and one.json()["name"] == "contactsheet"
    assert api.get(f"/api/v1/projects/{world.a.project.pk}/tools/nope/").status_code == 404
    assert api_for(world.b.users["viewer"]).get(f"/api/v1/projects/{world.a.project.pk}/tools/").status_code == 404
