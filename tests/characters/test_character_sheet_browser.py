"""The character sheet's "done when", in a real browser: a director opens the project's Characters
page from the navigation, adds Anna, uploads her reference still (scene and costume), and runs a
continuity check of two shots against the sheet. In both shots Anna's trousers are not the ones on
her reference still (the shots agree with each other): the run's inputs carry the still with Anna's
name, costume and scene, and the run page lists what the tool found against it under "Anna".

The shots are generated scenes (studio_tools.continuity.synthetic) encoded as real clips and stored
as ready footage; the still goes through the page's upload like a person's file. In embedded mode the
server's in-process worker runs the job, in services mode the Celery worker does."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from studio_tools.continuity import synthetic as synth
from tests.browser_support import sign_in
from tests.toolruns.test_continuity_browser import SEED, _poster  # the same seeding: shots as ready footage

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"  # git-ignored: screenshots to look at
PROJECT = "CHAR_B1"
FPS, FRAMES = 25, 25
RUN_TIMEOUT_MS = 240_000  # the machine is shared and slow: generous, never asserted as a duration
TERMINAL = ", ".join(f".page-head[data-run-status-now='{s}']" for s in ("succeeded", "failed", "cancelled"))

RUN = """
import json
from portal.characters.models import CharacterReference
from portal.review.models import Note
from portal.toolruns.models import ToolRun
run = ToolRun.objects.get(pk=%(run)d)
notes = Note.objects.filter(tool_run=run, source=Note.Source.MACHINE)
refs = CharacterReference.objects.filter(character__project=run.project).select_related("character", "version__asset")
print(json.dumps({
    "status": run.status, "error": run.error, "inputs": run.inputs, "findings": run.report.get("findings", []),
    "notes": [{"type": n.finding_type, "version": n.version_id, "frame": n.frame_start, "confidence": n.confidence,
               "data": n.finding_data} for n in notes],
    "references": [{"character": r.character.name, "version": r.version_id, "kind": r.version.asset.kind,
                    "status": r.version.status, "costume": r.costume, "scene": r.scene,
                    "media": r.version.media_info.get("kind"), "poster": bool(r.version.poster_key)} for r in refs],
}))
"""


def _label(name: str) -> str:
    return f"{name} · v1 · Footage"


@pytest.fixture(scope="module")
def scene(portal_server, tmp_path_factory) -> dict:
    """Anna's reference still (as a file to upload) and two shots where her trousers differ from it."""
    folder = tmp_path_factory.mktemp("character-sheet-browser")
    rng = np.random.default_rng(11)
    base = synth.make_scene(rng, 480, 270, people=1)
    figure = base.figures[0]
    still = synth.write_still(folder / "anna_sc12.png", synth.render(replace(base, props=[])))
    changed = replace(base, figures=[replace(figure, trousers=(200, 200, 60))])
    shots = []
    for index in (1, 2):
        camera = synth.camera_move(base, rng, shift=0.01, degrees=0.2)
        clip = synth.write_clip(folder / f"shot{index}.mp4", synth.shot_frames(synth.render(changed, camera), FRAMES, rng), FPS)
        media_info = {
            "kind": "video",
            "duration": FRAMES / FPS,
            "video": {"width": 480, "height": 270, "frame_rate": f"{FPS}/1", "frame_count": FRAMES},
        }
        poster = _poster(clip, folder / f"shot{index}.jpg")
        shots.append({"name": f"shot{index}.mp4", "clip": str(clip), "poster": poster, "media_info": media_info})
    out = portal_server.manage("shell", "-c", SEED % {"code": PROJECT, "shots": json.dumps(shots)})
    return {"ids": json.loads(out.strip().splitlines()[-1]), "still": still}


def _state(portal_server, run_id: int) -> dict:
    return json.loads(portal_server.manage("shell", "-c", RUN % {"run": run_id}).strip().splitlines()[-1])


