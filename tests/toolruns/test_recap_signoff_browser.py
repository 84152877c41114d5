"""Issue 14's browser "done when": a producer sees an unverified narration sentence beside the subtitle
lines it cites, with the claim that could not be checked; cannot approve the recap before signing it
off; signs it off; approves; and the audit log names who signed what. The recap's report follows the
verifier's contract (a hand-written one: the sentence verdicts are the verifier's business, the gate is
the portal's); its video output is a real clip whose proxy carries the "NOT APPROVED" burn-in."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.browser_support import sign_in
from tests.studio_tools.recap_media import make_episode

pytestmark = [pytest.mark.browser]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PROJECT = "RECAP_SIGN"

SEED = """
import json
from pathlib import Path
from django.contrib.auth import get_user_model
from portal.footage import services as footage_services
from portal.projects import services as project_services
from portal.studios.models import Studio
from studio_tools.media import probe
from tests.toolruns.conftest import store_real_file
from tests.toolruns.recap_reports import make_recap_run

User = get_user_model()
studio = Studio.objects.get(slug="demo")
admin = User.objects.get(email="admin@demo.test")
project = project_services.project_create(actor=admin, studio=studio, code=%(code)r, name="Recap sign-off")
for email, role in (("director@demo.test", "director"), ("producer@demo.test", "producer")):
    project_services.project_member_add(actor=admin, project=project, user=User.objects.get(email=email), role=role)
director = User.objects.get(email="director@demo.test")
run = make_recap_run(project, actor=director)
video = run.outputs.get(name="recap").version
store_real_file(video, Path(%(clip)r))
video.media_info = probe(%(clip)r).to_dict()
video.original_name = "recap.mp4"
video.save(update_fields=["media_info", "original_name"])
video = footage_services.version_rederive(version_id=video.pk)
print(json.dumps({"run": run.pk, "video": video.pk, "proxy": video.media_info.get("proxy")}))
"""

AUDIT = """
import json
from portal.audit.models import AuditEvent
print(json.dumps([{"actor": e.actor.email if e.actor else None, "details": e.details}
                  for e in AuditEvent.objects.filter(action="toolrun.recap_signoff")]))
"""


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


@pytest.fixture(scope="module")
def seeded(portal_server, tmp_path_factory) -> dict:
    clip, _ = make_episode(tmp_path_factory.mktemp("recap-signoff"), 0, seconds=4.0)
    out = portal_server.manage("shell", "-c", SEED % {"code": PROJECT, "clip": str(clip)})
    return json.loads(out.strip().splitlines()[-1])


def test_producer_signs_off_an_unverified_sentence_before_approving_the_recap(portal_server, new_page, seeded):
    # The recap's proxy is watchable only with the "NOT APPROVED" label burned into every frame.
    assert "a label is burned into every frame" in seeded["proxy"]["encode_reasons"]
    run_page = portal_server.url(f"/s/demo/p/{PROJECT}/runs/{seeded['run']}/")
    review_page = portal_server.url(f"/s/demo/p/{PROJECT}/review/{seeded['video']}/")

    # A director reads the judged sentences but has no sign-off button.
    director = new_page()
    sign_in(director, portal_server, "director@demo.test")
    director.goto(run_page)
    director.locator("[data-sentence-id='s2']").wait_for()
    assert director.locator("[data-sign-off]").count() == 0

    page = new_page()
    sign_in(page, portal_server, "producer@demo.test")
    page.goto(run_page)
    gate = page.locator("[data-recap-gate]")
    assert "1 unverified narration sentence is not signed off" in gate.inner_text()

    # The unverified sentence sits beside its cited line (speaker apart), with the claim that failed.
    unverified = page.locator("[data-sentence-id='s2']")
    assert unverified.get_attribute("data-verdict") == "unverified"
    lines = unverified.locator(".recap-citations")
    assert lines.is_visible()  # side by side, not only on hover
    assert "JONAS:" in lines.inner_text() and "Someone is planning to rob it on Friday." in lines.inner_text()
    box_sentence = unverified.locator(".recap-sentence-text").bounding_box()
    box_lines = lines.bounding_box()
    assert box_lines["x"] > box_sentence["x"] + box_sentence["width"] / 2  # to its right
    assert "“museum” is not in the cited lines" in unverified.locator("[data-claims]").inner_text()
    # The contradicted one is held back and cannot be signed off; the verified one needs nothing.
    contradicted = page.locator("[data-sentence-id='s3']")
    assert "never shipped" in contradicted.inner_text() and contradicted.locator("[data-sign-off]").count() == 0
    assert page.locator("[data-sentence-id='s1'] [data-sign-off]").count() == 0
    assert "repaired" not in page.locator("[data-recap]").inner_text().lower()
    _shot(page, "recap-signoff-before.png")

    # Approving the recap before signing it off is refused, with the reason, on the review page.
    page.goto(review_page)
    page.get_by_role("button", name="Approve").click()
    page.locator("[data-decision-error]", has_text="not signed off").wait_for()
    assert page.locator("[data-approval-state]").inner_text() == "Pending review"

    # Sign it off on the run page.
    page.goto(run_page)
    page.locator("[data-sentence-id='s2']").get_by_role("button", name=re.compile("Sign off")).click()
    signed = page.locator("[data-sentence-id='s2'] [data-signed]")
    signed.wait_for()
    assert signed.inner_text().startswith("Signed off by Paula Producer")
    assert "can be approved" in gate.inner_text()
    assert page.locator("[data-sentence-id='s2'] [data-sign-off]").count() == 0
    page.reload()
    assert page.locator("[data-sentence-id='s2'] [data-signed]").inner_text().startswith("Signed off by Paula Producer")
    _shot(page, "recap-signoff-after.png")

    # Now the approval goes through.
    page.goto(review_page)
    page.get_by_role("button", name="Approve").click()
    page.locator("[data-approval-state]", has_text="Approved").wait_for()

    # The audit log names who signed what: in the studio's audit page and in the events themselves.
    events = json.loads(portal_server.manage("shell", "-c", AUDIT).strip().splitlines()[-1])
    assert len(events) == 1 and events[0]["actor"] == "producer@demo.test"
    assert events[0]["details"]["signed_by"] == "Paula Producer" and events[0]["details"]["sentence"] == "s2"
    assert events[0]["details"]["text"] == "Someone plans to rob the museum on Friday."
    admin = new_page()
    sign_in(admin, portal_server, "admin@demo.test")
    admin.goto(portal_server.url("/s/demo/audit/?action=toolrun.recap_signoff"))
    row = admin.locator("table.audit-table tbody tr").first
    text = row.inner_text()
    assert "producer@demo.test" in text and "toolrun.recap_signoff" in text and "Paula Producer" in text
    assert "Someone plans to rob the museum on Friday." in text
