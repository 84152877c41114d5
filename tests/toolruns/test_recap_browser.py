"""The recap's "done when" from the portal, in a real browser: two generated episodes with subtitles,
a recap run, its page with the timeline of thumbnails, the narration with cited lines on hover and
the player; a director removes, adds, reorders and trims moments, rewrites a sentence, renders again, and
the new run (from the cached analysis) shows the reviewer's cut."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.browser_support import sign_in
from tests.studio_tools.recap_media import make_episode

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PROJECT = "RECAP_S1"

SEED = """
import json, os, time
from pathlib import Path
from django.conf import settings
from django.contrib.auth import get_user_model
from portal.projects import services as project_services
from portal.studios.models import Studio
from portal.toolruns import services
from tests.footage.helpers import make_ready_version
from tests.toolruns.conftest import store_real_file

os.environ.pop("ANTHROPIC_API_KEY", None)
User = get_user_model()
studio = Studio.objects.get(slug="demo")
admin = User.objects.get(email="admin@demo.test")
project = project_services.project_create(actor=admin, studio=studio, code=%(code)r, name="Recap editing")
director = User.objects.get(email="director@demo.test")
project_services.project_member_add(actor=admin, project=project, user=director, role="director")
viewer = User.objects.get(email="viewer@demo.test")
project_services.project_member_add(actor=admin, project=project, user=viewer, role="viewer")
ids = []
for path, kind in json.loads(%(files)r):
    version = make_ready_version(project, uploader=director, kind=kind, name=Path(path).name)
    ids.append(store_real_file(version, Path(path)).pk)
run = services.toolrun_create(actor=director, project=project, tool="recap",
                              params={"target_seconds": 60}, input_version_ids={"media": ids})
if settings.EMBEDDED:  # the worker lives in the server process; this shell runs the job itself
    run = services.toolrun_execute(run.pk)
else:  # a real worker process picks the run up
    deadline = time.monotonic() + 600
    while run.status in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.5)
        run.refresh_from_db()
print(json.dumps({"run": run.pk, "status": run.status, "error": run.error}))
"""

RUN = """
import json
from portal.toolruns.models import ToolRun
run = ToolRun.objects.get(pk=%(run)d)
print(json.dumps({"status": run.status, "error": run.error, "metrics": run.metrics, "report": run.report,
                  "params": run.params}))
