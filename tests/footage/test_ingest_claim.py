"""An ingest runs under the job engine's claim: a worker whose lease lapsed and was taken over by
another writes nothing when it finishes (the other worker's result stands)."""

from __future__ import annotations

from portal.audit.models import AuditEvent
from portal.footage import services
from portal.footage.models import AssetVersion
from tests.footage.test_ingest import upload


def test_an_ingest_that_lost_its_claim_does_not_mark_the_version_ready(
    api_for, world, clips, eager, django_capture_on_commit_callbacks, monkeypatch
):
    real = services._make_derivatives

    def taken_over_meanwhile(version, *args, **kwargs):
        out = real(version, *args, **kwargs)
        # While this worker transcoded, its lease lapsed and another worker claimed the version.
        AssetVersion.objects.filter(pk=version.pk).update(ingest_claim_token="another-worker")
        return out

    monkeypatch.setattr(services, "_make_derivatives", taken_over_meanwhile)
    version = upload(api_for(world.a.users["artist"]), world.a.project, clips["mov"], capture=django_capture_on_commit_callbacks)
    version.refresh_from_db()
    assert version.status == AssetVersion.Status.PROCESSING and not version.sha256
    assert version.ingest_claim_token == "another-worker" and version.ingest_attempts == 1
    assert not AuditEvent.objects.filter(action="footage.ingest.ready", target_id=str(version.pk)).exists()

    # Without the takeover the same upload becomes ready.
    monkeypatch.setattr(services, "_make_derivatives", real)
    again = upload(api_for(world.a.users["artist"]), world.a.project, clips["mov"], capture=django_capture_on_commit_callbacks)
    again.refresh_from_db()
    assert again.status == AssetVersion.Status.READY and again.ingest_claim_token == ""
