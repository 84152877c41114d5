"""Thin Celery tasks: ids in, one service call."""

from __future__ import annotations

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from portal.footage import services


@shared_task(
    name="footage.ingest_version",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=60 * 60 * 3,
    time_limit=60 * 60 * 3 + 120,
)
def ingest_version(version_id: int) -> None:
    try:
        services.version_ingest(version_id=version_id)
    except SoftTimeLimitExceeded:
        services.version_fail_ingest(version_id=version_id, reason="Processing took longer than the portal allows.")
        raise


@shared_task(name="footage.expire_uploads", acks_late=True)
def expire_uploads() -> int:
    return services.uploads_expire()


@shared_task(name="footage.recover_ingests", acks_late=True)
def recover_ingests() -> int:
    """Versions left `processing` by a lost message or a dead worker are dispatched again."""
    return services.ingests_recover()


@shared_task(name="footage.rederive_version", acks_late=True, reject_on_worker_lost=True, soft_time_limit=60 * 60 * 3)
def rederive_version(version_id: int) -> None:
    services.version_rederive(version_id=version_id)
