"""The issue's "done when", in a real browser against a real server: a user starts a tool, a second
user on the project watches the progress bar move live, the output arrives as a generated asset with
its provenance. The session's portal server (tests/browser_support.py), which lists the test tool
`sleeper` too: embedded, the worker inside the server process; services mode, a fresh PostgreSQL
database, Redis and a separate `celery worker -Q default,tools` process. The test has a project of its
own, so no other browser test's runs are in its list."""

from __future__ import annotations

import re
import time

import pytest

from tests.browser_support import sign_in
from tests.toolruns.conftest import render_clip

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PROJECT = "LIVE_T1"
TOOLS_PAGE = f"/s/demo/p/{PROJECT}/tools/"

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
project = project_services.project_create(actor=admin, studio=studio, code=%(project)r, name="Live tools")
artist = User.objects.get(email="artist@demo.test")
project_services.project_member_add(actor=admin, project=project, user=artist, role="artist")
project_services.project_member_add(actor=admin, project=project, user=User.objects.get(email="viewer@demo.test"), role="viewer")
version = make_ready_version(project, uploader=artist, name="demo_clip.mp4")
store_real_file(version, Path(%(clip)r))
print(version.pk)
"""


@pytest.fixture(scope="module")
def server(portal_server, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("toolruns-browser")
    clip = render_clip(tmp / "demo_clip.mp4", "testsrc2=size=320x180:rate=25:duration=4")
    portal_server.manage("shell", "-c", MAKE_CLIP % {"project": PROJECT, "clip": str(clip)})
    return portal_server.base_url, portal_server.log_path


class Portal:
    def __init__(self, base_url: str):
        self.base_url = base_url

    def url(self, path: str) -> str:
        return self.base_url + path


def pick_clip(page) -> None:
    picker = page.get_by_label("Clip")
    picker.select_option(picker.locator("option", has_text="demo_clip.mp4").get_attribute("value"))


def _watch_errors(page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    return errors


def test_a_second_user_watches_a_run_live_and_sees_its_output_and_provenance(server, new_page):  # noqa: F811
    base_url, log_path = server
    portal = Portal(base_url)
    watcher = new_page()
    watcher_errors = _watch_errors(watcher)
    sign_in(watcher, portal, "viewer@demo.test")
    watcher.goto(portal.url(TOOLS_PAGE))
    assert watcher.get_by_text("No tool has been run in this project yet.").is_visible()
    assert watcher.get_by_role("button", name="Start a run").count() == 0  # viewers watch, they do not start

    artist = new_page()
    artist_errors = _watch_errors(artist)
    sign_in(artist, portal, "artist@demo.test")
    artist.goto(portal.url(TOOLS_PAGE))
    artist.locator("article", has_text="Sleeper (test tool)").get_by_role("button", name="Start a run").click()
    pick_clip(artist)
    artist.get_by_label("Steps").fill("120")
    artist.get_by_label("Step seconds").fill("0.05")
    artist.get_by_role("button", name="Start run").click()
    artist.wait_for_url(re.compile(r"/runs/\d+/$"))
    run_id = re.search(r"/runs/(\d+)/$", artist.url).group(1)

    # the watcher's list gets the new run without a reload, and its bar moves
    row = watcher.locator(f'tr[data-run-id="{run_id}"]')
    row.wait_for(timeout=15000)
    bar = row.locator("progress[data-run-progress]")
    seen = set()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(seen) < 3:
        value = float(bar.get_attribute("value") or 0)
        if 0 < value < 1:
            seen.add(round(value, 2))
        time.sleep(0.2)
    assert len(seen) >= 3, f"the progress bar did not move live: {seen}\n{log_path.read_text()[-3000:]}"
    assert re.search(r"left", row.inner_text()), "time left is shown"
    watcher.locator(f'tr[data-run-id="{run_id}"] [data-run-status="succeeded"]').wait_for(timeout=30000)

    # the run page, which the artist has open, reloads itself on completion and shows the output
    artist.get_by_text("Succeeded").first.wait_for(timeout=15000)
    assert artist.get_by_role("heading", name="Outputs").is_visible()
    assert artist.get_by_text("sleepy-1 (none)").is_visible()  # provenance: the model the tool reported
    artist.get_by_role("region", name="Outputs").get_by_role("link", name="Sleeper result").click()
    artist.wait_for_load_state("networkidle")
    assert artist.get_by_text("Generated").first.is_visible()

    # and the real demo tool, end to end, with its picture as a generated asset
    artist.goto(portal.url(TOOLS_PAGE))
    artist.locator("article", has_text="Contact sheet").get_by_role("button", name="Start a run").click()
    pick_clip(artist)
    artist.get_by_role("button", name="Start run").click()
    artist.wait_for_url(re.compile(r"/runs/\d+/$"))
    artist.get_by_text("Succeeded").first.wait_for(timeout=30000)
    artist.get_by_role("region", name="Outputs").get_by_role("link", name=re.compile("Contact sheet of demo_clip.mp4")).click()
    artist.wait_for_load_state("networkidle")
    image = artist.locator("img.player")
    image.wait_for(timeout=10000)
    assert artist.evaluate("(img) => img.naturalWidth", image.element_handle()) > 0

    assert watcher_errors == [] and artist_errors == []
