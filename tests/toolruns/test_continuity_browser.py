"""The continuity tool's "done when" from the portal, in a real browser: a generated scene whose
incoming shot recolours a jacket and loses a prop, picked in cut order with the start form's ordered
picker, gives exactly those two findings on the incoming shot at the right frame, with boxes where the
truth is, and the review room shows them as machine-made notes with their boxes drawn on the frame.

The shots are real clips (tests/studio_tools/test_continuity_tool.py's scene) stored as ready footage
in a project of this module's own, next to decoy versions the picker offers but nobody chooses. In
embedded mode the server's in-process worker runs the job, in services mode the Celery worker does;
either way the run page reloads itself when the run ends."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from studio_tools.continuity import synthetic as synth
from tests.browser_support import sign_in
from tests.studio_tools.test_continuity_tool import FPS, FRAMES, done_when_scene

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"  # git-ignored: screenshots to look at
PROJECT = "CONT_B1"
RUN_TIMEOUT_MS = 240_000  # the machine is shared and slow: generous, never asserted as a duration
TERMINAL = ", ".join(f".page-head[data-run-status-now='{s}']" for s in ("succeeded", "failed", "cancelled"))

SEED = """
import json
from pathlib import Path
from django.contrib.auth import get_user_model
from portal.footage import storage
from portal.projects import services as project_services
from portal.studios.models import Studio
from tests.footage.helpers import make_ready_version
from tests.toolruns.conftest import store_real_file

User = get_user_model()
studio = Studio.objects.get(slug="demo")
admin = User.objects.get(email="admin@demo.test")
project = project_services.project_create(actor=admin, studio=studio, code=%(code)r, name="Continuity done when")
director = User.objects.get(email="director@demo.test")
project_services.project_member_add(actor=admin, project=project, user=director, role="director")
ids = {}
# Decoys first, so they are not simply last in the list: the picker offers them, nobody chooses them.
for name, kind in (("shot1_alt_take.mp4", "footage"), ("street_plate.mov", "plate")):
    ids[name] = make_ready_version(project, uploader=director, kind=kind, name=name).pk
for shot in json.loads(%(shots)r):
    version = make_ready_version(project, uploader=director, kind="footage", name=shot["name"])
    version.media_info = shot["media_info"]
    version.save(update_fields=["media_info"])
    store_real_file(version, Path(shot["clip"]))
    storage.save_file(version.proxy_key, shot["clip"])  # an H.264 MP4 plays as its own proxy in review
    storage.save_file(version.poster_key, shot["poster"])
    ids[shot["name"]] = version.pk
