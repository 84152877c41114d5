"""Events are announced where they happen, to the endpoints that asked for them, on commit."""

from __future__ import annotations

import json

import pytest
from django.db import transaction
from django.urls import reverse

from portal.footage.models import Asset
from portal.review.services import decision_create, note_create
from portal.toolruns.services import toolrun_cancel
from portal.webhooks import services, signing
from portal.webhooks.models import Event, WebhookDelivery
from tests.footage.helpers import make_ready_version
from tests.footage.test_ingest import upload
from tests.toolruns.helpers import start_run

ALL = list(Event.values)


def _endpoint(side, url="https://hooks.example.test/portal", events=ALL):
    endpoint, _secret = services.endpoint_create(actor=side.users["studio_admin"], project=side.project, url=url, events=events)
    return endpoint


@pytest.fixture(autouse=True)
def _resolvable(monkeypatch):
    """hooks.example.test resolves (to a public address) so endpoints can be saved; nothing here is sent."""
    import socket

    from portal.webhooks import net

    real = socket.getaddrinfo

    def fake(host, port, *args, **kwargs):
        if host.endswith(".example.test"):
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(net.socket, "getaddrinfo", fake)


def _payloads(endpoint, event_type=None):
    rows = WebhookDelivery.objects.filter(endpoint=endpoint).order_by("pk")
    if event_type:
        rows = rows.filter(event_type=event_type)
    return [json.loads(d.body) for d in rows]


def test_run_finished_when_a_run_is_cancelled(world, django_capture_on_commit_callbacks):
    endpoint = _endpoint(world.a)
    version = make_ready_version(world.a.project, uploader=world.a.users["artist"])
    with django_capture_on_commit_callbacks(execute=False):
        run = start_run(world.a.project, actor=world.a.users["artist"], version=version)
        assert _payloads(endpoint, "run.finished") == []
        toolrun_cancel(actor=world.a.users["artist"], run=run)
    (payload,) = _payloads(endpoint, "run.finished")
    assert payload["data"]["run"]["id"] == run.pk
    assert payload["data"]["run"]["status"] == "cancelled"
    assert payload["data"]["run"]["tool"] == "contactsheet"
    page = reverse("toolruns:run", kwargs={"studio": world.a.studio.slug, "project": world.a.project.code, "run_id": run.pk})
    assert payload["data"]["run"]["links"]["page"] == "https://portal.example.test" + page


def test_output_approved_and_rejected(world, django_capture_on_commit_callbacks):
    endpoint = _endpoint(world.a)
    producer = world.a.users["producer"]
    plate = make_ready_version(world.a.project, uploader=world.a.users["artist"], kind=Asset.Kind.GENERATED, name="plate.mov")
    with django_capture_on_commit_callbacks(execute=False):
        decision_create(actor=producer, version=plate, verdict="rejected", note="Wrong crowd density")
        decision_create(actor=producer, version=plate, verdict="changes_requested", note="Closer")
        decision_create(actor=producer, version=plate, verdict="approved")
    rejected = _payloads(endpoint, "output.rejected")
    assert [p["data"]["decision"]["verdict"] for p in rejected] == ["rejected", "changes_requested"]
    (approved,) = _payloads(endpoint, "output.approved")
    assert approved["data"]["decision"]["sha256"] == plate.sha256
    assert approved["data"]["decision"]["decided_by"] == producer.email
    assert approved["data"]["version"]["asset"]["kind"] == "generated"
    assert "Wrong crowd density" not in json.dumps(rejected)


def test_a_run_output_set_decision_announces_each_output_with_the_set(world, django_capture_on_commit_callbacks):
    from portal.toolruns.output_sets import run_set_decide
    from tests.toolruns.output_set_support import make_crowd_run

    endpoint = _endpoint(world.a)
    run = make_crowd_run(world.a.project, actor=world.a.users["artist"])
    with django_capture_on_commit_callbacks(execute=False):
        decided = run_set_decide(actor=world.a.users["producer"], run=run, verdict="approved")
    approved = _payloads(endpoint, "output.approved")
    assert sorted(p["data"]["version"]["id"] for p in approved) == sorted(o.version_id for o in run.outputs.all())
    assert {p["data"]["decision"]["set"] for p in approved} == {decided.pk}


