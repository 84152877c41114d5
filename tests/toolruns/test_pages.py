"""The tool pages: the tools list with runs, the form generated from the schema, the run page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from portal.footage.models import Asset, AssetVersion
from portal.toolruns import services
from portal.toolruns.models import ToolRun
from tests.footage.helpers import make_ready_version


def url(world, name, **kwargs) -> str:
    return reverse(f"toolruns:{name}", kwargs={"studio": world.a.studio.slug, "project": world.a.project.code, **kwargs})


@pytest.fixture
def clip(world):
    return make_ready_version(world.a.project, uploader=world.a.users["artist"], name="shot_010.mov")


def test_tools_page_lists_tools_and_runs_with_progress_bars(world, client_for, clip):
    run = services.toolrun_create(
        actor=world.a.users["artist"], project=world.a.project, tool="contactsheet", params={}, input_version_ids=[clip.pk]
    )
    response = client_for(world.a.users["viewer"]).get(url(world, "tools"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Contact sheet" in html and "External AI provider" in html
    assert f'data-run-id="{run.pk}"' in html and "data-run-progress" in html
    assert f'data-toolruns-project="{world.a.project.pk}"' in html and "js/toolruns.js" in html
    # a viewer may watch but not start or cancel
    assert url(world, "start", tool="contactsheet") not in html and url(world, "cancel", run_id=run.pk) not in html
    artist_html = client_for(world.a.users["artist"]).get(url(world, "tools")).content.decode()
    assert url(world, "start", tool="contactsheet") in artist_html and url(world, "cancel", run_id=run.pk) in artist_html
    # the external-AI tool cannot be started in a studio that does not allow it
    assert url(world, "start", tool="external_ai_demo") not in artist_html
    fragment = client_for(world.a.users["viewer"]).get(url(world, "run_list"))
    assert fragment.status_code == 200 and f'data-run-id="{run.pk}"' in fragment.content.decode()


def test_start_form_is_generated_from_the_schema_and_offers_only_fitting_assets(world, client_for, clip):
    artist = world.a.users["artist"]
    plate = make_ready_version(world.a.project, uploader=artist, kind=Asset.Kind.PLATE, name="plate_bg.exr")
    subtitles = make_ready_version(world.a.project, uploader=artist, kind=Asset.Kind.SUBTITLES, name="en.srt")
    processing = make_ready_version(world.a.project, uploader=artist, name="late.mov")
    AssetVersion.objects.filter(pk=processing.pk).update(status=AssetVersion.Status.PROCESSING)
    theirs = make_ready_version(world.b.project, uploader=world.b.users["artist"], name="theirs.mov")

    html = client_for(artist).get(url(world, "start", tool="contactsheet")).content.decode()
    assert 'name="param-columns"' in html and 'type="number"' in html and 'max="12"' in html and 'value="4"' in html
    assert 'name="param-timecodes"' in html and 'type="checkbox"' in html and "checked" in html
    assert "Thumbnails per row." in html
    assert f'<option value="{clip.pk}"' in html and f'<option value="{plate.pk}"' in html
    for absent in (subtitles, processing, theirs):
        assert f'<option value="{absent.pk}"' not in html


def test_posting_the_form_starts_a_run_and_opens_its_page(
    world, client_for, clip, dispatched, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(world.a.users["artist"]).post(
            url(world, "start", tool="contactsheet"),
            {"input-clip": str(clip.pk), "param-columns": "3", "param-rows": "", "param-thumb_width": "200"},
        )
    run = ToolRun.objects.get()
    assert response.status_code == 302 and response["Location"] == url(world, "run", run_id=run.pk)
    # an empty box means the default; an unticked box means False
    assert run.params == {"columns": 3, "rows": 4, "thumb_width": 200, "timecodes": False}
    assert dispatched == [(run.pk, "tools")]


def test_a_bad_form_comes_back_with_errors_next_to_the_fields(world, client_for, clip):
    response = client_for(world.a.users["artist"]).post(
        url(world, "start", tool="contactsheet"), {"input-clip": "", "param-columns": "40"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "Columns can be at most 12. You entered 40." in html and 'value="40"' in html and 'aria-invalid="true"' in html
    assert not ToolRun.objects.exists()
    response = client_for(world.a.users["artist"]).post(url(world, "start", tool="contactsheet"), {"param-columns": "3"})
    assert "exactly 1 footage or plate input" in response.content.decode()


def test_external_ai_tool_form_explains_the_refusal(world, client_for, clip):
    response = client_for(world.a.users["artist"]).post(
        url(world, "start", tool="external_ai_demo"), {"input-clip": str(clip.pk)}
    )
    assert response.status_code == 403
    assert "does not allow" in response.content.decode()
    assert not ToolRun.objects.exists()


def test_unknown_tool_page_is_404(world, client_for):
    assert client_for(world.a.users["artist"]).get(url(world, "start", tool="nope")).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_run_page_shows_outputs_with_links_and_provenance(world_tx, client_for, clip_version):
    world = world_tx
    clip = clip_version(world.a.project, world.a.users["artist"])
    run = services.toolrun_create(
        actor=world.a.users["artist"],
        project=world.a.project,
        tool="sleeper",
        params={"steps": 2, "seed": 7},
        input_version_ids=[clip.pk],
    )
    run = services.toolrun_execute(run.pk)
    output = run.outputs.get()
    html = client_for(world.a.users["viewer"]).get(url(world, "run", run_id=run.pk)).content.decode()
    asset_url = reverse(
        "footage:asset",
        kwargs={"studio": world.a.studio.slug, "project": world.a.project.code, "asset_id": output.version.asset_id},
    )
    assert f'href="{asset_url}"' in html and "Sleeper result" in html and "Generated" in html
    assert "Provenance" in html and "sleepy-1" in html and "Seed" in html and ">7<" in html
    assert clip.sha256[:10] in html and "Succeeded" in html
    assert f'data-run-id="{run.pk}"' in html and "js/toolruns.js" in html


def test_run_page_of_a_failed_run_shows_the_users_message(world, client_for, clip):
    run = services.toolrun_create(
        actor=world.a.users["artist"], project=world.a.project, tool="contactsheet", params={}, input_version_ids=[clip.pk]
    )
    ToolRun.objects.filter(pk=run.pk).update(status=ToolRun.Status.FAILED, error="shot_010.mov is not a readable video file")
    html = client_for(world.a.users["artist"]).get(url(world, "run", run_id=run.pk)).content.decode()
    assert "The run failed." in html and "shot_010.mov is not a readable video file" in html


def test_running_run_page_shows_progress_and_time_left(world, client_for, clip):
    from datetime import timedelta

    from django.utils import timezone

    run = services.toolrun_create(
        actor=world.a.users["artist"], project=world.a.project, tool="contactsheet", params={}, input_version_ids=[clip.pk]
    )
    ToolRun.objects.filter(pk=run.pk).update(
        status=ToolRun.Status.RUNNING, progress=0.25, stage="frames", started_at=timezone.now() - timedelta(minutes=30)
    )
    html = client_for(world.a.users["artist"]).get(url(world, "run", run_id=run.pk)).content.decode()
    assert 'value="0.25"' in html and "25%" in html and "frames" in html
    # 30 min for a quarter: 1 h 30 min left, whatever the few seconds the request itself takes
    # (each second late adds 3 s to the estimate; the page shows minutes at this length).
    assert "about 1 h 30 min left" in html
    assert url(world, "cancel", run_id=run.pk) in html


def test_cancel_from_the_page(world, client_for, clip):
    run = services.toolrun_create(
        actor=world.a.users["artist"], project=world.a.project, tool="contactsheet", params={}, input_version_ids=[clip.pk]
    )
    response = client_for(world.a.users["director"]).post(url(world, "cancel", run_id=run.pk), {"back": "tools"})
    assert response.status_code == 302 and response["Location"] == url(world, "tools")
    run.refresh_from_db()
    assert run.status == ToolRun.Status.CANCELLED


def test_project_page_has_a_tools_section(world, client_for, clip):
    services.toolrun_create(
        actor=world.a.users["artist"], project=world.a.project, tool="contactsheet", params={}, input_version_ids=[clip.pk]
    )
    page = reverse("projects:detail", kwargs={"studio": world.a.studio.slug, "project": world.a.project.code})
    html = client_for(world.a.users["viewer"]).get(page).content.decode()
    assert 'id="tools"' in html and url(world, "tools") in html and "contactsheet #" in html
    # studio admins without a project role see no footage, so no tool runs either
    admin_html = client_for(world.a.users["studio_admin"]).get(page).content.decode()
    assert 'id="tools"' not in admin_html


def test_run_page_and_api_show_the_reports_summary_lines(world, client_for, api_for, clip):
    run = services.toolrun_create(
        actor=world.a.users["artist"], project=world.a.project, tool="contactsheet", params={}, input_version_ids=[clip.pk]
    )
    lines = [
        "Asked: 6 added people per frame; on screen: 1.0 on average, from 9 copies.",
        "Rejected: 29 incomplete person: no feet.",
        "Placed 1.0 of the 6 people asked for per frame: only 3 whole people in the plate to copy; add tile plates.",
    ]
    ToolRun.objects.filter(pk=run.pk).update(status=ToolRun.Status.SUCCEEDED, report={"summary_lines": lines, "other": 1})
    html = client_for(world.a.users["artist"]).get(url(world, "run", run_id=run.pk)).content.decode()
    assert 'id="summary-heading"' in html
    for line in lines:
        assert f"<li>{line}</li>" in html
    body = api_for(world.a.users["artist"]).get(f"/api/v1/projects/{world.a.project.pk}/toolruns/{run.pk}/").json()
    assert body["summary"] == lines
    # a report without summary lines (or with something else under that name) shows no summary block
    ToolRun.objects.filter(pk=run.pk).update(report={"summary_lines": {"not": "lines"}})
    html = client_for(world.a.users["artist"]).get(url(world, "run", run_id=run.pk)).content.decode()
    assert 'id="summary-heading"' not in html
    body = api_for(world.a.users["artist"]).get(f"/api/v1/projects/{world.a.project.pk}/toolruns/{run.pk}/").json()
    assert body["summary"] == []
