"""Nothing unverified ships unseen: a recap whose narration has unverified sentences cannot be approved or
exported until a producer signs each one off (for its exact words, audited by name); a contradicted
sentence cannot be signed off; the run page and the API say what blocks the recap and, when the cut is
shorter than its target, by how much and why."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError

from portal.audit.models import AuditEvent
from portal.review import services as review
from portal.toolruns import recap
from portal.toolruns.models import RecapSignoff
from tests.toolruns.recap_reports import SENTENCES, make_recap_run, sentence

pytestmark = pytest.mark.django_db


def urls(run):
    base = f"/api/v1/projects/{run.project.pk}/toolruns/{run.pk}"
    return f"{base}/signoff/", f"{base}/narration/"


def decisions_url(version):
    return f"/api/v1/projects/{version.asset.project.pk}/versions/{version.pk}/decisions/"


def page(client, run) -> tuple[dict, str]:
    project = run.project
    response = client.get(f"/s/{project.studio.slug}/p/{project.code}/runs/{run.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    marker = '<script id="recap-data" type="application/json">'
    start = html.index(marker) + len(marker)
    return json.loads(html[start : html.index("</script>", start)]), html


def test_unsigned_unverified_sentence_blocks_approval_until_a_producer_signs_it_off(world, api_for, client_for):
    producer, director = world.a.users["producer"], world.a.users["director"]
    run = make_recap_run(world.a.project, actor=director)
    video = run.outputs.get(name="recap").version
    srt = run.outputs.get(name="narration").version

    state = recap.signoff_state(run)
    assert state["pending"] == ["s2"] and state["unverified"] == 1 and not state["approvable"]
    assert "1 unverified narration sentence is not signed off" in state["message"]

    # Approval is refused, in the service and through the API, for every output of the run.
    with pytest.raises(ValidationError) as caught:
        review.decision_create(actor=producer, version=video, verdict="approved")
    assert "not signed off" in str(caught.value)
    answer = api_for(producer).post(decisions_url(srt), {"verdict": "approved"}, format="json")
    assert answer.status_code == 400 and "not signed off" in json.dumps(answer.json())
    assert not review.is_released(video)
    project = world.a.project
    download = f"/s/{project.studio.slug}/p/{project.code}/download/{video.pk}/"
    assert client_for(producer).get(download).status_code == 403  # not exported either
    # Asking for changes is not blocked: only approval is.
    review.decision_create(actor=producer, version=video, verdict="changes_requested", note="check s2")

    signoff_url, narration_url = urls(run)
    # A director may read the narration, not sign it off.
    assert api_for(director).get(narration_url).status_code == 200
    s2 = SENTENCES[1]
    body = {"sentence": "s2", "text_sha256": s2["text_sha256"]}
    assert api_for(director).post(signoff_url, body, format="json").status_code == 403
    assert not RecapSignoff.objects.exists()

    answer = api_for(producer).post(signoff_url, body, format="json")
    assert answer.status_code == 201, answer.content
    data = answer.json()
    assert data["gate"]["approvable"] is True and data["gate"]["pending"] == [] and data["gate"]["signed"] == 1
    signed = next(s for s in data["sentences"] if s["id"] == "s2")
    assert signed["signoff"]["by"] == producer.display_name and signed["signoff"]["email"] == producer.email

    event = AuditEvent.objects.filter(action="toolrun.recap_signoff").get()
    assert event.actor == producer
    assert event.details["signed_by"] == producer.display_name and event.details["sentence"] == "s2"
    assert event.details["text"] == s2["text"] and event.details["failed_claims"] == ["the museum"]

    decision = review.decision_create(actor=producer, version=video, verdict="approved")
    assert decision.verdict == "approved"
    response = client_for(producer).get(download)
    assert response.status_code == 200 and b"".join(response.streaming_content) == b"orig"
    answer = api_for(producer).post(decisions_url(srt), {"verdict": "approved"}, format="json")
    assert answer.status_code == 201, answer.content


def test_signoff_refuses_what_it_cannot_vouch_for(world, api_for):
    producer = world.a.users["producer"]
    run = make_recap_run(world.a.project, actor=world.a.users["director"])
    signoff_url, _ = urls(run)
    api = api_for(producer)

    def post(sentence_id, sha):
        return api.post(signoff_url, {"sentence": sentence_id, "text_sha256": sha}, format="json")

    # Other words than the ones read: stale.
    stale = post("s2", "0" * 64)
    assert stale.status_code == 409 and "changed since you read it" in stale.json()["detail"]
    # A verified sentence has nothing to sign off; a contradicted one is never shipped.
    assert "nothing to sign off" in json.dumps(post("s1", SENTENCES[0]["text_sha256"]).json())
    answer = post("s3", SENTENCES[2]["text_sha256"])
    assert answer.status_code == 400 and "edit it instead" in json.dumps(answer.json())
    assert "no sentence s9" in json.dumps(post("s9", "a" * 64).json())
    assert post("s2; drop", "a" * 64).status_code == 400
    assert not RecapSignoff.objects.exists()
    # Twice is once.
    assert post("s2", SENTENCES[1]["text_sha256"]).status_code == 201
    again = post("s2", SENTENCES[1]["text_sha256"])
    assert again.status_code == 409 and producer.display_name in again.json()["detail"]
    assert RecapSignoff.objects.count() == 1
    # Someone from another studio does not even see the run.
    outsider = api_for(world.b.users["producer"]).post(
        signoff_url, {"sentence": "s2", "text_sha256": SENTENCES[1]["text_sha256"]}, format="json"
    )
    assert outsider.status_code == 404


def test_a_signoff_is_for_the_exact_words(world):
    """A sign-off stored for other words (the sentence was edited in a new report) does not count."""
    producer = world.a.users["producer"]
    run = make_recap_run(world.a.project, actor=producer)
    recap.signoff(actor=producer, run=run, sentence="s2", text_sha256=SENTENCES[1]["text_sha256"])
    assert recap.signoff_state(run)["approvable"]
    changed = sentence(2, "Someone plans to rob the bank on Friday.", "unverified", SENTENCES[1]["citations"])
    run.report["narration"]["sentences"][1] = changed
    run.save(update_fields=["report"])
    state = recap.signoff_state(run)
    assert state["pending"] == ["s2"] and not state["approvable"]


def test_a_recap_without_unverified_sentences_is_approved_as_before(world):
    producer = world.a.users["producer"]
    run = make_recap_run(world.a.project, actor=producer, sentences=[SENTENCES[0], SENTENCES[2]])
    assert recap.signoff_state(run)["approvable"]
    video = run.outputs.get(name="recap").version
    assert review.decision_create(actor=producer, version=video, verdict="approved").verdict == "approved"
    assert review.is_released(video)


def test_run_page_shows_the_gate_the_lines_and_the_shortfall(world, client_for, api_for):
    shortfall = {
        "duration_seconds": 3.8,
        "target_seconds": 30.0,
        "missing_seconds": 26.2,
        "moments": 2,
        "moments_left": 0,
        "message": "3.8 s of 30 s: only 2 usable moments in the episodes, all of them in the cut.",
    }
    run = make_recap_run(world.a.project, actor=world.a.users["director"], shortfall=shortfall)

    data, html = page(client_for(world.a.users["producer"]), run)
    assert 'data-can-sign="1"' in html
    assert data["gate"]["pending"] == ["s2"] and "not signed off" in data["gate"]["message"]
    assert data["shortfall"]["message"].startswith("3.8 s of 30 s")
    assert "3.8 s of 30 s: only 2 usable moments" in html  # said in the page itself, not only in its data
    s2 = next(s for s in data["sentences"] if s["id"] == "s2")
    assert s2["verdict"] == "unverified" and s2["claims"][0]["reason"] == "“museum” is not in the cited lines"
    assert s2["citations"][0]["speaker"] == "JONAS" and s2["citations"][0]["text"].startswith("Someone is planning")
    assert data["narration"]["verdicts"] == {"verified": 1, "unverified": 1, "contradicted": 1}
    assert "repaired" not in html

    _, html = page(client_for(world.a.users["director"]), run)
    assert 'data-can-sign=""' in html

    _, narration_url = urls(run)
    answer = api_for(world.a.users["viewer"]).get(narration_url).json()
    assert answer["shortfall"]["missing_seconds"] == 26.2 and answer["gate"]["approvable"] is False


def test_old_reports_map_to_the_new_verdicts():
    """Runs from before claim-level verification: "repaired" and "flagged" need a person, "rejected" never ships."""
    old = {"narration": {"sentences": [{"text": t, "verdict": v} for t, v in
                                        (("a", "ok"), ("b", "repaired"), ("c", "flagged"), ("d", "rejected"))]}}  # fmt: skip
    found = recap.sentences_of(old)
    assert [s["verdict"] for s in found] == ["verified", "unverified", "unverified", "contradicted"]
    assert [s["id"] for s in found] == ["s1", "s2", "s3", "s4"]
    assert found[0]["text_sha256"] == recap.text_sha256("a")
