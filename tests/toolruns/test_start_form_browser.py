"""The start form's widgets in a real browser (Debian's Chromium through Playwright) against the
shared real portal: inputs picked in an order that is not the list's reach the run in that order,
and a crowd region drawn with mouse clicks on the plate's frame reaches the run as those points.

The media live in a project of their own in the demo studio, so the other browser tests' project
is left as they expect it. Versions are stand-ins (tests/footage/helpers.py) with real posters: the
form only needs ready versions and their frames. Runs are checked in the database the server uses."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.browser_support import sign_in

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"  # git-ignored: screenshots to look at
PROJECT = "PICK_S1"
START = f"/s/demo/p/{PROJECT}/tools/{{tool}}/start/"

SEED = """
import json
from django.contrib.auth import get_user_model
from portal.footage import storage
from portal.footage.models import Asset
from portal.projects import services as project_services
from portal.projects.models import Project
from portal.studios.models import Studio
from tests.footage.helpers import make_ready_version

User = get_user_model()
posters = json.loads(%(posters)r)
studio = Studio.objects.get(slug="demo")
admin = User.objects.get(email="admin@demo.test")
project = project_services.project_create(actor=admin, studio=studio, code=%(code)r, name="Picker and polygon")
artist = User.objects.get(email="artist@demo.test")
project_services.project_member_add(actor=admin, project=project, user=artist, role="artist")
ids = {}
for name, kind in [("shot_a.mov", "footage"), ("shot_b.mov", "footage"), ("shot_c.mov", "footage"),
                   ("shot_d.mov", "footage"), ("plate_main.mov", "plate"), ("plate_square.mov", "plate")]:
    ids[name] = make_ready_version(project, uploader=artist, kind=kind, name=name).pk
for n in range(1, 9):
    ids[f"tile_{n}.mov"] = make_ready_version(project, uploader=artist, kind="plate", name=f"tile_{n}.mov").pk
from portal.footage.models import AssetVersion
for name, path in posters.items():
    version = AssetVersion.objects.get(pk=ids[name])
    storage.save_file(version.poster_key, path)
