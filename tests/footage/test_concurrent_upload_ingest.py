"""Uploads and ingests of one project at the same time, on PostgreSQL, in real threads (each its own
database session): no deadlock, no version left "uploading" or "processing", one contiguous audit
chain. Before the lock order of portal/audit/services.py, an upload finishing (version locked, then
the chain head, then the project FOR KEY SHARE for the audit row's foreign key) and an upload
starting (the project's quota lock, then the chain head) waited for each other in a circle.

Subtitles are ingested for real through the services (parsed as text, so no ffmpeg and the test
stays about the database). PostgreSQL's own deadlock counter must not move, so a deadlock that a
retry papered over still fails the test. Only meaningful where several sessions really write at
once: PostgreSQL (services mode); the embedded SQLite queues whole transactions."""

from __future__ import annotations

import base64
import io
import threading
import time

import pytest
from django.db import connection

from portal.audit.services import chain_for
from portal.audit.verify import verify_chain
from portal.footage import services
from portal.footage.models import AssetVersion, Upload
from portal.projects import services as project_services
from tests.factories import add_person, make_studio

IS_POSTGRES = connection.vendor == "postgresql"
pytestmark = pytest.mark.skipif(not IS_POSTGRES, reason="several sessions writing at once: PostgreSQL (services mode) only")

SRT = b"1\n00:00:01,000 --> 00:00:02,500\nHello there.\n\n2\n00:00:03,000 --> 00:00:04,000\nGeneral Kenobi.\n"
UPLOADERS, UPLOADS_EACH, INGESTERS = 4, 8, 2


def _metadata(filename: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in (("filename", filename), ("kind", "subtitles")))


def _deadlocks() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_uploads_and_ingests_at_once_never_deadlock_nor_leave_a_version_stuck(settings, monkeypatch):
    # The ingest threads below stand in for the Celery workers: nothing is sent to a broker.
    from portal.celery import app

    monkeypatch.setattr(app.tasks["jobs.run"], "apply_async", lambda *args, **kwargs: None)
    studio = make_studio("Review Day", "review-day")
    admin = add_person(studio, "admin@review-day.test", "studio_admin")
    project = project_services.project_create(actor=admin, studio=studio, code="RUSH", name="Rush")
    artists = [
        add_person(studio, f"artist{n}@review-day.test", "member", project=project, project_role="artist", inviter=admin)
        for n in range(UPLOADERS)
    ]
    deadlocks_before = _deadlocks()
    connection.close()

    errors: list[BaseException] = []
    uploads_done = threading.Event()
    barrier = threading.Barrier(UPLOADERS + INGESTERS)

    def upload_files(artist) -> None:
        try:
            barrier.wait(timeout=30)
            for n in range(UPLOADS_EACH):
                upload = services.upload_create(
                    actor=artist, project=project, length=len(SRT), metadata_header=_metadata(f"{artist.pk}_{n}.srt")
                )
                services.upload_patch(actor=artist, upload=upload, offset=0, body=io.BytesIO(SRT), checksum=None)
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assert below
            errors.append(exc)
        finally:
            connection.close()

    def ingest_files() -> None:
        try:
            barrier.wait(timeout=30)
            while True:
                finished = uploads_done.is_set()
                waiting = list(
                    AssetVersion.objects.filter(asset__project=project, status=AssetVersion.Status.PROCESSING)
                    .order_by("?")
                    .values_list("pk", flat=True)[:3]
                )
                for version_id in waiting:
                    services.version_ingest(version_id=version_id)  # the claim makes a second ingest a no-op
                if finished and not waiting:
                    return
                if not waiting:
                    time.sleep(0.01)
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assert below
            errors.append(exc)
        finally:
            connection.close()

    uploaders = [threading.Thread(target=upload_files, args=(a,)) for a in artists]
    ingesters = [threading.Thread(target=ingest_files) for _ in range(INGESTERS)]
    for thread in uploaders + ingesters:
        thread.start()
    for thread in uploaders:
        thread.join(timeout=120)
    uploads_done.set()
    for thread in ingesters:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in uploaders + ingesters), "a thread is still waiting after two minutes"

    assert errors == [], errors
    versions = AssetVersion.objects.filter(asset__project=project)
    assert versions.count() == UPLOADERS * UPLOADS_EACH
    stuck = list(versions.exclude(status=AssetVersion.Status.READY).values_list("pk", "status"))
    assert stuck == [], f"versions left behind: {stuck}"
    assert Upload.objects.filter(project=project, status=Upload.Status.COMPLETE).count() == UPLOADERS * UPLOADS_EACH
    assert _deadlocks() == deadlocks_before, "PostgreSQL detected a deadlock (a retry may have hidden it)"
    assert verify_chain(chain_for(studio.pk)) is None
