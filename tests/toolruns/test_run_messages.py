"""Messages that say what to do, on real tool runs over lavfi media (issue 17, item 3).

- A run that fails because of its input shows the tool's own words (page and API); a real crash shows
  the generic text, translated, with the details only in the log.
- What a finished run fell short of (a shortfall, a check not made, a fallback) is shown in its own
  block above the outputs, and the API has it as `warnings`."""

from __future__ import annotations

import html as htmlmod
import logging
import re

import pytest
from django.urls import reverse

from portal.footage.models import Asset
from portal.toolruns import services
from portal.toolruns.models import GENERIC_FAILURE, ToolRun
from tests.footage.helpers import make_ready_version
from tests.toolruns.conftest import render_clip, store_real_file

pytestmark = pytest.mark.django_db(transaction=True)


def _version(world, tmp_path, name: str, source: str, *, kind=Asset.Kind.FOOTAGE):
    clip = render_clip(tmp_path / name, source)
    return store_real_file(make_ready_version(world.a.project, uploader=world.a.users["artist"], kind=kind, name=name), clip)


def _run(world, tool: str, inputs, params=None) -> ToolRun:
    run = services.toolrun_create(
        actor=world.a.users["artist"], project=world.a.project, tool=tool, params=params or {}, input_version_ids=inputs
    )
    return services.toolrun_execute(run.pk)


def crowd_shortfall_run(world, tmp_path) -> ToolRun:
    """A real crowd run asked for more people than its small region holds (35 per frame): a shortfall."""
    from studio_tools.crowd.synthetic import make_scene, write_scene

    clip = write_scene(
        make_scene(width=320, height=180, seconds=3.0, walkers=5, seed=1, person_scale=0.32), tmp_path / "square.mp4"
    )
    plate = store_real_file(
        make_ready_version(world.a.project, uploader=world.a.users["artist"], kind=Asset.Kind.PLATE, name="square.mp4"), clip
    )
    region = [[0.55, 0.55], [0.95, 0.55], [0.95, 1.0], [0.55, 1.0]]
    # the generated walkers are discs and blocks the pose model does not take for people: no completeness gate
    params = {"density": 8, "seed": 3, "region": region, "completeness": "off"}
    return _run(world, "crowd", {"plate": [plate.pk]}, params)


def _page(client_for, world, run: ToolRun, language: str = "en") -> str:
    url = reverse("toolruns:run", kwargs={"studio": world.a.studio.slug, "project": world.a.project.code, "run_id": run.pk})
    response = client_for(world.a.users["viewer"]).get(url, HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    return htmlmod.unescape(response.content.decode())


def _api(api_for, world, run: ToolRun) -> dict:
    response = api_for(world.a.users["viewer"]).get(f"/api/v1/projects/{world.a.project.pk}/toolruns/{run.pk}/")
    assert response.status_code == 200
    return response.json()


def _error_block(page: str) -> str:
    match = re.search(r"<div[^>]*data-run-error[^>]*>(.*?)</div>", page, re.S)
    assert match, "no error block on the page"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(1))).strip()


def _warnings_block(page: str) -> tuple[int, list[str]]:
    """(where the block starts in the page, its lines) of the run's warnings."""
    match = re.search(r"<section[^>]*data-run-warnings[^>]*>(.*?)</section>", page, re.S)
    assert match, "no warnings block on the page"
    lines = [
        re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", li)).strip() for li in re.findall(r"<li>(.*?)</li>", match.group(1), re.S)
    ]
    return match.start(), lines


# --- failures -----------------------------------------------------------------------------------


def test_a_plate_without_people_fails_with_the_crowd_tools_own_words(world_tx, tmp_path, client_for, api_for):
    world = world_tx
    plate = _version(world, tmp_path, "empty.mp4", "color=c=gray:size=320x180:rate=25:duration=3", kind=Asset.Kind.PLATE)
    run = _run(world, "crowd", {"plate": [plate.pk]})
    assert run.status == ToolRun.Status.FAILED
    assert run.error.startswith("no people were found in empty.mp4: nothing moved against the background")
    assert "needs a locked-off plate with people who move" in run.error
    assert run.error != GENERIC_FAILURE
    assert run.error in _error_block(_page(client_for, world, run))
    body = _api(api_for, world, run)
    assert body["status"] == "failed" and body["error"] == run.error


def test_continuity_over_a_sound_file_fails_with_the_tools_own_words(world_tx, tmp_path, client_for, api_for):
    world = world_tx
    shot = _version(world, tmp_path, "shot.mp4", "testsrc2=size=320x180:rate=25:duration=1")
    sound = _version(world, tmp_path, "tone.wav", "sine=frequency=440:duration=1")
    run = _run(world, "continuity", [shot.pk, sound.pk])
    assert run.status == ToolRun.Status.FAILED
    assert run.error == "tone.wav has no picture (it is audio); continuity needs video or stills"
    assert run.error in _error_block(_page(client_for, world, run))
    assert _api(api_for, world, run)["error"] == run.error


