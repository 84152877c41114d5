"""Issue 17's browser "done when" for output sets: a producer approves a crowd run's output set on the
run page in one action, then downloads its layer (an output that is not the comp) and gets exactly
the bytes whose SHA-256 the set's decision recorded.

The run is seeded through the models and footage's storage (a finished crowd run whose four outputs,
comp, comp proxy, layer and matte, are small real clips made with ffmpeg's lavfi), not by running the
tool: the set, the gate and the download are what this test is about."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from tests.browser_support import sign_in
from tests.toolruns.conftest import render_clip

pytestmark = [pytest.mark.browser]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"  # git-ignored: screenshots to look at
PROJECT = "SET_B1"

SEED = """
import json
from django.contrib.auth import get_user_model
from portal.projects import services as project_services
from portal.studios.models import Studio
from tests.toolruns.output_set_support import make_crowd_run

User = get_user_model()
studio = Studio.objects.get(slug="demo")
admin = User.objects.get(email="admin@demo.test")
project = project_services.project_create(actor=admin, studio=studio, code=%(code)r, name="Output set done when")
for email, role in (("artist@demo.test", "artist"), ("producer@demo.test", "producer")):
    project_services.project_member_add(actor=admin, project=project, user=User.objects.get(email=email), role=role)
run = make_crowd_run(project, actor=User.objects.get(email="artist@demo.test"), files=json.loads(%(files)r))
print(json.dumps({"run": run.pk, "members": {o.name: {"version": o.version_id, "sha256": o.version.sha256}
                                            for o in run.outputs.select_related("version")}}))
"""

DECIDED = """
import json
from portal.audit.models import AuditEvent
from portal.footage.models import AssetVersion
from portal.review.models import DecisionSet
decided = DecisionSet.objects.get(key="toolrun:%(run)d")
layer = AssetVersion.objects.get(pk=%(layer)d)
print(json.dumps({
    "verdict": decided.verdict, "by": decided.decided_by.email, "members": decided.members,
    "layer": {"released_sha256": layer.released_sha256, "approved_sha256": layer.approved_sha256},
    "audited": AuditEvent.objects.filter(action="review.set_decision.approved").count(),
}))
"""


@pytest.fixture(scope="module")
def seeded(portal_server, tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("output-set")
    files = {
        name: str(render_clip(folder / f"{name}.mp4", f"testsrc2=size=160x90:rate=25:duration=2,hue=h={index * 60}"))
        for index, name in enumerate(("comp", "comp_proxy", "layer", "matte"))
    }
    out = portal_server.manage("shell", "-c", SEED % {"code": PROJECT, "files": json.dumps(files)})
    return json.loads(out.strip().splitlines()[-1])


def test_a_producer_approves_the_output_set_and_downloads_its_layer(portal_server, new_page, seeded, tmp_path):
    run_page = portal_server.url(f"/s/demo/p/{PROJECT}/runs/{seeded['run']}/")
    layer = seeded["members"]["layer"]
    download = portal_server.url(f"/s/demo/p/{PROJECT}/download/{layer['version']}/")

    page = new_page()
    sign_in(page, portal_server, "producer@demo.test")
    page.goto(run_page)
    block = page.locator("[data-output-set]")
    assert block.get_attribute("data-set-state") == "pending"
    rows = block.locator("[data-set-member]")
    assert sorted(rows.evaluate_all("rows => rows.map(r => r.dataset.setMember)")) == ["comp", "comp_proxy", "layer", "matte"]
    assert block.locator("[data-set-download]").count() == 0
    # the gate holds before the decision: the layer's original cannot leave
    assert page.request.get(download).status == 403

    block.get_by_role("button", name="Approve all outputs").click()
    page.wait_for_selector("[data-output-set][data-set-state='approved']")
    assert re.search(r"All 4 outputs of .+ are approved", page.locator(".messages").inner_text())
    rows = page.locator("[data-output-set] [data-set-member]")
    assert set(rows.evaluate_all("rows => rows.map(r => r.dataset.memberState)")) == {"approved"}
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "output-set-approved.png"), full_page=True)

    # the layer (not the comp) downloads from the set's own link: the exact bytes the decision recorded
    link = page.locator("[data-set-download='layer']")
    with page.expect_download() as info:
        link.click()
    saved = tmp_path / "layer.bin"
    info.value.save_as(saved)
    digest = hashlib.sha256(saved.read_bytes()).hexdigest()
    assert digest == layer["sha256"]
    response = page.request.get(download)
    assert response.status == 200 and response.headers["x-content-sha256"] == layer["sha256"]
    assert hashlib.sha256(response.body()).hexdigest() == layer["sha256"]

    decided = json.loads(
        portal_server.manage("shell", "-c", DECIDED % {"run": seeded["run"], "layer": layer["version"]}).strip().splitlines()[-1]
    )
    assert decided["verdict"] == "approved" and decided["by"] == "producer@demo.test" and decided["audited"] == 1
    assert {m["version"]: m["sha256"] for m in decided["members"]} == {
        m["version"]: m["sha256"] for m in seeded["members"].values()
    }
    assert decided["layer"] == {"released_sha256": layer["sha256"], "approved_sha256": layer["sha256"]}
