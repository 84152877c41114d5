"""Executing runs as the worker does: real tools over real stored files, committed for real."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.footage import storage
from portal.footage.models import Asset, AssetVersion
from portal.toolruns import services
from portal.toolruns.models import ToolRun, ToolRunOutput
from tests.toolruns.conftest import sha256_of

pytestmark = pytest.mark.django_db(transaction=True)


def start(world, version, *, tool="contactsheet", params=None, who="artist"):
    return services.toolrun_create(
        actor=world.a.users[who], project=world.a.project, tool=tool, params=params or {}, input_version_ids=[version.pk]
    )


def wait_for(predicate, timeout=15.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def test_contactsheet_runs_end_to_end_and_its_output_is_a_generated_asset(world_tx, clip_version, scratch, events):
    world = world_tx
    clip = clip_version(world.a.project, world.a.users["artist"])
    run = start(world, clip, params={"columns": 2, "rows": 2, "thumb_width": 64})

    run = services.toolrun_execute(run.pk)

    assert run.status == ToolRun.Status.SUCCEEDED, run.error
    assert run.progress == 1.0 and run.attempts == 1 and run.error == ""
    assert run.started_at <= run.finished_at and run.lease_until is None and run.claim_token == ""
    assert run.metrics["frames"] == 4 and run.report["sheet"]["columns"] == 2
    [output] = run.outputs.select_related("version__asset")
    assert (output.name, output.kind, output.media_type) == ("contactsheet", "image", "image/png")
    version = output.version
    assert version.asset.kind == Asset.Kind.GENERATED and version.asset.project == world.a.project
    assert version.status == AssetVersion.Status.READY and version.ready_at is not None
    assert version.asset.name == "Contact sheet of testsrc.mp4"
    # the stored bytes are what the version says, probed like footage, with browser derivatives
    with default_storage.open(version.file_key) as handle:
        stored = handle.read()
    assert stored[:8] == b"\x89PNG\r\n\x1a\n" and len(stored) == version.size
    assert version.sha256 == sha256_of(type(scratch)(default_storage.path(version.file_key)))
    assert version.media_info["kind"] == "still" and version.media_info["video"]["width"] == 128
    assert version.proxy_key and version.poster_key and default_storage.exists(version.poster_key)
    # provenance: tool, version, params, input hashes, model/provider/seed slots, duration
    provenance = version.provenance
    assert provenance["tool"] == "contactsheet" and provenance["tool_version"] == "1.0.0" and provenance["run"] == run.pk
    assert provenance["params"] == {"columns": 2, "rows": 2, "thumb_width": 64, "timecodes": True}
    assert provenance["input_sha256"] == [clip.sha256]
    assert (
        provenance["inputs"][0] | {"sha256": clip.sha256, "version": clip.pk, "asset": clip.asset_id} == provenance["inputs"][0]
    )
    assert provenance["model"] is None and provenance["provider"] is None and provenance["seed"] is None
    assert provenance["duration_seconds"] > 0 and provenance["uses_external_ai"] is False
    assert run.provenance["inputs"][0]["sha256"] == clip.sha256 and run.provenance["outputs"][0]["name"] == "contactsheet"
    # nothing left behind in the scratch space
    assert list(scratch.iterdir()) == []
    # on the record, and told to the project
    rows = AuditEvent.objects.filter(target_type="toolruns.toolrun", target_id=str(run.pk)) | AuditEvent.objects.filter(
        target_type="footage.assetversion", target_id=str(version.pk)
    )
    actions = list(rows.order_by("seq").values_list("action", flat=True))
    assert actions == ["toolrun.start", "toolrun.running", "toolrun.output", "toolrun.succeeded"]
    types = [e["type"] for e in events]
    assert types[0] == "toolrun.queued" and types[1] == "toolrun.started" and types[-1] == "toolrun.finished"
    assert "asset.ready" in types and "toolrun.progress" in types
    progress = [e["progress"] for e in events if e["type"] == "toolrun.progress"]
    assert progress == sorted(progress)
    assert events[-1]["status"] == "succeeded" and events[-1]["progress"] == 1.0


def test_a_redelivered_message_never_runs_a_finished_run_again(world_tx, clip_version):
    world = world_tx
    run = start(world, clip_version(world.a.project, world.a.users["artist"]), tool="sleeper", params={"steps": 2})
    assert services.toolrun_execute(run.pk).status == ToolRun.Status.SUCCEEDED
    assert services.toolrun_execute(run.pk) is None
    run.refresh_from_db()
    assert run.attempts == 1 and run.status == ToolRun.Status.SUCCEEDED
    assert ToolRunOutput.objects.filter(run=run).count() == 1
    assert Asset.objects.filter(kind=Asset.Kind.GENERATED).count() == 1


def test_progress_is_throttled_to_four_events_a_second(world_tx, clip_version, events):
    world = world_tx
    # 150 progress updates in about 1.5 s: the tool reports far faster than pages should hear
    params = {"steps": 150, "step_seconds": 0.01}
    run = start(world, clip_version(world.a.project, world.a.users["artist"]), tool="sleeper", params=params)
    services.toolrun_execute(run.pk)
    stamps = [e["_t"] for e in events if e["type"] == "toolrun.progress"]
    assert len(stamps) >= 3, "pages do hear the progress"
    busiest = max(sum(1 for later in stamps[i:] if later - t < 1.0) for i, t in enumerate(stamps))
    assert busiest <= 4


def test_bad_input_fails_the_run_with_the_tools_message(world_tx, clip_version, scratch):
    world = world_tx
    run = start(world, clip_version(world.a.project, world.a.users["artist"]), tool="sleeper", params={"fail_with": "bad_input"})
    run = services.toolrun_execute(run.pk)
    assert run.status == ToolRun.Status.FAILED
    assert run.error == "testsrc.mp4 has no usable frames (on purpose)"
    assert list(scratch.iterdir()) == []
    assert not ToolRunOutput.objects.exists()
    assert AuditEvent.objects.get(action="toolrun.failed", target_id=str(run.pk)).details["error"] == run.error


def test_a_crash_fails_the_run_with_a_generic_message_and_logs_the_traceback(world_tx, clip_version, scratch, caplog):
    world = world_tx
    run = start(world, clip_version(world.a.project, world.a.users["artist"]), tool="sleeper", params={"fail_with": "crash"})
    with caplog.at_level(logging.ERROR, logger="portal.toolruns.services"):
        run = services.toolrun_execute(run.pk)
    assert run.status == ToolRun.Status.FAILED
    assert run.error == services.GENERIC_FAILURE
    assert "secret" not in run.error and "ZeroDivisionError" not in run.error
    assert any("ZeroDivisionError" in (r.exc_text or "") or r.exc_info for r in caplog.records)
    assert list(scratch.iterdir()) == []


def test_an_input_changed_since_the_start_fails_the_run(world_tx, clip_version, tmp_path):
    world = world_tx
    clip = clip_version(world.a.project, world.a.users["artist"])
    run = start(world, clip, tool="sleeper")
    other = tmp_path / "other.bin"
    other.write_bytes(b"not the same clip")
    storage.save_file(clip.file_key, other)
    run = services.toolrun_execute(run.pk)
    assert run.status == ToolRun.Status.FAILED
    assert run.error == "The input testsrc.mp4 v1 is not the file it was when the run started."


def on_progress(monkeypatch, events, when, action):
    """Call action() once, from inside the run, the first time a progress event satisfies when(event).

    The run executes in the test's own thread here, so
    "meanwhile, someone else..." is played in the worker's own thread at a known point of the run;
    services-mode tests do the same with real processes."""
    done = []
    from portal.live import services as live_services

    recorder = live_services.publish

    def hooked(project_id, event_type, data=None):
        recorder(project_id, event_type, data)
        if not done and event_type == "toolrun.progress" and when(data):
            done.append(time.monotonic())
            action()

    monkeypatch.setattr("portal.toolruns.services.publish", hooked)
    return done


def test_cancel_mid_run_stops_within_seconds_and_cleans_up(world_tx, clip_version, scratch, events, monkeypatch):
    world = world_tx
    params = {"steps": 400, "step_seconds": 0.05}  # 20 s if nobody stops it
    run = start(world, clip_version(world.a.project, world.a.users["artist"]), tool="sleeper", params=params)
    seen_scratch = []

    def cancel():
        seen_scratch.extend(scratch.iterdir())
        services.toolrun_cancel(actor=world.a.users["director"], run=ToolRun.objects.get(pk=run.pk))

    asked = on_progress(monkeypatch, events, lambda e: e["progress"] >= 0.05, cancel)
    run = services.toolrun_execute(run.pk)
    stopped_after = time.monotonic() - asked[0]
    assert run.status == ToolRun.Status.CANCELLED and 0.05 <= run.progress < 0.5
    assert stopped_after < 5
    assert seen_scratch, "the run worked in a temp folder of its own"
    assert list(scratch.iterdir()) == []
    assert not ToolRunOutput.objects.exists() and not Asset.objects.filter(kind=Asset.Kind.GENERATED).exists()
    assert events[-1]["type"] == "toolrun.finished" and events[-1]["status"] == "cancelled"
    assert AuditEvent.objects.filter(action="toolrun.cancelled", target_id=str(run.pk)).count() == 1


def _lapse_lease(run_id):
    ToolRun.objects.filter(pk=run_id).update(lease_until=timezone.now() - timedelta(seconds=1))


def test_a_run_that_crashed_its_worker_three_times_is_failed_not_retried(world_tx, clip_version, events):
    world = world_tx
    run = start(world, clip_version(world.a.project, world.a.users["artist"]), tool="sleeper")
    for attempt in (1, 2, 3):
        # a worker claims the run and dies with it (no clean-up, the lease just lapses)
        claim = services._claim(run.pk)
        assert claim is not None and claim[0].attempts == attempt
        _lapse_lease(run.pk)
    assert services.toolrun_execute(run.pk) is None
    run.refresh_from_db()
    assert run.status == ToolRun.Status.FAILED and run.attempts == 3
    assert run.error.startswith("This run crashed its worker 3 times")
    assert events[-1]["type"] == "toolrun.finished" and events[-1]["status"] == "failed"


def test_a_live_lease_keeps_other_workers_off_the_run(world_tx, clip_version):
    world = world_tx
    run = start(world, clip_version(world.a.project, world.a.users["artist"]), tool="sleeper")
    assert services._claim(run.pk) is not None
    assert services.toolrun_execute(run.pk) is None  # e.g. a message redelivered by the broker
    run.refresh_from_db()
    assert run.status == ToolRun.Status.RUNNING and run.attempts == 1


def test_a_worker_that_lost_its_claim_stops_and_writes_nothing(world_tx, clip_version, events, monkeypatch, scratch):
    world = world_tx
    params = {"steps": 400, "step_seconds": 0.02}
    run = start(world, clip_version(world.a.project, world.a.users["artist"]), tool="sleeper", params=params)
    takeover = []

    def lapse_and_take_over():
        # its lease lapsed (a long pause) and another worker took the run over
        _lapse_lease(run.pk)
        takeover.append(services._claim(run.pk))

    on_progress(monkeypatch, events, lambda e: e["progress"] >= 0.02, lapse_and_take_over)
    assert services.toolrun_execute(run.pk) is None
    run.refresh_from_db()
    assert takeover[0] is not None and takeover[0][0].attempts == 2
    assert run.status == ToolRun.Status.RUNNING and run.claim_token == takeover[0][1]
    assert run.progress < 0.1  # the first worker's later progress never landed
    assert not ToolRunOutput.objects.exists()
    assert list(scratch.iterdir()) == []


def test_the_heartbeat_renews_the_lease_and_notices_a_lost_claim(world_tx, clip_version, settings):
    world = world_tx
    settings.TOOLRUN_LEASE_SECONDS = 1
    run = start(world, clip_version(world.a.project, world.a.users["artist"]), tool="sleeper")
    claimed, token = services._claim(run.pk)
    heartbeat = services._Heartbeat(run.pk, token)
    heartbeat.start()
    time.sleep(1.3)  # the lease alone would have lapsed by now
    heartbeat.stop()
    run.refresh_from_db()
    assert run.lease_until > claimed.lease_until and not heartbeat.lost
    ToolRun.objects.filter(pk=run.pk).update(claim_token="someone-else")
    heartbeat = services._Heartbeat(run.pk, token)
    heartbeat.start()
    time.sleep(0.8)
    heartbeat.stop()
    assert heartbeat.lost


class _WorkerDied(BaseException):
    """Stands in for a SIGKILL: nothing in the service may catch it."""


def test_a_retry_after_a_crash_while_storing_leaves_one_set_of_outputs(world_tx, clip_version, monkeypatch, scratch):
    world = world_tx
    run = start(world, clip_version(world.a.project, world.a.users["artist"]), tool="sleeper", params={"steps": 2})
    real_save = storage.save_file

    def dying_save(key, path):
        real_save(key, path)
        raise _WorkerDied()

    monkeypatch.setattr(storage, "save_file", dying_save)
    with pytest.raises(_WorkerDied):
        services.toolrun_execute(run.pk)
    # the dead attempt left its output rows behind, unfinished
    assert ToolRunOutput.objects.filter(run=run, version__status=AssetVersion.Status.UPLOADING).count() == 1
    assert list(scratch.iterdir()) == []  # the temp folder goes even then

    monkeypatch.setattr(storage, "save_file", real_save)
    _lapse_lease(run.pk)
    run = services.toolrun_execute(run.pk)
    assert run.status == ToolRun.Status.SUCCEEDED and run.attempts == 2
    [output] = ToolRunOutput.objects.filter(run=run)
    assert output.version.status == AssetVersion.Status.READY
    assert Asset.objects.filter(kind=Asset.Kind.GENERATED).count() == 1
    assert AssetVersion.objects.filter(asset__kind=Asset.Kind.GENERATED).count() == 1


def test_outputs_are_unique_per_run_and_name(world_tx, clip_version):
    world = world_tx
    run = services.toolrun_execute(
        start(world, clip_version(world.a.project, world.a.users["artist"]), tool="sleeper", params={"steps": 1}).pk
    )
    existing = run.outputs.get()
    other = AssetVersion.objects.create(asset=existing.version.asset, number=2, status=AssetVersion.Status.READY)
    with pytest.raises(IntegrityError), transaction.atomic():
        ToolRunOutput.objects.create(run=run, name="result", kind="report", media_type="text/plain", version=other)


def test_the_tools_seed_model_and_provider_reach_the_provenance(world_tx, clip_version):
    world = world_tx
    run = start(world, clip_version(world.a.project, world.a.users["artist"]), tool="sleeper", params={"steps": 1, "seed": 42})
    run = services.toolrun_execute(run.pk)
    provenance = run.outputs.get().version.provenance
    assert (provenance["seed"], provenance["model"], provenance["provider"]) == (42, "sleepy-1", "none")
    assert (run.provenance["seed"], run.provenance["model"]) == (42, "sleepy-1")
    assert run.outputs.get().version.media_info == {"kind": "file", "media_type": "text/plain"}