def test_asset_ready_after_a_real_upload_and_ingest_reaches_the_receiver(
    world,
    api_for,
    clips,
    receiver,
    eager_celery,
    django_capture_on_commit_callbacks,
):
    r = receiver([200])
    endpoint, secret = services.endpoint_create(
        actor=world.a.users["studio_admin"], project=world.a.project, url=r.url, events=["asset.ready"]
    )
    version = upload(api_for(world.a.users["artist"]), world.a.project, clips["png"], capture=django_capture_on_commit_callbacks)
    assert version.status == "ready"
    (request,) = r.wait_for(1)
    signing.verify(secret, request.headers[signing.SIGNATURE_HEADER], request.body)
    payload = json.loads(request.body)
    assert payload["type"] == "asset.ready"
    assert payload["data"]["version"]["id"] == version.pk
    assert payload["data"]["version"]["sha256"] == version.sha256 and len(version.sha256) == 64
    assert payload["data"]["version"]["asset"]["kind"] == "footage"
    assert WebhookDelivery.objects.get(endpoint=endpoint).state == WebhookDelivery.State.SUCCEEDED


def test_only_subscribed_active_endpoints_of_the_project_get_an_event(world, django_capture_on_commit_callbacks):
    approvals_only = _endpoint(world.a, url="https://a1.example.test/", events=["output.approved"])
    notes = _endpoint(world.a, url="https://a2.example.test/", events=["note.added"])
    disabled = _endpoint(world.a, url="https://a3.example.test/", events=["note.added"])
    services.endpoint_update(actor=world.a.users["studio_admin"], endpoint=disabled, is_active=False)
    other_studio = _endpoint(world.b, url="https://b1.example.test/", events=ALL)
    version = make_ready_version(world.a.project, uploader=world.a.users["artist"])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        note_create(actor=world.a.users["artist"], version=version, frame_start=0, text="hello")
    assert WebhookDelivery.objects.filter(endpoint=notes).count() == 1
    for endpoint in (approvals_only, disabled, other_studio):
        assert not WebhookDelivery.objects.filter(endpoint=endpoint).exists()
    assert len([c for c in callbacks if "send" in getattr(c, "__qualname__", "")]) == 1  # one delivery queued, on commit


def test_a_rolled_back_change_announces_nothing(world):
    endpoint = _endpoint(world.a)
    version = make_ready_version(world.a.project, uploader=world.a.users["artist"])
    with pytest.raises(RuntimeError), transaction.atomic():
        note_create(actor=world.a.users["artist"], version=version, frame_start=0, text="hello")
        raise RuntimeError("the request failed after the note")
    assert not WebhookDelivery.objects.filter(endpoint=endpoint).exists()


def test_a_finished_tool_run_announces_its_outputs_then_its_end(world_tx, clip_version, receiver, eager_celery):
    """The whole path, committed for real: start a contactsheet run (executed at once by the eager
    worker), its output becomes ready, the run succeeds, and the receiver hears both, signed."""
    from portal.toolruns import services as toolruns

    world = world_tx
    r = receiver([200])
    endpoint, secret = services.endpoint_create(
        actor=world.a.users["studio_admin"], project=world.a.project, url=r.url, events=["run.finished", "asset.ready"]
    )
    version = clip_version(world.a.project, world.a.users["artist"])
    run = toolruns.toolrun_create(
        actor=world.a.users["artist"], project=world.a.project, tool="contactsheet", params={}, input_version_ids=[version.pk]
    )
    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    outputs = {o.version_id: o.version.sha256 for o in run.outputs.select_related("version")}
    requests = r.wait_for(len(outputs) + 1)
    for request in requests:
        signing.verify(secret, request.headers[signing.SIGNATURE_HEADER], request.body)
    payloads = [json.loads(request.body) for request in requests]
    assert [p["type"] for p in payloads] == ["asset.ready"] * len(outputs) + ["run.finished"]
    assert {p["data"]["version"]["id"]: p["data"]["version"]["sha256"] for p in payloads[:-1]} == outputs
    finished = payloads[-1]["data"]["run"]
    assert finished["id"] == run.pk and finished["status"] == "succeeded"
    assert {o["version"]: o["sha256"] for o in finished["outputs"]} == outputs
    assert WebhookDelivery.objects.filter(endpoint=endpoint, state="succeeded").count() == len(outputs) + 1
