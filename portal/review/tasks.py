"""Thin Celery tasks for review."""

from __future__ import annotations

from celery import shared_task

from portal.review import services


@shared_task(name="review.email_notifications", acks_late=True)
def email_notifications() -> int:
    return services.notifications_email()
