"""Approving a generated version queues the "rederive" job (its review copies made again without the
"not approved" label); the job's handler, run for real, must not fail. It once did, after every approval,
with `TypeError: unhashable type: 'list'` (the new filmstrip's frame times are a list among the fields it
compared with the old storage keys)."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import pytest
from django.utils import timezone

from portal import jobs
from portal.audit.models import AuditEvent
from portal.footage import services as footage
from portal.footage import storage
from portal.footage.models import AssetVersion
from portal.review import services as review
from portal.toolruns import services as toolruns
from portal.toolruns.models import ToolRun
from tests.factories import build_world
from tests.footage.helpers import make_ready_version
from tests.toolruns.conftest import render_clip, store_real_file


@pytest.fixture
def world_tx(transactional_db):
    """The two-studio world, committed for real (the approval's jobs are queued on commit)."""
    return build_world()


@pytest.fixture
def queued(monkeypatch) -> list[tuple]:
    """(kind, id) of every job enqueued: nothing reaches a broker; the test runs the handler itself."""
    sent: list[tuple] = []
    monkeypatch.setattr(jobs.engine, "enqueue", lambda kind, object_id: sent.append((kind, object_id)))
    return sent


def _approve(world, version: AssetVersion, django_capture_on_commit_callbacks, queued: list[tuple]) -> list[tuple]:
    with django_capture_on_commit_callbacks(execute=True):
        review.decision_create(actor=world.a.users["producer"], version=version, verdict="approved")
    return queued


def _run_queued_rederive(queued: list[tuple], version: AssetVersion, caplog) -> AssetVersion:
    assert ("rederive", version.pk) in queued
    with caplog.at_level(logging.WARNING):
        jobs.run("rederive", version.pk)  # the worker's task body: the registered handler, for real
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [r.getMessage() for r in caplog.records]
    assert AuditEvent.objects.filter(action="footage.rederive", target_id=str(version.pk)).count() == 1
    version.refresh_from_db()
    return version


def test_approving_a_generated_clip_with_sound_and_rederiving_it(
    world_tx, tmp_path, django_capture_on_commit_callbacks, caplog, queued
):
    """A tool's video output (picture and sound), stored through footage's services as a tool run stores
    it: after approval the handler makes a filmstrip (its times a list), a new proxy, poster and waveform."""
    from studio_tools.media import probe

    world = world_tx
    clip = tmp_path / "comp.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=2",
         "-f", "lavfi", "-i", "sine=frequency=440:duration=2", "-c:v", "libx264", "-preset", "ultrafast",
         "-c:a", "aac", "-shortest", str(clip)],
        check=True,
    )  # fmt: skip
    media = probe(clip)
    version = footage.generated_version_create(
        project_id=world.a.project.pk,
        name="crowd comp",
        created_by=world.a.users["artist"],
        original_name="comp.mp4",
        size=clip.stat().st_size,
        media_info=media.to_dict(),
        provenance={"tool": "crowd"},
    )
    fields = footage.generated_version_store(version=version, path=clip, media=media, scratch=tmp_path / "scratch")
    footage.generated_version_ready(version=version, fields=fields, now=timezone.now())
    version.refresh_from_db()
    labelled = (version.proxy_key, version.poster_key)
    assert version.filmstrip_key == "" and version.waveform_key  # no unlabelled thumbnails before approval

    version = _run_queued_rederive(_approve(world, version, django_capture_on_commit_callbacks, queued), version, caplog)
    assert version.filmstrip_key and isinstance(version.filmstrip_times, list) and len(version.filmstrip_times) > 1
    assert version.proxy_key and version.poster_key and version.waveform_key
    for key in (version.proxy_key, version.poster_key, version.filmstrip_key, version.waveform_key):
        assert storage.default_storage.exists(key)
    # the labelled copies were replaced where their keys changed, never left dangling under the new ones
    for key in labelled:
        assert key in (version.proxy_key, version.poster_key) or not storage.default_storage.exists(key)


def test_approving_a_real_contact_sheet_and_rederiving_it(
    world_tx, tmp_path, django_capture_on_commit_callbacks, caplog, settings, queued
):
    """A real tool run (the contact sheet over a lavfi clip) makes a generated picture; approving it and
    running the rederive handler makes its poster and proxy again without the label."""
    settings.FOOTAGE_TEMP_DIR = str(tmp_path / "scratch")
    Path(settings.FOOTAGE_TEMP_DIR).mkdir()
    world = world_tx
    clip = render_clip(tmp_path / "clip.mp4")
    source = store_real_file(make_ready_version(world.a.project, uploader=world.a.users["artist"], name="clip.mp4"), clip)
    run = toolruns.toolrun_create(
        actor=world.a.users["artist"], project=world.a.project, tool="contactsheet", params={}, input_version_ids=[source.pk]
    )
    run = toolruns.toolrun_execute(run.pk)
    assert run.status == ToolRun.Status.SUCCEEDED, run.error
    sheet = run.outputs.get().version
    assert sheet.approval_state != "approved"

    sheet = _run_queued_rederive(_approve(world, sheet, django_capture_on_commit_callbacks, queued), sheet, caplog)
    assert sheet.is_released or sheet.approved_sha256 == sheet.sha256
    assert sheet.proxy_key and storage.default_storage.exists(sheet.proxy_key)
