"""Thin Celery tasks: ids in, one service call. (Ingest and re-derivation are jobs: portal/jobs.)"""

from __future__ import annotations

from celery import shared_task

from portal.footage import services


@shared_task(name="footage.expire_uploads", acks_late=True)
def expire_uploads() -> int:
    return services.uploads_expire()