print(json.dumps(ids))
"""

RUN = """
import json
from portal.review.models import Note
from portal.toolruns.models import ToolRun
run = ToolRun.objects.get(pk=%(run)d)
notes = Note.objects.filter(source=Note.Source.MACHINE, version__asset__project=run.project).select_related("drawing")
print(json.dumps({
    "status": run.status, "error": run.error, "inputs": run.inputs, "report": run.report,
    "outputs": sorted([o.name, o.kind, o.media_type] for o in run.outputs.all()),
    "notes": sorted(
        ({"type": n.finding_type, "version": n.version_id, "frame": n.frame_start, "run": n.tool_run_id,
          "author": n.author_id, "state": n.finding_state, "confidence": n.confidence,
          "shapes": n.drawing.shapes if hasattr(n, "drawing") else []} for n in notes),
        key=lambda n: n["type"]),
}))
"""


def _poster(clip: Path, target: Path) -> str:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(clip), "-frames:v", "1", str(target)],
        check=True,
        timeout=60,
    )
    return str(target)


def _box(shape: dict) -> dict:
    (x0, y0), (x1, y1) = shape["points"]
    return {"x": x0, "y": y0, "w": x1 - x0, "h": y1 - y0}


# Share of the pixels along a box's four edges, on the review room's drawing layer, painted in the
# findings' yellow (#ffcc00): the box is drawn where the note says, not only counted.
BOX_PAINTED = """([x0, y0, x1, y1]) => {
    const canvas = document.querySelector('[data-draw-layer]');
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    const yellow = (x, y) => {
        for (let dy = -2; dy <= 2; dy++) for (let dx = -2; dx <= 2; dx++) {
            const i = 4 * (Math.round(y + dy) * canvas.width + Math.round(x + dx));
            if (data[i + 3] > 100 && data[i] > 200 && data[i + 1] > 160 && data[i + 2] < 90) return true;
        }
        return false;
    };
    const [ax, ay, bx, by] = [x0 * canvas.width, y0 * canvas.height, x1 * canvas.width, y1 * canvas.height];
    let hit = 0, all = 0;
    for (let k = 1; k < 20; k++) {
        const x = ax + (bx - ax) * k / 20, y = ay + (by - ay) * k / 20;
        for (const [px, py] of [[x, ay], [x, by], [ax, y], [bx, y]]) { all++; if (yellow(px, py)) hit++; }
    }
    return hit / all;
}"""


def _label(name: str) -> str:
    return f"{name} · v1 · Footage"


@pytest.fixture(scope="module")
def scene(portal_server, tmp_path_factory) -> dict:
    """The two shots of the issue's scene as ready footage, plus decoys; their ids and the truth."""
    folder = tmp_path_factory.mktemp("continuity-browser")
    outgoing, incoming, truth, rng = done_when_scene()
    shots = []
    for index, image in enumerate((outgoing, incoming), start=1):
        clip = synth.write_clip(folder / f"shot{index}.mp4", synth.shot_frames(image, FRAMES, rng), FPS)
        shots.append(
            {
                "name": f"shot{index}.mp4",
                "clip": str(clip),
                "poster": _poster(clip, folder / f"shot{index}.jpg"),
                "media_info": {
                    "kind": "video",
                    "duration": FRAMES / FPS,
                    "video": {"width": 480, "height": 270, "frame_rate": f"{FPS}/1", "frame_count": FRAMES},
                },
            }
        )
    out = portal_server.manage("shell", "-c", SEED % {"code": PROJECT, "shots": json.dumps(shots)})
    return {"ids": json.loads(out.strip().splitlines()[-1]), "truth": truth}


def _run(portal_server, run_id: int) -> dict:
    return json.loads(portal_server.manage("shell", "-c", RUN % {"run": run_id}).strip().splitlines()[-1])


