"""The recap's run page and the reviewer's re-render, through the portal: two generated episodes with
subtitles, a real recap run, the page's data, the thumbnail sheet, and an edit rendered as a new run
from the cached analysis, with where each sentence comes from decided by the server."""

from __future__ import annotations

import json

import pytest

from portal.audit.models import AuditEvent
from portal.footage.models import Asset
from portal.toolruns import services
from portal.toolruns.models import ToolRun
from tests.footage.helpers import make_ready_version
from tests.studio_tools.recap_media import make_episode
from tests.toolruns.conftest import store_real_file

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def episode_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("recap-episodes")
    return [make_episode(folder, i, seconds=30.0) for i in range(2)]


@pytest.fixture
def recap_inputs(world_tx, episode_files):
    project, artist = world_tx.a.project, world_tx.a.users["artist"]
    ids = []
    for video, subtitles in episode_files:
        for path, kind in ((video, Asset.Kind.FOOTAGE), (subtitles, Asset.Kind.SUBTITLES)):
            version = make_ready_version(project, uploader=artist, kind=kind, name=path.name)
            ids.append(store_real_file(version, path).pk)
    return ids


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "analysis-cache"
    monkeypatch.setenv("STUDIO_TOOLS_CACHE", str(folder))
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    return folder


def run_recap(world, ids, *, who="director", params=None) -> ToolRun:
    run = services.toolrun_create(
        actor=world.a.users[who],
        project=world.a.project,
        tool="recap",
        params={"target_seconds": 30, **(params or {})},
        input_version_ids={"media": ids},
    )
    return services.toolrun_execute(run.pk)


def page_data(client, run) -> dict:
    project = run.project
    response = client.get(f"/s/{project.studio.slug}/p/{project.code}/runs/{run.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    start = html.index('<script id="recap-data" type="application/json">') + len(
        '<script id="recap-data" type="application/json">'
    )
    return json.loads(html[start : html.index("</script>", start)]), html


def edit_of(data: dict) -> dict:
    return {
        "moments": [{"episode": m["episode"], "start": m["start"], "end": m["end"]} for m in data["moments"]],
        "sentences": [{"text": s["text"], "cues": [c["id"] for c in s["citations"]]} for s in data["sentences"]],
    }


def test_recap_page_shows_moments_thumbnails_and_cited_narration_then_renders_an_edit(
    world_tx, recap_inputs, cache, client_for, api_for, scratch
):
    world = world_tx
    run = run_recap(world, recap_inputs)
    assert run.status == ToolRun.Status.SUCCEEDED, run.error
    assert run.metrics["decoded_frames"] > 0 and run.metrics["analysis_cache_hits"] == 0

    data, html = page_data(client_for(world.a.users["viewer"]), run)
    assert 'data-can-edit=""' in html  # a viewer watches, does not edit
    assert data["moments"] and data["sentences"] and data["video"]["proxy"]
    assert {m["episode"] for m in data["moments"]} == {1, 2}
    for m in data["moments"]:
        assert m["thumb"] is not None and m["score"] > 0 and m["reasons"] and "–" in m["timecode"]
        # How far the editor may stretch it: the episode's usable end, from the report.
        video = next(v for v in run.report["videos"] if v["episode"] == m["episode"])
        assert m["limit"] == video["usable_until"] and m["end"] <= m["limit"]
    cited = [s for s in data["sentences"] if s["citations"]]
    assert cited and all(c["text"] and c["id"].startswith("e") for s in cited for c in s["citations"])

    # The thumbnail sheet: served inline to project members (labelled "not approved" until a producer
    # approves it), 404 for anyone else.
    sheet = data["thumbnails"]
    image = client_for(world.a.users["viewer"]).get(sheet["url"])
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
    assert image.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert client_for(world.b.users["producer"]).get(sheet["url"]).status_code == 404
    assert client_for(world.a.users["viewer"]).get(sheet["url"].replace("/moments/", "/recap/")).status_code == 404

    # A director edits: drops the second moment, plays the last first, rewrites one sentence with an
    # invented year, and claims (falsely) that it is quoted from the subtitles.
    data_director, html = page_data(client_for(world.a.users["director"]), run)
    assert 'data-can-edit="1"' in html
    edit = edit_of(data_director)
    edit["moments"].pop(1)
    edit["moments"].insert(0, edit["moments"].pop())
    edit["sentences"][0]["text"] = "It all began in 1987."
    edit["sentences"][0]["origin"] = "extractive"
    url = f"/api/v1/projects/{world.a.project.pk}/toolruns/{run.pk}/rerender/"

    assert api_for(world.a.users["viewer"]).post(url, edit, format="json").status_code == 403
    assert api_for(world.b.users["producer"]).post(url, edit, format="json").status_code == 404

    response = api_for(world.a.users["director"]).post(url, edit, format="json")
    assert response.status_code == 201, response.content
    again = ToolRun.objects.get(pk=response.json()["id"])
    sent = again.params["edit"]
    assert [m["start"] for m in sent["moments"]] == [m["start"] for m in edit["moments"]]
    assert sent["sentences"][0]["origin"] == "edited"  # the server decides, not the client
    assert all(s["origin"] == "extractive" for s in sent["sentences"][1:])
    assert again.params["external_ai"] is False
    assert [i["version"] for i in again.inputs] == recap_inputs  # same versions, same order
    event = AuditEvent.objects.get(action="toolrun.recap_edit")
    assert event.details["from_run"] == run.pk and event.details["edited_sentences"] == 1

    again = services.toolrun_execute(again.pk)
    assert again.status == ToolRun.Status.SUCCEEDED, again.error
    # Rendered again without analysing again.
    assert again.metrics["analysis_cache_hits"] == 2 and again.metrics["decoded_frames"] == 0
    new, html = page_data(client_for(world.a.users["director"]), again)
    assert new["edit_applied"] is True
    assert "Reviewer&#x27;s cut" in html or "Reviewer’s cut" in html or "Reviewer's cut" in html
    assert [(m["episode"], m["start"]) for m in new["moments"]] == [
        (m["episode"], pytest.approx(m["start"], abs=0.05)) for m in edit["moments"]
    ]
    invented = new["sentences"][0]
    # An invented year is never "verified": unverified (shown, blocks approval until signed off) or contradicted.
    assert invented["verdict"] in ("unverified", "contradicted")
    said = invented["problems"] + [f"{c['text']} {c['reason']}" for c in invented["claims"]]
    assert any("1987" in p for p in said)
    if invented["verdict"] == "unverified":
        assert "s1" in new["gate"]["pending"] and not new["gate"]["approvable"]
    assert new["narration"]["mode"] == "edited"
    # The re-render is a new generated recap, gated like any other.
    video = again.outputs.get(name="recap").version
    assert video.asset.kind == Asset.Kind.GENERATED
    project = world.a.project
    download = client_for(world.a.users["producer"]).get(f"/s/{project.studio.slug}/p/{project.code}/download/{video.pk}/")
    assert download.status_code == 403


