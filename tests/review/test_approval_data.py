"""Approval as data: the decision service stamps the version row with its verdict and the SHA-256 it
approved; lists, the download gate and ingest read the row (no query into review per version), and the
migration stamped the decisions made before."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portal.footage.models import Asset, AssetVersion, Upload
from portal.review import services
from portal.review.models import Decision
from tests.footage.helpers import make_ready_version

# these tests count what rendering costs: every request renders (no kept page copy)
pytestmark = pytest.mark.usefixtures("no_page_cache")


def make_generated(world, name: str, sha: str) -> AssetVersion:
    version = make_ready_version(world.a.project, uploader=world.a.users["artist"], kind=Asset.Kind.GENERATED, name=name)
    version.sha256 = sha
    version.save(update_fields=["sha256"])
    return version


def test_the_decision_stamps_the_version_and_a_later_verdict_closes_the_gate(world, client_for):
    producer = world.a.users["producer"]
    version = make_generated(world, "comp.mov", "a" * 64)
    assert (version.approval_state, version.is_released) == ("pending", False)
    services.decision_create(actor=producer, version=version, verdict="approved")
    version.refresh_from_db()
    assert version.approved_sha256 == "a" * 64 and version.approval_verdict == "approved"
    assert (version.approval_state, version.is_released) == ("approved", True)
    download = f"/s/{world.a.studio.slug}/p/{world.a.project.code}/download/{version.pk}/"
    assert client_for(producer).get(download).status_code == 200
    # Changes asked for after all: the same bytes are no longer released.
    services.decision_create(actor=producer, version=version, verdict="changes_requested", note="The sky flickers.")
    version.refresh_from_db()
    assert version.approved_sha256 == "" and version.approval_state == "changes_requested" and not version.is_released
    assert client_for(producer).get(download).status_code == 403


def test_the_version_list_reads_approval_from_the_rows(world, api_for):
    """No query per version: the count at 3 generated versions equals the count at 13."""
    producer = world.a.users["producer"]
    api = api_for(producer)
    url = f"/api/v1/projects/{world.a.project.pk}/versions/"

    def add(count: int, start: int) -> None:
        for n in range(start, start + count):
            version = make_generated(world, f"comp{n}.mov", f"{n:064x}")
            if n % 2:
                services.decision_create(actor=producer, version=version, verdict="approved")

    def measure() -> tuple[int, list[dict]]:
        with CaptureQueriesContext(connection) as queries:
            response = api.get(url, {"page_size": 100})
        assert response.status_code == 200
        body = response.json()
        return len(queries), body["results"] if isinstance(body, dict) else body

    add(3, 1)
    small, rows = measure()
    add(10, 4)
    large, rows = measure()
    assert large == small, f"{small} queries for 3 versions, {large} for 13"
    states = {row["id"]: (row["approval"], "download" in row["links"]) for row in rows}
    for version in AssetVersion.objects.filter(asset__project=world.a.project, asset__kind=Asset.Kind.GENERATED):
        number = int(version.sha256, 16)
        expected = ("approved", True) if number % 2 else ("pending", False)
        assert states[version.pk] == expected, version


def test_the_migration_stamps_decisions_made_before_and_dates_waiting_ingests(world):
    producer = world.a.users["producer"]
    approved = make_generated(world, "approved.mov", "a" * 64)
    rejected = make_generated(world, "rejected.mov", "b" * 64)
    changed = make_generated(world, "changed.mov", "c" * 64)
    # Decisions written as the old code wrote them: no stamp on the version.
    Decision.objects.create(version=approved, verdict="rejected", sha256="a" * 64, note="no", decided_by=producer)
    Decision.objects.create(version=approved, verdict="approved", sha256="a" * 64, decided_by=producer)
    Decision.objects.create(version=rejected, verdict="rejected", sha256="b" * 64, note="no", decided_by=producer)
    Decision.objects.create(version=changed, verdict="approved", sha256="f" * 64, decided_by=producer)  # other bytes
    processing = make_ready_version(world.a.project, uploader=world.a.users["artist"], name="late.mov")
    AssetVersion.objects.filter(pk=processing.pk).update(status=AssetVersion.Status.PROCESSING)
    completed = timezone.now() - timezone.timedelta(minutes=3)
    Upload.objects.create(
        project=world.a.project, user=world.a.users["artist"], version=processing, length=4, offset=4,
        status=Upload.Status.COMPLETE, completed_at=completed, expires_at=timezone.now() + timezone.timedelta(hours=1),
    )  # fmt: skip

    migration = importlib.import_module("portal.review.migrations.0002_approval_on_the_version")
    migration.backfill(apps, None)

    for version in (approved, rejected, changed, processing):
        version.refresh_from_db()
    assert (approved.approval_state, approved.is_released, approved.approved_sha256) == ("approved", True, "a" * 64)
    assert (rejected.approval_state, rejected.is_released) == ("rejected", False)
    assert (changed.approval_state, changed.is_released) == ("pending", False)
    assert processing.ingest_dispatched_at == completed


@pytest.mark.parametrize("module", ["portal.footage.services", "portal.footage.api", "portal.footage.views"])
def test_footage_asks_no_review_module(module):
    source = importlib.import_module(module).__file__
    with open(source, encoding="utf-8") as handle:
        assert "portal.review" not in handle.read()