def test_a_crash_inside_a_real_tool_shows_the_generic_text_and_the_details_go_to_the_log(
    world_tx, tmp_path, client_for, api_for, monkeypatch, caplog
):
    world = world_tx
    clip = _version(world, tmp_path, "clip.mp4", "testsrc2=size=160x90:rate=25:duration=2")

    def explode(*args, **kwargs):
        raise RuntimeError("decoder state corrupt at /srv/portal/secret/scratch/0-clip.mp4")

    monkeypatch.setattr("studio_tools.contactsheet.tool.ContactSheet._grab_all", explode)
    with caplog.at_level(logging.ERROR, logger="portal.toolruns.services"):
        run = _run(world, "contactsheet", [clip.pk])
    assert run.status == ToolRun.Status.FAILED and run.error == GENERIC_FAILURE
    logged = "\n".join((r.exc_text or "") + r.getMessage() for r in caplog.records)
    assert "decoder state corrupt at /srv/portal/secret" in logged or any(
        r.exc_info and "decoder state corrupt" in str(r.exc_info[1]) for r in caplog.records
    )

    page = _page(client_for, world, run)
    assert GENERIC_FAILURE in _error_block(page)
    body = _api(api_for, world, run)
    assert body["error"] == GENERIC_FAILURE
    for shown in (page, str(body)):
        assert "/srv/portal" not in shown and "decoder state" not in shown and "RuntimeError" not in shown
    # the portal's own words are the reader's language
    french = _error_block(_page(client_for, world, run, "fr"))
    assert "L’outil s’est arrêté sur une erreur interne" in french and GENERIC_FAILURE not in french


# --- warnings ---------------------------------------------------------------------------------


def test_continuity_says_above_the_outputs_which_checks_a_cut_could_not_make(world_tx, tmp_path, client_for, api_for):
    world = world_tx
    first = _version(world, tmp_path, "a.mp4", "testsrc2=size=320x180:rate=25:duration=2")
    second = _version(world, tmp_path, "b.mp4", "smptebars=size=320x180:rate=25:duration=2")
    run = _run(world, "continuity", [first.pk, second.pk])
    assert run.status == ToolRun.Status.SUCCEEDED, run.error
    expected = "cut 1 (a.mp4 → b.mp4), props and set: not compared: the two frames do not show the same part of the set"
    assert any(w.startswith(expected) for w in run.warnings), run.warnings

    page = _page(client_for, world, run)
    start, lines = _warnings_block(page)
    assert any(line.startswith("Cut 1 (a.mp4 → b.mp4), props and set: not compared") for line in lines), lines
    assert start < page.index('id="outputs-heading"')  # above the outputs, not in the collapsed JSON only
    body = _api(api_for, world, run)
    assert body["warnings"] == run.warnings and body["summary"] == run.summary_lines != []


def test_a_crowd_that_cannot_place_all_it_was_asked_for_says_so_above_the_outputs(world_tx, tmp_path, client_for, api_for):
    """ "placed 4 of 33 people asked for" was only in the collapsed JSON: now it heads the page."""
    world = world_tx
    run = crowd_shortfall_run(world, tmp_path)
    assert run.status == ToolRun.Status.SUCCEEDED, run.error
    shortfall = next(w for w in run.warnings if w.startswith("placed "))
    assert "of the 35 people asked for per frame: no more room in the region" in shortfall

    page = _page(client_for, world, run)
    start, lines = _warnings_block(page)
    assert shortfall[0].upper() + shortfall[1:] in lines
    assert start < page.index('id="outputs-heading"')
    assert _api(api_for, world, run)["warnings"] == run.warnings


def test_a_recap_of_an_episode_without_subtitles_says_it_is_short_and_unnarrated(world_tx, tmp_path, client_for, api_for):
    world = world_tx
    episode = _version(world, tmp_path, "ep1.mp4", "testsrc2=size=320x180:rate=25:duration=4")
    run = _run(world, "recap", [episode.pk], {"target_seconds": 30, "temp_vo": False})
    assert run.status == ToolRun.Status.SUCCEEDED, run.error
    shortfall = run.report["selection"]["shortfall"]["message"]
    assert run.warnings == [f"shorter than asked: {shortfall}", "No narration: no episode has subtitles to ground it in."]

    page = _page(client_for, world, run)
    start, lines = _warnings_block(page)
    assert lines == [f"Shorter than asked: {shortfall}", "No narration: no episode has subtitles to ground it in."]
    assert start < page.index('id="outputs-heading"')
    # said once on the page, in the warnings block: the recap block no longer repeats it (the JSON report has it
    # in the tool's words, lower case)
    assert page.count("Shorter than asked") == 1
    assert _api(api_for, world, run)["warnings"] == run.warnings


def test_a_run_that_did_all_it_was_asked_has_no_warnings_block(world_tx, tmp_path, client_for, api_for):
    world = world_tx
    clip = _version(world, tmp_path, "clip.mp4", "testsrc2=size=160x90:rate=25:duration=2")
    run = _run(world, "contactsheet", [clip.pk])
    assert run.status == ToolRun.Status.SUCCEEDED, run.error
    assert run.warnings == []
    assert "data-run-warnings" not in _page(client_for, world, run)
    assert _api(api_for, world, run)["warnings"] == []
