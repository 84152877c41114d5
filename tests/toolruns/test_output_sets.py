"""A run's outputs as one set for approval (issue 17, item 2): a producer approves, rejects or asks
for changes on every output in one decision, each member's SHA-256 recorded and stamped on its
version row, so the download gate reads it unchanged; a member that changes later is pending again
alone; a blocked member (a recap's unsigned narration) refuses the whole set, naming it; a member
that changed since the producer looked is a 409; a wrong role is refused and audited."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext

from portal.audit.models import AuditEvent
from portal.core.errors import Conflict
from portal.footage.models import AssetVersion
from portal.review.models import ContentCredential, Decision, DecisionSet
from portal.toolruns import output_sets
from portal.toolruns.models import ToolRun
from tests.audit.conftest import IS_POSTGRES
from tests.review.c2pa_support import make_platform_certificate
from tests.toolruns.output_set_support import add_newer_version, make_crowd_run, store_bytes
from tests.toolruns.recap_reports import make_recap_run
from tests.toolruns.test_french_walk import english_in, visible_text

# these tests count what rendering costs: every request renders (no kept page copy)
pytestmark = pytest.mark.usefixtures("no_page_cache")


@pytest.fixture(autouse=True)
def _no_rederive(monkeypatch):
    # Approval also re-makes each member's review copies (tested in tests/review): not these tests' subject.
    from portal.jobs import engine

    real = engine.enqueue
    monkeypatch.setattr(engine, "enqueue", lambda kind, object_id: None if kind == "rederive" else real(kind, object_id))


@pytest.fixture
def run(world):
    return make_crowd_run(world.a.project, actor=world.a.users["artist"])


def members(run) -> dict[str, AssetVersion]:
    return {o.name: AssetVersion.objects.select_related("asset").get(pk=o.version_id) for o in run.outputs.all()}


def expected_of(run) -> dict[int, str]:
    return {v.pk: v.sha256 for v in members(run).values()}


def download(client, world, version):
    return client.get(f"/s/{world.a.studio.slug}/p/{world.a.project.code}/download/{version.pk}/")


def set_url(world, run) -> str:
    return f"/api/v1/projects/{world.a.project.pk}/toolruns/{run.pk}/set/"


def page_url(world, run, suffix: str = "") -> str:
    return f"/s/{world.a.studio.slug}/p/{world.a.project.code}/runs/{run.pk}/{suffix}"


# --- the service ------------------------------------------------------------------------------


def test_one_approval_releases_every_output_with_each_sha256_recorded(world, run, client_for):
    producer = world.a.users["producer"]
    before = members(run)
    audit_before = AuditEvent.objects.count()

    decided = output_sets.run_set_decide(actor=producer, run=run, verdict="approved", expected=expected_of(run))

    assert decided.key == f"toolrun:{run.pk}" and decided.verdict == "approved" and decided.decided_by == producer
    assert {(m["name"], m["version"], m["sha256"]) for m in decided.members} == {
        (o.label, o.version_id, before[o.name].sha256) for o in run.outputs.all()
    }
    decisions = Decision.objects.filter(decision_set=decided)
    assert {(d.version_id, d.sha256, d.verdict) for d in decisions} == {(v.pk, v.sha256, "approved") for v in before.values()}
    for name, version in members(run).items():
        assert version.approval_state == "approved" and version.approved_sha256 == before[name].sha256, name
        assert version.released_file == (version.file_key, version.sha256), name
        # each member's content credentials started as for one approval (no certificate here: unsigned)
        assert ContentCredential.objects.get(version=version).status == ContentCredential.Status.UNSIGNED
    # one audit row per member, then the set's own, in one transaction
    rows = list(AuditEvent.objects.order_by("pk")[audit_before:])
    assert [r.action for r in rows] == ["review.decision.approved"] * 4 + ["review.set_decision.approved"]
    assert {r.details["set"] for r in rows[:4]} == {decided.pk}
    assert rows[4].details["members"] == decided.members and rows[4].target_id == str(decided.pk)

    view = output_sets.output_set(ToolRun.objects.get(pk=run.pk))
    assert view["state"] == "approved" and all(m["released"] and m["download_url"] for m in view["members"])
    layer = members(run)["layer"]
    response = download(client_for(world.a.users["artist"]), world, layer)
    assert response.status_code == 200 and response["X-Content-SHA256"] == layer.sha256


def test_with_a_certificate_each_members_signing_starts(
    world, run, client_for, settings, tmp_path, monkeypatch, django_capture_on_commit_callbacks
):
    paths = make_platform_certificate(tmp_path)
    settings.C2PA_SIGN_CERT, settings.C2PA_SIGN_KEY = str(paths["cert"]), str(paths["key"])
    sent = []
    monkeypatch.setattr("portal.jobs.send_task", lambda name, args=(), **options: sent.append((name, args)))
    with django_capture_on_commit_callbacks(execute=True):
        output_sets.run_set_decide(actor=world.a.users["producer"], run=run, verdict="approved")
    credentials = ContentCredential.objects.filter(version__in=members(run).values())
    assert credentials.count() == 4 and {c.status for c in credentials} == {ContentCredential.Status.PENDING}
    assert sorted(sent) == sorted(("review.sign_credentials", (c.pk,)) for c in credentials)
    # nothing leaves before its credentials are settled: the member says it is being signed
    layer = members(run)["layer"]
    assert layer.release_hold == "signing"
    response = download(client_for(world.a.users["artist"]), world, layer)
    assert response.status_code == 403 and b"being signed" in response.content


def test_a_member_that_changes_later_is_pending_again_alone(world, run, client_for):
    producer = world.a.users["producer"]
    output_sets.run_set_decide(actor=producer, run=run, verdict="approved")
    artist = client_for(world.a.users["artist"])

    # other bytes for the layer (a re-ingest): its approval does not carry over; the others keep theirs
    layer = store_bytes(members(run)["layer"], b"other bytes for the layer")
    view = output_sets.output_set(ToolRun.objects.get(pk=run.pk))
    states = {m["name"]: m["state"] for m in view["members"]}
    assert states == {"comp": "approved", "comp_proxy": "approved", "layer": "pending", "matte": "approved"}
    assert view["state"] == "partly_approved"
    assert download(artist, world, layer).status_code == 403
    assert download(artist, world, members(run)["comp"]).status_code == 200

    # a newer version of the matte (a later run's output of that name): that output awaits its own approval
    matte = members(run)["matte"]
    newer = add_newer_version(matte)
    view = output_sets.output_set(ToolRun.objects.get(pk=run.pk))
    matte_row = next(m for m in view["members"] if m["name"] == "matte")
    assert matte_row["state"] == "superseded" and matte_row["newer"] == {"version": newer.pk, "number": 2}
    assert not view["decidable"]
    assert download(artist, world, matte).status_code == 200  # v1's own approval stands
    with pytest.raises(Conflict) as refused:
        output_sets.run_set_decide(actor=producer, run=run, verdict="approved")
    assert refused.value.code == "stale" and "v2 exists" in refused.value.message and "Matte" in refused.value.message


def test_a_blocked_member_refuses_the_whole_set_and_names_it(world):
    producer = world.a.users["producer"]
    recap = make_recap_run(world.a.project, actor=world.a.users["director"])
    rows_before, decisions_before = AuditEvent.objects.count(), Decision.objects.count()

    with pytest.raises(ValidationError) as refused:
        output_sets.run_set_decide(actor=producer, run=recap, verdict="approved")
    message = " ".join(refused.value.message_dict["verdict"])
    assert "The set cannot be approved" in message and "unverified narration sentence" in message
    assert "“recap”" in message or "“narration”" in message  # the member is named
    # nothing written: no decision, no set, no stamp, no audit row
    assert Decision.objects.count() == decisions_before and not DecisionSet.objects.exists()
    assert AuditEvent.objects.count() == rows_before
    assert {v.approval_state for v in members(recap).values()} == {"pending"}

    # a rejection is never blocked
    output_sets.run_set_decide(actor=producer, run=recap, verdict="rejected", note="The narration invents a museum.")
    assert {v.approval_state for v in members(recap).values()} == {"rejected"}


def test_a_member_changed_since_the_producer_looked_is_a_conflict_and_nothing_is_written(world, run):
    producer = world.a.users["producer"]
    seen = expected_of(run)
    store_bytes(members(run)["comp"], b"the comp, rendered again")
    with pytest.raises(Conflict) as refused:
        output_sets.run_set_decide(actor=producer, run=run, verdict="approved", expected=seen)
    assert refused.value.code == "stale" and "Comp" in refused.value.message
    assert not Decision.objects.exists() and not DecisionSet.objects.exists()
    assert {v.approval_state for v in members(run).values()} == {"pending"}
    # a member the producer did not see at all is stale too
    partial = {pk: sha for pk, sha in expected_of(run).items() if pk != members(run)["matte"].pk}
    with pytest.raises(Conflict):
        output_sets.run_set_decide(actor=producer, run=run, verdict="approved", expected=partial)


def test_rejecting_or_asking_for_changes_needs_a_note_and_closes_the_gate(world, run, client_for):
    producer = world.a.users["producer"]
    with pytest.raises(ValidationError) as refused:
        output_sets.run_set_decide(actor=producer, run=run, verdict="rejected", note="  ")
    assert "note" in refused.value.message_dict
    output_sets.run_set_decide(actor=producer, run=run, verdict="approved")
    output_sets.run_set_decide(actor=producer, run=run, verdict="changes_requested", note="The crowd walks through a car.")
    assert {v.approval_state for v in members(run).values()} == {"changes_requested"}
    assert download(client_for(producer), world, members(run)["layer"]).status_code == 403
    assert output_sets.output_set(ToolRun.objects.get(pk=run.pk))["state"] == "changes_requested"


def test_only_a_producer_of_the_project_decides_and_refusals_are_audited(world, run):
    for role in ("director", "artist", "viewer"):
        user = world.a.users[role]
        denials = AuditEvent.objects.filter(action="access.denied", actor=user).count()
        with pytest.raises(PermissionDenied):
            output_sets.run_set_decide(actor=user, run=run, verdict="approved")
        assert AuditEvent.objects.filter(action="access.denied", actor=user).count() == denials + 1
    outsider = world.b.users["producer"]
    with pytest.raises(Http404):
        output_sets.run_set_decide(actor=outsider, run=run, verdict="approved")
    denial = AuditEvent.objects.filter(action="access.denied", actor=outsider).latest("pk")
    assert denial.details["answered"] == 404
    assert not Decision.objects.exists()


def test_a_run_that_has_not_succeeded_has_no_set_to_decide(world):
    queued = make_crowd_run(world.a.project, actor=world.a.users["artist"], status=ToolRun.Status.RUNNING)
    with pytest.raises(Conflict) as refused:
        output_sets.run_set_decide(actor=world.a.users["producer"], run=queued, verdict="approved")
    assert refused.value.code == "not_finished"
    assert not output_sets.output_set(queued)["decidable"]


# --- the API ----------------------------------------------------------------------------------


def test_the_api_lists_the_set_and_approves_it(world, run, api_for):
    viewer, producer = api_for(world.a.users["viewer"]), api_for(world.a.users["producer"])
    body = viewer.get(set_url(world, run)).json()
    assert body["state"] == "pending" and body["decidable"] and body["key"] == f"toolrun:{run.pk}"
    assert [m["name"] for m in body["members"]] == ["comp", "comp_proxy", "layer", "matte"]
    layer = next(m for m in body["members"] if m["name"] == "layer")
    assert layer["state"] == "pending" and not layer["released"] and layer["download"] is None
    assert layer["sha256"] == members(run)["layer"].sha256 and layer["number"] == 1 and layer["newer"] is None

    expected = {str(m["version"]): m["sha256"] for m in body["members"]}
    response = producer.post(set_url(world, run), {"verdict": "approved", "expected": expected}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["state"] == "approved" and len(body["decisions"]) == 1
    assert body["decisions"][0]["decided_by"] == world.a.users["producer"].email
    assert {m["sha256"] for m in body["decisions"][0]["members"]} == set(expected.values())
    layer = next(m for m in body["members"] if m["name"] == "layer")
    assert layer["released"] and layer["download"].endswith(f"/download/{layer['version']}/")
    # each member's own decision list says it came with the set
    history = viewer.get(f"/api/v1/projects/{world.a.project.pk}/versions/{layer['version']}/decisions/").json()
    assert history["state"] == "approved" and history["results"][0]["set"] == body["decisions"][0]["id"]


def test_the_api_answers_409_when_stale_400_for_bad_input_and_403_for_a_director(world, run, api_for):
    producer = api_for(world.a.users["producer"])
    seen = {str(pk): sha for pk, sha in expected_of(run).items()}
    store_bytes(members(run)["matte"], b"a matte rendered again")
    response = producer.post(set_url(world, run), {"verdict": "approved", "expected": seen}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "stale"
    assert "Matte" in response.json()["detail"]

    response = producer.post(set_url(world, run), {"verdict": "rejected"}, format="json")
    assert response.status_code == 400 and "note" in response.json()
    response = producer.post(set_url(world, run), {"verdict": "approved", "expected": {"999999": "0" * 64}}, format="json")
    assert response.status_code == 400 and "expected" in response.json()
    response = producer.post(set_url(world, run), {"verdict": "maybe"}, format="json")
    assert response.status_code == 400 and "verdict" in response.json()
    assert not Decision.objects.exists()

    director = world.a.users["director"]
    denials = AuditEvent.objects.filter(action="access.denied", actor=director).count()
    response = api_for(director).post(set_url(world, run), {"verdict": "approved"}, format="json")
    assert response.status_code == 403
    assert AuditEvent.objects.filter(action="access.denied", actor=director).count() == denials + 1
    assert api_for(world.b.users["producer"]).get(set_url(world, run)).status_code == 404


def test_the_api_blocked_set_says_which_member_and_why(world, api_for):
    recap = make_recap_run(world.a.project, actor=world.a.users["director"])
    response = api_for(world.a.users["producer"]).post(set_url(world, recap), {"verdict": "approved"}, format="json")
    assert response.status_code == 400
    assert "unverified narration sentence" in response.json()["detail"] and "“recap" in response.json()["detail"]


def test_reading_the_set_asks_no_query_per_member(world, api_for):
    api = api_for(world.a.users["viewer"])
    small = make_crowd_run(world.a.project, actor=world.a.users["artist"], outputs=["comp"])
    large = make_crowd_run(world.a.project, actor=world.a.users["artist"])
    counts = []
    for run in (small, large):
        with CaptureQueriesContext(connection) as queries:
            assert api.get(set_url(world, run)).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


def test_the_schema_documents_the_set_endpoint_and_its_errors():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    path = schema["paths"]["/api/v1/projects/{project_pk}/toolruns/{run_pk}/set/"]
    assert {"200", "401", "403", "404"} <= set(path["get"]["responses"])
    assert {"201", "400", "401", "403", "404", "409", "415"} <= set(path["post"]["responses"])


# --- the pages --------------------------------------------------------------------------------


def test_the_run_page_approves_all_outputs_for_a_producer(world, run, client_for):
    producer = client_for(world.a.users["producer"])
    page = producer.get(page_url(world, run)).content.decode()
    assert "Approve all outputs" in page and "data-set-form" in page
    form = {"verdict": "approved", **{f"expected-{pk}": sha for pk, sha in expected_of(run).items()}}
    response = producer.post(page_url(world, run, "set/"), form)
    assert response.status_code == 302 and response["Location"].endswith(f"/runs/{run.pk}/#output-set")
    page = producer.get(page_url(world, run)).content.decode()
    assert "All 4 outputs of Crowd extension run" in page or "All 4 outputs of" in page
    assert 'data-set-state="approved"' in page and 'data-set-download="layer"' in page

    # the review page of a member says it belongs to the set and links to it
    layer = members(run)["layer"]
    review = producer.get(f"/s/{world.a.studio.slug}/p/{world.a.project.code}/review/{layer.pk}/").content.decode()
    assert "data-output-set-note" in review and f"/runs/{run.pk}/#output-set" in review
    assert "data-decided-with-set" in review  # its decision history says the decision came with the set


def test_the_run_page_shows_a_refusal_in_place_and_keeps_the_note(world, run, client_for):
    producer = client_for(world.a.users["producer"])
    seen = expected_of(run)
    store_bytes(members(run)["comp"], b"the comp, rendered again")
    form = {
        "verdict": "changes_requested",
        "note": "Fewer people on the left.",
        **{f"expected-{pk}": s for pk, s in seen.items()},
    }
    response = producer.post(page_url(world, run, "set/"), form)
    assert response.status_code == 409
    page = response.content.decode()
    assert "data-set-error" in page and "changed since you opened this set" in page and "Fewer people on the left." in page
    response = producer.post(
        page_url(world, run, "set/"), {"verdict": "rejected", **{f"expected-{pk}": s for pk, s in expected_of(run).items()}}
    )
    assert response.status_code == 400 and "a note is required" in response.content.decode()
    assert not Decision.objects.exists()


def test_the_run_page_says_what_holds_the_set_back_and_refuses_it_whole(world, client_for):
    recap = make_recap_run(world.a.project, actor=world.a.users["director"])
    producer = client_for(world.a.users["producer"])
    page = producer.get(page_url(world, recap)).content.decode()
    assert "data-set-blockers" in page and "unverified narration sentence" in page
    hidden = {f"expected-{pk}": sha for pk, sha in expected_of(recap).items()}
    response = producer.post(page_url(world, recap, "set/"), {"verdict": "approved", **hidden})
    assert response.status_code == 400
    page = response.content.decode()
    assert "data-set-error" in page and "The set cannot be approved" in page
    assert not Decision.objects.exists()


def test_others_see_the_state_but_no_form_and_a_director_cannot_post(world, run, client_for):
    director = client_for(world.a.users["director"])
    page = director.get(page_url(world, run)).content.decode()
    assert 'data-set-state="pending"' in page and "data-set-form" not in page
    assert director.post(page_url(world, run, "set/"), {"verdict": "approved"}).status_code == 403


def test_the_set_block_is_french_in_a_french_session(world, run, client_for):
    producer = client_for(world.a.users["producer"])
    page = producer.get(page_url(world, run), HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Approuver tous les résultats" in page and "Ensemble des résultats" in page
    assert english_in(visible_text(page)) == []
    response = producer.post(page_url(world, run, "set/"), {"verdict": "rejected"}, HTTP_ACCEPT_LANGUAGE="fr")
    assert response.status_code == 400 and "une note est obligatoire" in response.content.decode()
    output_sets.run_set_decide(actor=world.a.users["producer"], run=run, verdict="approved")
    page = producer.get(page_url(world, run), HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Télécharger" in page and "Décisions sur l’ensemble" in page and english_in(visible_text(page)) == []
    layer = members(run)["layer"]
    review = producer.get(f"/s/{world.a.studio.slug}/p/{world.a.project.code}/review/{layer.pk}/", HTTP_ACCEPT_LANGUAGE="fr")
    assert "fait partie de l’ensemble des résultats" in review.content.decode()
    assert "avec l’ensemble des résultats de l’exécution" in review.content.decode()
    assert english_in(visible_text(review.content.decode())) == []


# --- concurrency ------------------------------------------------------------------------------

if IS_POSTGRES:

    @pytest.mark.django_db(transaction=True)
    def test_concurrent_set_decisions_never_interleave_their_members(world):
        """Three producers' decisions on one set at once: each is one transaction over all members (locked
        in one order), so every member ends with the verdict of the same, last, decision."""
        import threading

        from portal.audit.services import chain_for
        from portal.audit.verify import verify_chain

        run = make_crowd_run(world.a.project, actor=world.a.users["artist"])
        producer = world.a.users["producer"]
        verdicts = [("approved", ""), ("rejected", "No."), ("changes_requested", "Fewer people."), ("approved", "")]
        barrier = threading.Barrier(len(verdicts))
        errors: list[BaseException] = []

        def decide(verdict: str, note: str) -> None:
            try:
                barrier.wait(timeout=10)
                output_sets.run_set_decide(actor=producer, run=ToolRun.objects.get(pk=run.pk), verdict=verdict, note=note)
            except BaseException as exc:  # noqa: BLE001 - surfaced by the assert below
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=decide, args=pair) for pair in verdicts]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == []
        assert DecisionSet.objects.filter(key=f"toolrun:{run.pk}").count() == len(verdicts)
        last = {Decision.objects.filter(version=v).latest("pk").decision_set_id for v in members(run).values()}
        assert len(last) == 1, "the members' latest decisions come from different set decisions"
        final = DecisionSet.objects.get(pk=last.pop())
        assert {v.approval_state for v in members(run).values()} == {final.verdict}
        assert verify_chain(chain_for(world.a.studio.pk)) is None


def test_a_script_downloads_the_approved_layer_with_its_api_token(world, run, api_for, client):
    """The set's `download` links work for a script with an API token, not only a signed-in browser:
    the approved bytes; before approval, the reason; a bad token, 401; another studio's token, 404."""
    import hashlib

    from portal.accounts.services import api_token_create

    _token, raw = api_token_create(user=world.a.users["producer"], name="compositing script")
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    layer = members(run)["layer"]
    path = f"/s/{world.a.studio.slug}/p/{world.a.project.code}/download/{layer.pk}/"

    refused = client.get(path, **bearer)
    assert refused.status_code == 403 and "awaiting approval" in refused.content.decode().lower()

    api_for(world.a.users["producer"]).post(
        set_url(world, run), {"verdict": "approved", "expected": {str(k): v for k, v in expected_of(run).items()}}, format="json"
    )
    body = api_for(world.a.users["viewer"]).get(set_url(world, run)).json()
    link = next(m for m in body["members"] if m["name"] == "layer")["download"]
    response = client.get(link, **bearer)
    assert response.status_code == 200, response.content[:300]
    data = b"".join(response.streaming_content) if response.streaming else response.content
    assert hashlib.sha256(data).hexdigest() == layer.sha256 == response["X-Content-SHA256"]
    assert AuditEvent.objects.filter(action="footage.download", actor=world.a.users["producer"]).exists()

    bad = client.get(link, HTTP_AUTHORIZATION="Bearer psp_not-a-token")
    assert bad.status_code == 401 and "Invalid, expired or revoked" in bad.content.decode()
    _other, other_raw = api_token_create(user=world.b.users["producer"], name="other studio")
    assert client.get(link, HTTP_AUTHORIZATION=f"Bearer {other_raw}").status_code == 404
    # without a token, a page as before: the sign-in page
    assert client.get(link).status_code == 302
