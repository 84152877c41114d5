"""Scratch folders of killed ingests are swept (finding 16): the recovery pass removes scratch that
belongs to no live job (an ingest with no live lease; unleased scratch older than its limit) and
leaves the scratch of live jobs alone, however old it is."""

from __future__ import annotations

import os
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from portal.footage import services
from portal.footage.models import AssetVersion
from tests.footage.helpers import make_ready_version


@pytest.fixture
def scratch(settings, tmp_path):
    folder = tmp_path / "scratch"
    folder.mkdir()
    settings.FOOTAGE_TEMP_DIR = str(folder)
    return folder


def _age(path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def _processing(version, *, lease_in: float) -> None:
    AssetVersion.objects.filter(pk=version.pk).update(
        status=AssetVersion.Status.PROCESSING, ingest_lease_until=timezone.now() + timedelta(seconds=lease_in)
    )


@pytest.mark.django_db
def test_recovery_removes_only_scratch_of_no_live_job(world, scratch, monkeypatch, django_capture_on_commit_callbacks):
    from portal import jobs
    from portal.celery import app

    dispatched = []
    monkeypatch.setattr(app.tasks["jobs.run"], "apply_async", lambda args, **options: dispatched.append(args[1]))
    artist = world.a.users["artist"]
    live = make_ready_version(world.a.project, uploader=artist, name="live.mov")
    dead = make_ready_version(world.a.project, uploader=artist, name="dead.mov")
    done = make_ready_version(world.a.project, uploader=artist, name="done.mov")
    _processing(live, lease_in=300)  # its worker renews the lease: alive
    _processing(dead, lease_in=-1)  # the lease lapsed: its worker was killed
    keep, remove = [], []

    # A long transcode: the folder was made hours ago, the lease is live.
    folder = scratch / f"ingest-{live.pk}-a1"
    folder.mkdir()
    (folder / "proxy.mp4").write_bytes(b"\0" * 100)
    _age(folder, 6 * 3600)
    keep.append(folder.name)
    # A killed ingest's folder, however young, and one of a version that is long done.
    for version in (dead, done):
        folder = scratch / f"ingest-{version.pk}-b2"
        folder.mkdir()
        (folder / "proxy.mp4").write_bytes(b"\0" * 100)
        remove.append(folder.name)
    # Unleased scratch (a re-derivation, a reference still being checked, a tus chunk spool):
    # kept while younger than the longest such a job may run, removed after.
    for name, is_dir in (("rederive-{pk}-c3", True), ("character-d4", True), ("tus-chunk-e5", False)):
        for stale in (False, True):
            path = scratch / (name.format(pk=done.pk) + ("-old" if stale else "-new"))
            path.mkdir() if is_dir else path.write_bytes(b"\0")
            if stale:
                _age(path, services.UNLEASED_SCRATCH_SECONDS + 60)
                remove.append(path.name)
            else:
                _age(path, services.UNLEASED_SCRATCH_SECONDS - 600)
                keep.append(path.name)
    # Not scratch of ours: never touched.
    other = scratch / "unrelated-f6"
    other.mkdir()
    _age(other, 30 * 24 * 3600)
    keep.append(other.name)

    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.recover(only=["ingest"])["ingest"]["redispatched"] == 1
    assert dispatched == [dead.pk]  # the killed ingest is sent again; its new attempt makes a new folder

    assert sorted(p.name for p in scratch.iterdir()) == sorted(keep)
    assert (scratch / f"ingest-{live.pk}-a1" / "proxy.mp4").exists()