def test_add_a_character_with_a_reference_still_and_check_shots_against_the_sheet(portal_server, new_page, scene):
    ids = scene["ids"]
    page = new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, portal_server, "director@demo.test")
    page.goto(portal_server.url(f"/s/demo/p/{PROJECT}/"))

    # From the project's navigation to its character sheet, empty so far.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Characters").click()
    page.wait_for_url(re.compile(rf"/p/{PROJECT}/characters/$"))
    assert page.locator("[data-character-count]").inner_text() == "0"

    # A duplicate name comes back with its message; Anna is added once.
    page.get_by_label("Name", exact=True).fill("Anna")
    page.get_by_role("button", name="Add character").click()
    page.wait_for_selector("article[data-character='Anna']")
    page.get_by_label("Name", exact=True).last.fill("anna")
    page.get_by_role("button", name="Add character").click()
    assert "This project already has a character called “anna”." in page.locator("[role=alert]").first.inner_text()
    assert page.locator("[data-character-count]").inner_text() == "1"

    # Her reference still, uploaded with the scene and the costume worn in it.
    anna = page.locator("article[data-character='Anna']")
    form = anna.locator("form[data-reference-form]")
    form.locator("input[type=file][name=image]").set_input_files(str(scene["still"]))
    form.get_by_label("Scene", exact=True).fill("12")
    form.get_by_label("Costume in this scene").fill("grey trousers, dark jacket")
    form.get_by_role("button", name="Add still").click()
    page.wait_for_selector("article[data-character='Anna'] tr[data-reference]")
    row = page.locator("article[data-character='Anna'] tr[data-reference]")
    assert row.count() == 1
    assert row.locator("[data-scene]").inner_text() == "12"
    assert row.locator("[data-costume]").inner_text() == "grey trousers, dark jacket"
    thumb = row.locator("img.reference-thumb")
    thumb.wait_for()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle())
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "character-sheet.png"), full_page=True)

    # The continuity check, against the sheet (all characters), of the two shots in cut order.
    page.get_by_role("button", name="Check shots against the sheet").click()
    page.wait_for_url(re.compile(r"/tools/continuity/start/$"))
    picker = page.get_by_role("group", name="Shots")
    picker.get_by_role("button", name=f"Add {_label('shot1.mp4')}").click()
    picker.get_by_role("button", name=f"Add {_label('shot2.mp4')}").click()
    sheet = page.locator("[data-run-sheet]")
    assert "Anna" in sheet.inner_text() and "1 still" in sheet.inner_text()
    sheet.get_by_label("Check against the character sheet: all characters").check()
    page.get_by_role("button", name="Start run").click()
    page.wait_for_url(re.compile(r"/runs/\d+/$"))
    run_id = int(re.search(r"/runs/(\d+)/$", page.url).group(1))
    page.locator(TERMINAL).wait_for(timeout=RUN_TIMEOUT_MS)
    state = _state(portal_server, run_id)
    assert state["status"] == "succeeded", state["error"]

    # The still is a ready reference asset of the project, with a poster, and the run took it as a
    # reference input carrying Anna's name, costume and scene, after the two shots.
    [reference] = state["references"]
    assert reference == {
        "character": "Anna",
        "version": reference["version"],
        "kind": "reference",
        "status": "ready",
        "costume": "grey trousers, dark jacket",
        "scene": "12",
        "media": "still",
        "poster": True,
    }
    inputs = state["inputs"]
    # (The seed adds two decoy versions to the project; nobody picks them.)
    assert [i["version"] for i in inputs] == [ids["shot1.mp4"], ids["shot2.mp4"], reference["version"]]
    assert (inputs[2]["kind"], inputs[2]["character"], inputs[2]["costume"], inputs[2]["scene"]) == (
        "reference",
        "Anna",
        "grey trousers, dark jacket",
        "12",
    )
    assert [i.get("character") for i in inputs[:2]] == [None, None]

    # Whatever the tool found against the sheet is Anna's (it names her, or points at her still), it is
    # on the shots, and the run page lists exactly those findings under her name ("no finding" if none).
    def whose(data: dict) -> str | None:
        ref = data.get("reference")
        return data.get("character") or (inputs[ref["input"]].get("character") if isinstance(ref, dict) else None)

    assert {whose(f) for f in state["findings"]} <= {"Anna", None}
    annas = [n for n in state["notes"] if whose(n["data"]) == "Anna"]
    assert {n["version"] for n in state["notes"]} <= {ids["shot1.mp4"], ids["shot2.mp4"]}
    by_character = page.locator("[data-findings-by-character]")
    assert "Checked against the character sheet: Anna." in by_character.inner_text()
    row = by_character.locator("[data-character-findings='Anna']")
    assert row.count() == 1
    assert row.locator(".badge").count() == len(annas)
    shot_name = {version: name for name, version in ids.items()}
    assert sorted(row.locator(".badge").all_inner_texts()) == sorted(
        f"{n['type']} · {shot_name[n['version']]} · frame {n['frame']} · {n['confidence']:.2f}" for n in annas
    )
    if not annas:
        assert "no finding" in row.inner_text()
    assert "Anna" in page.locator("section[aria-labelledby='inputs-heading']").inner_text()
    page.screenshot(path=str(ARTIFACTS / "character-sheet-run.png"), full_page=True)
    assert errors == []