"""


def _run(portal_server, run_id: int) -> dict:
    return json.loads(portal_server.manage("shell", "-c", RUN % {"run": run_id}).strip().splitlines()[-1])


@pytest.fixture(scope="module")
def recap_run(portal_server, tmp_path_factory) -> int:
    folder = tmp_path_factory.mktemp("recap-browser")
    files = []
    for i in range(2):
        video, subtitles = make_episode(folder, i, seconds=45.0)
        files += [(str(video), "footage"), (str(subtitles), "subtitles")]
    out = portal_server.manage("shell", "-c", SEED % {"code": PROJECT, "files": json.dumps(files)})
    seeded = json.loads(out.strip().splitlines()[-1])
    assert seeded["status"] == "succeeded", seeded["error"]
    return seeded["run"]


def test_recap_page_edit_and_render_again(portal_server, new_page, recap_run):
    first = _run(portal_server, recap_run)
    report = first["report"]
    assert abs(report["render"]["duration_seconds"] - 60.0) <= 1.0  # the "within 1 s of 60 s"

    page = new_page()
    sign_in(page, portal_server, "director@demo.test")
    page.goto(portal_server.url(f"/s/demo/p/{PROJECT}/runs/{recap_run}/"))
    section = page.locator("[data-recap]")
    timeline = section.locator("[data-recap-moments] > li")
    assert timeline.count() == len(report["moments"]) >= 2

    # Thumbnails come from the run's sheet, and the picture loads.
    thumb = timeline.first.locator(".recap-thumb")
    assert "moments" in thumb.evaluate("e => getComputedStyle(e).backgroundImage")
    loaded = page.evaluate(
        """url => new Promise(ok => { const i = new Image(); i.onload = () => ok([i.naturalWidth, i.naturalHeight]);
            i.onerror = () => ok(null); i.src = url; })""",
        json.loads(page.locator("#recap-data").text_content())["thumbnails"]["url"],
    )
    sheet = report["thumbnails"]
    assert loaded == [sheet["columns"] * sheet["tile_width"], sheet["rows"] * sheet["tile_height"]]
    first_moment = report["moments"][0]
    assert f"EP{first_moment['episode']:02d}" in timeline.first.inner_text()

    # The player plays the labelled proxy, with the verified sentences as captions.
    video = section.locator("video[data-recap-video]")
    page.wait_for_function("() => document.querySelector('video[data-recap-video]').readyState >= 1")
    assert abs(video.evaluate("v => v.duration") - report["render"]["duration_seconds"]) < 0.5
    assert video.evaluate("v => v.textTracks.length") == 1

    # Hovering a sentence shows the subtitle lines it cites.
    sentence = section.locator("[data-recap-sentences] > li").first
    popover = sentence.locator(".recap-citations")
    assert not popover.is_visible()
    sentence.hover()
    assert popover.is_visible()
    cited = report["narration"]["sentences"][0]["citations"][0]
    assert cited["text"] in popover.inner_text() and cited["id"] in popover.inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "recap-run-page.png"), full_page=True)

    # Edit: remove the second moment, add a suggested one, move the last one first, rewrite a sentence.
    render = section.get_by_role("button", name="Render again")
    assert render.is_disabled()
    timeline.nth(1).locator("[data-remove-moment]").click()
    section.locator("[data-recap-suggestions-box] > summary").click()
    suggestions = section.locator("[data-recap-suggestions] > li")
    assert suggestions.count() >= 2  # the removed moment is offered back, with the tool's suggestions
    suggestions.first.locator("[data-add-moment]").click()
    count = timeline.count()
    for _ in range(count - 1):  # walk the last card to the front with its "earlier" button
        timeline.nth(timeline.count() - 1 if _ == 0 else count - 1 - _).locator("[data-move-earlier]").click()
    # Trim the card now first: its end 1 s earlier (two steps), its start 0.5 s later.
    before = timeline.first.get_attribute("data-moment").split(":")
    timeline.first.locator("[data-end-earlier]").click()
    timeline.first.locator("[data-end-earlier]").click()
    timeline.first.locator("[data-start-later]").click()
    after = timeline.first.get_attribute("data-moment").split(":")
    assert after[0] == before[0]
    assert abs(float(after[1]) - (float(before[1]) + 0.5)) < 1e-6 and abs(float(after[2]) - (float(before[2]) - 1.0)) < 1e-6
    assert "trimmed from" in timeline.first.inner_text()
    expected = json.loads(
        page.evaluate(
            "() => JSON.stringify([...document.querySelectorAll('[data-recap-moments] > li')].map(li => li.dataset.moment))"
        )
    )
    sentence.locator("[data-edit-sentence]").click()
    section.locator("[data-sentence-input]").fill("The vault opens in 1987.")
    section.locator("[data-save-sentence]").click()
    assert "to verify" in section.locator("[data-recap-sentences] > li").first.inner_text()
    assert "Edited:" in section.locator("[data-recap-summary]").inner_text()
    assert render.is_enabled()
    render.click()

    page.wait_for_url(lambda url: re.search(r"/runs/(\d+)/$", url) and f"/runs/{recap_run}/" not in url)
    new_id = int(re.search(r"/runs/(\d+)/$", page.url).group(1))
    assert new_id != recap_run
    page.locator("[data-recap]").wait_for(timeout=120_000)  # the page reloads when the run ends
    new = _run(portal_server, new_id)
    assert new["status"] == "succeeded", new["error"]
    assert new["metrics"]["decoded_frames"] == 0 and new["metrics"]["analysis_cache_hits"] == 2
    got = [f"{m['episode']}:{m['start']:.3f}:{m['end']:.3f}" for m in new["report"]["moments"]]
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):  # snapped to frames, so within a frame of the cards
        ea, sa, xa = a.split(":")
        eb, sb, xb = b.split(":")
        assert ea == eb and abs(float(sa) - float(sb)) < 0.05 and abs(float(xa) - float(xb)) < 0.05
    assert "Reviewer" in page.locator("#recap-heading").inner_text()
    first_sentence = page.locator("[data-recap-sentences] > li").first
    # The edited sentence was verified again: an invented year is never "verified"; it is shown beside its lines.
    assert first_sentence.get_attribute("data-verdict") in ("unverified", "contradicted")
    assert "1987" in first_sentence.inner_text() and first_sentence.locator(".recap-citations").is_visible()
    page.screenshot(path=str(ARTIFACTS / "recap-rerendered.png"), full_page=True)


def test_a_viewer_sees_the_recap_but_no_editor(portal_server, new_page, recap_run):
    page = new_page()
    sign_in(page, portal_server, "viewer@demo.test")
    page.goto(portal_server.url(f"/s/demo/p/{PROJECT}/runs/{recap_run}/"))
    section = page.locator("[data-recap]")
    assert section.locator("[data-recap-moments] > li").count() >= 2
    assert section.get_by_role("button", name="Render again").count() == 0
    assert section.locator("[data-remove-moment]").count() == 0