def _watch_errors(page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    return errors


def test_two_shots_picked_in_cut_order_give_the_two_findings_as_machine_notes_in_review(portal_server, new_page, scene):
    ids = scene["ids"]
    page = new_page()
    sign_in(page, portal_server, "director@demo.test")
    errors = _watch_errors(page)
    page.goto(portal_server.url(f"/s/demo/p/{PROJECT}/tools/continuity/start/"))

    # The picker offers every ready version of the right kinds, decoys included.
    picker = page.get_by_role("group", name="Shots")
    available = picker.locator("[data-picker-available] > li .picker-label").all_inner_texts()
    assert set(available) == {
        _label("shot1.mp4"),
        _label("shot2.mp4"),
        _label("shot1_alt_take.mp4"),
        "street_plate.mov · v1 · Plate",
    }

    # The incoming shot first, then the outgoing one; then the incoming one moves down: cut order.
    chosen = picker.locator("[data-picker-chosen] > li .picker-label")
    picker.get_by_role("button", name=f"Add {_label('shot2.mp4')}").click()
    picker.get_by_role("button", name=f"Add {_label('shot1.mp4')}").click()
    assert chosen.all_inner_texts() == [_label("shot2.mp4"), _label("shot1.mp4")]
    picker.get_by_role("button", name=f"Move {_label('shot2.mp4')} down").click()
    assert chosen.all_inner_texts() == [_label("shot1.mp4"), _label("shot2.mp4")]
    hidden = page.locator("input[type=hidden][name='input-media']")
    assert [hidden.nth(i).get_attribute("value") for i in range(hidden.count())] == [
        str(ids["shot1.mp4"]),
        str(ids["shot2.mp4"]),
    ]

    page.get_by_role("button", name="Start run").click()
    page.wait_for_url(re.compile(r"/runs/\d+/$"))
    run_id = int(re.search(r"/runs/(\d+)/$", page.url).group(1))
    page.locator(TERMINAL).wait_for(timeout=RUN_TIMEOUT_MS)  # the page reloads itself when the run ends
    run = _run(portal_server, run_id)
    assert run["status"] == "succeeded", run["error"]
    assert [i["version"] for i in run["inputs"]] == [ids["shot1.mp4"], ids["shot2.mp4"]]

    # The run page: succeeded, with the findings file and the printable report among its outputs.
    head = page.locator(".page-head")
    assert head.get_attribute("data-run-status-now") == "succeeded"
    outputs = page.locator("section[aria-labelledby='outputs-heading'] tbody tr")
    assert outputs.count() == len(run["outputs"])
    names = " | ".join(outputs.all_inner_texts())
    assert "Continuity findings" in names and "Printable continuity report" in names
    assert ["findings", "report", "application/json"] in run["outputs"]
    summary = run["report"]["summary"]
    assert summary["measured_findings"] == 2 and summary["model_findings"] == 0
    page.locator("summary", has_text="Full report (JSON)").click()
    assert summary["text"] in page.locator(".run-report").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "continuity-run-page.png"), full_page=True)

    # Exactly the two breaks, on the incoming shot at its first frame, with boxes where the truth is.
    notes = run["notes"]
    assert [(n["type"], n["version"], n["frame"]) for n in notes] == [
        ("costume", ids["shot2.mp4"], 0),
        ("prop", ids["shot2.mp4"], 0),
    ]
    for note in notes:
        assert note["run"] == run_id and note["author"] is None and note["state"] == "open"
        assert 0.5 <= note["confidence"] <= 1.0
        [shape] = note["shapes"]
        assert shape["type"] == "rect"
    truth = scene["truth"]
    assert synth.box_overlap(_box(notes[0]["shapes"][0]), truth["jacket"][1]) > 0.3
    assert synth.box_overlap(_box(notes[1]["shapes"][0]), truth["prop"][1]) > 0.3

    # From the run page to the incoming shot's review room, through the links a person would follow.
    page.locator("section[aria-labelledby='inputs-heading']").get_by_role("link", name="shot2.mp4 v1").click()
    page.locator("[data-open-review]").first.click()
    page.wait_for_url(re.compile(rf"/review/{ids['shot2.mp4']}/$"))
    page.wait_for_selector("[data-review][data-media-ready='true']")
    page.wait_for_selector("[data-review][data-notes-loaded]")
    findings = page.locator("[data-findings-list] > .note-machine")
    findings.first.wait_for()
    assert findings.count() == 2
    assert page.locator("[data-findings-count]").inner_text() == "2"
    assert page.locator("[data-notes-list] > .note").count() == 0  # apart from people's notes
    for kind in ("costume", "prop"):
        badges = findings.filter(has=page.locator(".note-badges", has_text=kind)).locator(".note-badges")
        assert badges.count() == 1, kind
        text = badges.inner_text()
        assert "Machine-made" in text and "Open" in text and "drawing" in text and "confidence" in text
        assert f"tool run #{run_id}" in findings.filter(has=page.locator(".note-badges", has_text=kind)).inner_text()

    # Both boxes are drawn on frame 0, where the player stands; a finding's button goes there.
    layer = page.locator("[data-draw-layer]")
    page.wait_for_function("() => document.querySelector('[data-draw-layer]').dataset.shapes === '2'")
    findings.first.get_by_role("button", name=re.compile("Go to frame 0")).click()
    page.wait_for_function("() => document.querySelector('[data-review]').dataset.state === 'paused'")
    assert page.locator("[data-frame-number]").inner_text() == "0"
    assert layer.get_attribute("data-shapes") == "2"
    for note in notes:
        (x0, y0), (x1, y1) = note["shapes"][0]["points"]
        assert page.evaluate(BOX_PAINTED, [x0, y0, x1, y1]) > 0.9, note["type"]
    assert page.evaluate(BOX_PAINTED, [0.02, 0.02, 0.12, 0.12]) < 0.1  # and not just everywhere
    page.screenshot(path=str(ARTIFACTS / "continuity-review-machine-notes.png"), full_page=True)
    assert errors == []
