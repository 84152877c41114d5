"""Periodic: each audit chain's head written outside the database (see anchors.py)."""

from __future__ import annotations

from celery import shared_task

from portal.audit.anchors import anchor_heads


@shared_task(name="audit.anchor_heads", acks_late=True)
def anchor_audit_heads() -> int:
    return anchor_heads()
