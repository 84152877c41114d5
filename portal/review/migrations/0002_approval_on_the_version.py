"""Approval as data: every generated version gets the stamp the decision service now writes (its latest
verdict on its current bytes, and the SHA-256 approved), from the decisions already made; and every
version being ingested gets the dispatch time the job engine's recovery pass reads."""

from django.db import migrations


def backfill(apps, schema_editor):
    AssetVersion = apps.get_model("footage", "AssetVersion")
    Decision = apps.get_model("review", "Decision")
    versions = AssetVersion.objects.filter(asset__kind="generated").exclude(sha256="").only("pk", "sha256")
    for version in versions.iterator():
        latest = Decision.objects.filter(version_id=version.pk, sha256=version.sha256).order_by("-created_at", "-pk").first()
        if latest is None:
            continue
        AssetVersion.objects.filter(pk=version.pk).update(
            approval_verdict=latest.verdict,
            approval_sha256=latest.sha256,
            approved_sha256=latest.sha256 if latest.verdict == "approved" else "",
        )
    # A version left processing by the old ingest task: its message counts as sent when its upload completed.
    Upload = apps.get_model("footage", "Upload")
    for upload in Upload.objects.filter(version__status="processing", completed_at__isnull=False).only("version_id", "completed_at"):
        AssetVersion.objects.filter(pk=upload.version_id, ingest_dispatched_at__isnull=True).update(
            ingest_dispatched_at=upload.completed_at
        )


def unstamp(apps, schema_editor):
    AssetVersion = apps.get_model("footage", "AssetVersion")
    AssetVersion.objects.update(approval_verdict="", approval_sha256="", approved_sha256="", ingest_dispatched_at=None)


class Migration(migrations.Migration):
    dependencies = [
        ("review", "0001_initial"),
        ("footage", "0002_ingest_claim_and_approval"),
    ]

    operations = [migrations.RunPython(backfill, unstamp)]