print(json.dumps(ids))
"""

RUN = """
from portal.toolruns.models import ToolRun
import json
run = ToolRun.objects.get(pk=%(run)d)
print(json.dumps({"tool": run.tool, "project": run.project.code, "inputs": run.inputs, "params": run.params}))
"""


def _poster(path: Path, colour: str, size: str) -> str:
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"color=c={colour}:s={size}",
            "-frames:v",
            "1",
            str(path),
        ],
        check=True,
        timeout=60,
    )
    return str(path)


@pytest.fixture(scope="module")
def media(portal_server, tmp_path_factory) -> dict[str, int]:
    folder = tmp_path_factory.mktemp("start-form-posters")
    posters = {
        "plate_main.mov": _poster(folder / "main.jpg", "0x336699", "320x180"),
        "plate_square.mov": _poster(folder / "square.jpg", "0x993333", "180x180"),
        "shot_a.mov": _poster(folder / "a.jpg", "0x445566", "160x90"),
        "shot_c.mov": _poster(folder / "c.jpg", "0x665544", "160x90"),
    }
    out = portal_server.manage("shell", "-c", SEED % {"posters": json.dumps(posters), "code": PROJECT})
    return json.loads(out.strip().splitlines()[-1])


def _run(portal_server, run_id: int) -> dict:
    return json.loads(portal_server.manage("shell", "-c", RUN % {"run": run_id}).strip().splitlines()[-1])


def _watch_errors(page, refused_form: bool = False) -> list[str]:
    """Script errors and console errors; a refused form answers 400, which Chromium logs."""
    errors: list[str] = []

    def console(msg) -> None:
        if msg.type == "error" and not (refused_form and "status of 400" in msg.text):
            errors.append(msg.text)

    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", console)
    return errors


def _screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def _label(name: str, kind: str) -> str:
    return f"{name} · v1 · {kind}"


def _submit_and_get_run(page, portal_server) -> dict:
    page.get_by_role("button", name="Start run").click()
    page.wait_for_url(re.compile(r"/runs/\d+/$"))
    return _run(portal_server, int(re.search(r"/runs/(\d+)/$", page.url).group(1)))


def test_inputs_picked_out_of_list_order_reach_the_run_in_that_order(portal_server, new_page, media):
    page = new_page()
    sign_in(page, portal_server, "artist@demo.test")
    page.goto(portal_server.url(START.format(tool="continuity")))
    errors = _watch_errors(page)

    picker = page.get_by_role("group", name="Shots")
    chosen = picker.locator("[data-picker-chosen] > li")
    assert page.locator("select[name='input-media']").is_hidden()  # the plain select gives way to the picker
    footage = {n: _label(n, "Footage") for n in ("shot_a.mov", "shot_b.mov", "shot_c.mov", "shot_d.mov")}

    # add c, a, d, b: neither the list's order (newest first) nor its reverse
    for name in ("shot_c.mov", "shot_a.mov", "shot_d.mov", "shot_b.mov"):
        picker.get_by_role("button", name=f"Add {footage[name]}").click()
    assert chosen.locator(".picker-label").all_inner_texts() == [
        footage[n] for n in ("shot_c.mov", "shot_a.mov", "shot_d.mov", "shot_b.mov")
    ]
    assert picker.locator("[data-picker-available] > li:visible").filter(has_text="shot_").count() == 0
    # the chosen ones carry their posters as thumbnails, when they have one
    thumb = chosen.filter(has_text="shot_c.mov").locator("img.picker-thumb")
    # (a lazy image: wait until the browser has loaded it, then check it is the poster's real size)
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=thumb.element_handle())
    assert page.evaluate("(img) => img.naturalWidth", thumb.element_handle()) == 160

    # b up twice with the buttons -> c, b, a, d
    picker.get_by_role("button", name=f"Move {footage['shot_b.mov']} up").click()
    picker.get_by_role("button", name=f"Move {footage['shot_b.mov']} up").click()
    # d up once from the keyboard -> c, b, d, a
    picker.get_by_role("button", name=f"Remove {footage['shot_d.mov']}").focus()
    page.keyboard.press("Alt+ArrowUp")
    # and a removed -> c, b, d
    picker.get_by_role("button", name=f"Remove {footage['shot_a.mov']}").click()
    wanted = ["shot_c.mov", "shot_b.mov", "shot_d.mov"]
    assert chosen.locator(".picker-label").all_inner_texts() == [footage[n] for n in wanted]
    assert picker.get_by_role("button", name=f"Move {footage['shot_c.mov']} up").is_disabled()
    assert picker.get_by_role("button", name=f"Move {footage['shot_d.mov']} down").is_disabled()
    _screenshot(page, "start-form-ordered-picker.png")
    hidden = page.locator("input[type=hidden][name='input-media']")
    assert [hidden.nth(i).get_attribute("value") for i in range(hidden.count())] == [str(media[n]) for n in wanted]

    run = _submit_and_get_run(page, portal_server)
    assert (run["tool"], run["project"]) == ("continuity", PROJECT)
    assert [i["version"] for i in run["inputs"]] == [media[n] for n in wanted]
    assert [i["slot"] for i in run["inputs"]] == ["media"] * 3
    assert errors == []


def test_a_refused_form_keeps_the_order_and_the_limit_is_enforced(portal_server, new_page, media):
    page = new_page()
    sign_in(page, portal_server, "artist@demo.test")
    page.goto(portal_server.url(START.format(tool="continuity")))
    errors = _watch_errors(page, refused_form=True)
    picker = page.get_by_role("group", name="Shots")
    for name in ("shot_d.mov", "shot_a.mov", "shot_c.mov"):
        picker.get_by_role("button", name=f"Add {_label(name, 'Footage')}").click()
    page.get_by_label("Sensitivity").fill("7")
    page.get_by_role("button", name="Start run").click()
    page.wait_for_load_state("networkidle")
    assert page.get_by_text("can be at most 1").first.is_visible()
    picker = page.get_by_role("group", name="Shots")  # the page is new: the picker is rebuilt from it
    assert picker.locator("[data-picker-chosen] .picker-label").all_inner_texts() == [
        _label(n, "Footage") for n in ("shot_d.mov", "shot_a.mov", "shot_c.mov")
    ]

    # crowd tiles take at most 8: the ninth cannot be added, and the page says why
    page.goto(portal_server.url(START.format(tool="crowd")))
    tiles = page.get_by_role("group", name="Tile plates")
    limit = tiles.locator("[data-picker-limit]")
    for n in range(1, 9):
        assert limit.is_hidden()
        tiles.get_by_role("button", name=f"Add {_label(f'tile_{n}.mov', 'Plate')}").click()
    assert limit.is_visible() and "at most 8" in limit.inner_text()
    assert tiles.get_by_role("button", name=f"Add {_label('plate_main.mov', 'Plate')}").is_disabled()
    assert page.locator("input[type=hidden][name='input-tiles']").count() == 8
    tiles.get_by_role("button", name=f"Remove {_label('tile_3.mov', 'Plate')}").click()
    assert limit.is_hidden()
    assert tiles.get_by_role("button", name=f"Add {_label('plate_main.mov', 'Plate')}").is_enabled()
    assert errors == []


def _stage_box(page):
    """The drawing area, scrolled into view (mouse positions are the viewport's)."""
    stage = page.locator("[data-polygon-stage]")
    stage.scroll_into_view_if_needed()
    return stage, stage.bounding_box()


def _click_at(page, box, x: float, y: float) -> None:
    page.mouse.click(box["x"] + x * box["width"], box["y"] + y * box["height"])


def _points(page) -> list[list[float]]:
    text = page.locator("textarea[name='param-region']").input_value()
    return json.loads(text) if text.strip() else []


def _close(actual, expected, tolerance=0.01) -> bool:
    return len(actual) == len(expected) and all(
        abs(ax - ex) <= tolerance and abs(ay - ey) <= tolerance for (ax, ay), (ex, ey) in zip(actual, expected, strict=True)
    )


def test_a_region_drawn_on_the_plate_frame_reaches_the_run(portal_server, new_page, media):
    page = new_page()
    sign_in(page, portal_server, "artist@demo.test")
    page.goto(portal_server.url(START.format(tool="crowd")))
    errors = _watch_errors(page)
    frame = page.locator("img[data-polygon-frame]")
    assert frame.is_hidden() and page.get_by_text("Choose a plate above").is_visible()

    # the frame follows the plate chosen above: first a square one, then the 16:9 one
    page.get_by_label("Plate", exact=True).select_option(str(media["plate_square.mov"]))
    frame.wait_for(state="visible")
    assert f"/media/{media['plate_square.mov']}/poster/" in frame.get_attribute("src")
    stage, box = _stage_box(page)
    assert abs(box["width"] / box["height"] - 1.0) < 0.02
    page.get_by_label("Plate", exact=True).select_option(str(media["plate_main.mov"]))
    page.wait_for_function(
        "(id) => document.querySelector('img[data-polygon-frame]').src.includes(`/media/${id}/poster/`)"
        " && document.querySelector('img[data-polygon-frame]').naturalWidth === 320",
        arg=media["plate_main.mov"],
    )
    stage, box = _stage_box(page)
    assert abs(box["width"] / box["height"] - 16 / 9) < 0.02

    clicks = [(0.2, 0.3), (0.8, 0.25), (0.7, 0.8), (0.25, 0.75)]
    for x, y in clicks:
        _click_at(page, box, x, y)
    assert _close(_points(page), clicks)
    assert page.locator("[data-polygon-handles] .polygon-point").count() == 4
    assert page.locator("[data-polygon-shape]").get_attribute("points").count(",") == 4  # closed and drawn

    # drag the third point somewhere else
    page.mouse.move(box["x"] + 0.7 * box["width"], box["y"] + 0.8 * box["height"])
    page.mouse.down()
    page.mouse.move(box["x"] + 0.6 * box["width"], box["y"] + 0.88 * box["height"], steps=8)
    page.mouse.up()
    clicks[2] = (0.6, 0.88)
    assert _close(_points(page), clicks)
    # the keyboard moves a focused point too: the fourth, a big step down
    page.get_by_role("button", name=re.compile(r"^Point 4:")).focus()
    page.keyboard.press("Shift+ArrowDown")
    clicks[3] = (0.25, 0.8)
    assert _close(_points(page), clicks)
    # a stray fifth point, taken back
    _click_at(page, box, 0.5, 0.1)
    assert len(_points(page)) == 5
    page.get_by_role("button", name="Remove last point").click()
    assert _close(_points(page), clicks)
    _screenshot(page, "start-form-crowd-region.png")

    run = _submit_and_get_run(page, portal_server)
    assert run["tool"] == "crowd" and [i["version"] for i in run["inputs"]] == [media["plate_main.mov"]]
    assert _close(run["params"]["region"], clicks)
    assert errors == []


def test_a_two_point_region_is_refused_with_the_reason_next_to_it(portal_server, new_page, media):
    page = new_page()
    sign_in(page, portal_server, "artist@demo.test")
    page.goto(portal_server.url(START.format(tool="crowd")))
    errors = _watch_errors(page, refused_form=True)
    page.get_by_label("Plate", exact=True).select_option(str(media["plate_main.mov"]))
    page.locator("img[data-polygon-frame]").wait_for(state="visible")
    stage, box = _stage_box(page)
    _click_at(page, box, 0.1, 0.1)
    _click_at(page, box, 0.9, 0.2)
    assert "a region needs at least 3" in page.locator("[data-polygon-count]").inner_text()
    page.get_by_role("button", name="Start run").click()
    page.wait_for_load_state("networkidle")

    assert "/runs/" not in page.url
    field = page.locator(".field", has=page.locator("[data-polygon-field]"))
    assert field.locator(".errorlist").inner_text().startswith("the region needs at least 3 points, got 2")
    assert page.locator("textarea[name='param-region']").get_attribute("aria-invalid") == "true"
    _screenshot(page, "start-form-crowd-region-refused.png")
    # the refused points are still drawn, on the plate still chosen
    assert page.locator("[data-polygon-handles] .polygon-point").count() == 2
    assert _close(_points(page), [(0.1, 0.1), (0.9, 0.2)])
    assert page.get_by_label("Plate", exact=True).input_value() == str(media["plate_main.mov"])
    page.locator("img[data-polygon-frame]").wait_for(state="visible")
    assert errors == []
