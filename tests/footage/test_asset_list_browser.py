"""The asset list on a tablet (768 x 1024, Debian's Chromium through Playwright, the shared real
portal): the table fits its box (nothing to scroll sideways, the page neither), and the filters work
from the page: a shot code typed in the search box leaves only the rows of that shot, a group link
only that group's rows, a run's outputs stay under their run.

The rows live in a project of their own in the demo studio, so the other browser tests' projects
are left as they expect them; they are stand-ins (tests/footage/listing_helpers.py), with long
names as tool outputs have them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.browser_support import sign_in

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"  # git-ignored: screenshots to look at
PROJECT = "LIST_T1"

SEED = """
import json
from django.contrib.auth import get_user_model
from portal.projects import services as project_services
from portal.studios.models import Studio
from portal.toolruns.models import ToolRunOutput
from tests.footage.listing_helpers import RECAP_OUTPUTS, finished_run, rejected_upload, upload

User = get_user_model()
studio = Studio.objects.get(slug="demo")
admin = User.objects.get(email="admin@demo.test")
project = project_services.project_create(actor=admin, studio=studio, code=%(code)r, name="Asset list on a tablet")
producer = User.objects.get(email="producer@demo.test")
project_services.project_member_add(actor=admin, project=project, user=producer, role="producer")
upload(project, uploader=producer, name="harbour_plate_final_grade_v003_with_a_long_name_for_the_tablet.mov",
       kind="plate", shot_code="012_0040")
upload(project, uploader=producer, name="street_market_wide.mov", shot_code="013_0010")
upload(project, uploader=producer, name="street_market_close.mov", shot_code="013_0020")
rejected_upload(project, uploader=producer, name="not_really_a_movie.mov", shot_code="012_0040")
crowd = finished_run(project, actor=producer, tool="crowd", shot_code="012_0040")
for output in ToolRunOutput.objects.filter(run=crowd).select_related("version__asset"):
    asset = output.version.asset
    asset.name = "Comp: the plate with the added crowd (ProRes 422 HQ) " + output.name
    asset.save()
finished_run(project, actor=producer, tool="recap", outputs=RECAP_OUTPUTS, shot_code="014_0100")
print(json.dumps({"crowd": crowd.pk}))
"""

# Widths the browser works out: the table's box against what its content needs, and the page's.
WIDTHS = """() => {
  const box = document.querySelector("[data-asset-table]");
  return {box: box.clientWidth, needed: box.scrollWidth, page: document.documentElement.scrollWidth,
          viewport: window.innerWidth, right: box.getBoundingClientRect().right};
}"""


@pytest.fixture(scope="module")
def seeded(portal_server) -> dict:
    out = portal_server.manage("shell", "-c", SEED % {"code": PROJECT})
    return json.loads(out.strip().splitlines()[-1])


def _screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#footage").screenshot(path=str(ARTIFACTS / name))


def _fits(page) -> None:
    widths = page.evaluate(WIDTHS)
    assert widths["needed"] <= widths["box"], f"the asset table is wider than its box: {widths}"
    assert widths["page"] <= widths["viewport"] and widths["right"] <= widths["viewport"], f"the page scrolls sideways: {widths}"


def _shot_codes(page) -> list[str]:
    return page.locator("[data-asset-table] tr[data-asset-id] [data-shot-code]").all_inner_texts()


def test_the_asset_list_fits_a_tablet_and_filters_by_shot_code(portal_server, new_page, seeded):
    page = new_page()
    page.set_viewport_size({"width": 768, "height": 1024})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, portal_server, "producer@demo.test")
    page.goto(portal_server.url(f"/s/demo/p/{PROJECT}/"))
    rows = page.locator("[data-asset-table] tr[data-asset-id]")
    assert rows.count() == 10  # the project page shows the 10 latest of the 12 assets; the pager has the rest
    assert page.get_by_role("navigation", name="Pages of the asset list").is_visible()
    _fits(page)
    # what the hidden columns held is under the name instead
    assert page.locator("[data-asset-table] th", has_text="Frame rate").is_hidden()
    assert "25 fps" in rows.filter(has_text="Comp: the plate").first.inner_text()
    crowd = page.locator(f"tbody.run-group[data-run-id='{seeded['crowd']}']")
    assert re.search(r"Crowd extension run #\d+ · 3 outputs", crowd.locator("tr.run-head").inner_text())
    _screenshot(page, "asset-list-tablet.png")

    # a shot code typed in the search box: only that shot's rows, the crowd run's outputs still together
    search = page.get_by_label("Name or shot code")
    search.fill("012_0040")
    search.press("Enter")
    page.wait_for_url(re.compile(r"[?&]q=012_0040"))
    assert set(_shot_codes(page)) == {"012_0040"} and rows.count() == 5
    assert crowd.locator("tr[data-asset-id]").count() == 3
    assert page.get_by_label("Name or shot code").input_value() == "012_0040"
    _fits(page)

    # a group keeps the search: the rejected upload of that shot alone
    page.locator("[data-asset-group='rejected']").click()
    page.wait_for_url(re.compile(r"group=rejected"))
    assert rows.count() == 1 and "not_really_a_movie.mov" in rows.inner_text()
    # the search cleared, the same group: every rejected row of the project (there is one)
    page.get_by_label("Name or shot code").fill("")
    page.get_by_label("Name or shot code").press("Enter")
    page.wait_for_url(re.compile(r"group=rejected"))
    assert rows.count() == 1

    # edit lists, at the tablet width too
    page.locator("[data-asset-group='edit_lists']").click()
    page.wait_for_url(re.compile(r"group=edit_lists"))
    assert rows.count() == 3 and set(_shot_codes(page)) == {"014_0100"}
    _fits(page)
    _screenshot(page, "asset-list-tablet-edit-lists.png")
    assert not errors, errors
