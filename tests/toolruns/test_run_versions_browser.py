"""Runs as versions, the issue's "done when", in a real browser against the session's portal server: an
artist runs the contact sheet on a clip, presses "Run again" on the finished run (the form comes back
filled in, as a new version of that run), changes the grid and starts it; the second run's output is v2
of the first one's asset, and its review offers v1 to compare with: the wipe shows both pictures. The
test has a project of its own."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.browser_support import sign_in
from tests.toolruns.conftest import render_clip

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PROJECT = "VERS_B1"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"  # git-ignored: screenshots to look at
RUN_TIMEOUT_MS = 120_000  # a shared, slow machine: generous, never asserted as a duration

MAKE_CLIP = """
from pathlib import Path
from django.contrib.auth import get_user_model
from portal.projects import services as project_services
from portal.studios.models import Studio
from tests.footage.helpers import make_ready_version
from tests.toolruns.conftest import store_real_file
User = get_user_model()
admin = User.objects.get(email="admin@demo.test")
studio = Studio.objects.get(slug="demo")
project = project_services.project_create(actor=admin, studio=studio, code=%(project)r, name="Runs as versions")
artist = User.objects.get(email="artist@demo.test")
project_services.project_member_add(actor=admin, project=project, user=artist, role="artist")
version = make_ready_version(project, uploader=artist, name="versions_clip.mp4")
store_real_file(version, Path(%(clip)r))
print(version.pk)
"""


@pytest.fixture(scope="module")
def clip_id(portal_server, tmp_path_factory) -> int:
    clip = render_clip(
        tmp_path_factory.mktemp("versions-browser") / "versions_clip.mp4", "testsrc2=size=320x180:rate=25:duration=2"
    )
    out = portal_server.manage("shell", "-c", MAKE_CLIP % {"project": PROJECT, "clip": str(clip)})
    return int(out.strip().splitlines()[-1])


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def _finished(page) -> None:
    """Wait for the run to succeed (the page follows it live), then draw the finished page."""
    page.locator(".page-head[data-run-status-now='succeeded']").wait_for(timeout=RUN_TIMEOUT_MS)
    page.reload()
    page.locator(".page-head[data-run-status-now='succeeded']").wait_for()


def test_run_again_makes_v2_of_the_output_and_review_wipes_between_v1_and_v2(portal_server, new_page, clip_id):
    page = new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, portal_server, "artist@demo.test")

    # the first run: a 2x2 contact sheet of the clip
    page.goto(portal_server.url(f"/s/demo/p/{PROJECT}/tools/contactsheet/start/"))
    page.get_by_label("Clip").select_option(str(clip_id))
    choice = page.get_by_label("What the outputs become")
    assert choice.locator("option").first.inner_text().startswith("Automatic")
    page.locator("#id-param-columns").fill("2")
    page.locator("#id-param-rows").fill("2")
    page.get_by_role("button", name="Start run").click()
    page.wait_for_url(re.compile(r"/runs/\d+/$"))
    first = int(re.search(r"/runs/(\d+)/$", page.url).group(1))
    _finished(page)

    # "Run again": the same clip and parameters, as new versions of this run; a 3x2 grid this time
    page.get_by_role("button", name="Run again").click()
    page.wait_for_url(re.compile(rf"\?again={first}$"))
    assert page.get_by_label("Clip").input_value() == str(clip_id)
    assert page.locator("#id-param-columns").input_value() == "2"
    assert page.get_by_label("What the outputs become").input_value() == str(first)
    _shot(page, "run-again-form.png")
    page.locator("#id-param-columns").fill("3")
    page.get_by_role("button", name="Start run").click()
    page.wait_for_url(re.compile(r"/runs/\d+/$"))
    second = int(re.search(r"/runs/(\d+)/$", page.url).group(1))
    assert second != first
    _finished(page)
    versions = page.locator("[data-run-versions]")
    _shot(page, "run-new-version.png")
    assert f"New version of run #{first}: outputs are v2 of “Contact sheet of versions_clip.mp4”." in versions.inner_text()

    # review of v2: the compare selector lists v1 (and the source clip); the wipe shows both pictures
    versions.locator("[data-compare-link]").click()
    page.wait_for_url(re.compile(r"/review/\d+/$"))
    assert page.locator(".badges, h1").first.is_visible()
    options = page.locator("[data-compare-select] option")
    labels = [options.nth(i).inner_text().strip() for i in range(options.count())]
    assert labels[0].startswith("v1"), labels
    assert any("versions_clip.mp4" in label for label in labels), labels
    page.get_by_text("Wipe", exact=True).click()
    stage = page.locator("[data-stage]")
    assert stage.get_attribute("data-compare-mode") == "wipe"
    page.wait_for_function(
        "() => { const a = document.querySelector('img[data-media]'), b = document.querySelector('img[data-compare-still]');"
        " return a && b && !b.hidden && a.complete && b.complete && a.naturalWidth > 0 && b.naturalWidth > 0; }",
        timeout=15000,
    )
    sizes = page.evaluate(
        "() => ['img[data-media]', 'img[data-compare-still]'].map((s) => document.querySelector(s).naturalWidth)"
    )
    assert sizes[0] > sizes[1] > 0, sizes  # v2 is three thumbnails wide, v1 two: two different pictures
    assert page.locator("[data-compare-box]").is_visible() and page.locator("[data-wipe-line]").is_visible()
    assert page.locator("[data-compare-label]").inner_text() == "B · v1"
    page.get_by_label("Wipe position").fill("30")
    assert stage.evaluate("s => s.style.getPropertyValue('--wipe')") == "30%"
    _shot(page, "review-wipe-v1-v2.png")
    assert errors == []