def test_bad_edits_get_clear_errors_and_start_nothing(world_tx, recap_inputs, cache, api_for, scratch):
    world = world_tx
    run = run_recap(world, recap_inputs, params={"narration": False})
    assert run.status == ToolRun.Status.SUCCEEDED, run.error
    url = f"/api/v1/projects/{world.a.project.pk}/toolruns/{run.pk}/rerender/"
    api = api_for(world.a.users["director"])
    before = ToolRun.objects.count()

    answer = api.post(url, {"moments": []}, format="json")
    assert answer.status_code == 400 and "at least one moment" in json.dumps(answer.json())
    answer = api.post(url, {"moments": [{"episode": 1, "start": 5, "end": 2}]}, format="json")
    assert answer.status_code == 400 and "must end after it starts" in json.dumps(answer.json())
    answer = api.post(
        url, {"moments": [{"episode": 1, "start": 0, "end": 4}], "sentences": [{"text": "x", "cues": ["e1"]}]}, format="json"
    )
    assert answer.status_code == 400 and "is not a subtitle line id" in json.dumps(answer.json())
    answer = api.post(url, {"moments": [{"episode": 1, "start": 0, "end": 4}], "colour": "red"}, format="json")
    assert answer.status_code == 400 and "Unknown field" in json.dumps(answer.json())
    assert ToolRun.objects.count() == before  # nothing half-made

    # A moment that only the tool can judge (past the end of the episode) fails the new run, by name.
    answer = api.post(url, {"moments": [{"episode": 2, "start": 20, "end": 45}]}, format="json")
    assert answer.status_code == 201
    failed = services.toolrun_execute(answer.json()["id"])
    assert failed.status == ToolRun.Status.FAILED
    assert "moment 1 of the edit (episode 2, 20.00 s to 45.00 s) ends after the end of the episode" in failed.error

    # Only a finished recap can be edited.
    other = services.toolrun_create(
        actor=world.a.users["director"],
        project=world.a.project,
        tool="recap",
        params={},
        input_version_ids={"media": recap_inputs},
    )
    answer = api.post(
        f"/api/v1/projects/{world.a.project.pk}/toolruns/{other.pk}/rerender/",
        {"moments": [{"episode": 1, "start": 0, "end": 4}]},
        format="json",
    )
    assert answer.status_code == 400 and "Only a finished recap run" in json.dumps(answer.json())
