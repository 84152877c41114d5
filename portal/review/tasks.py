"""Thin Celery tasks for review."""

from __future__ import annotations

from celery import shared_task

from portal.review import services


@shared_task(name="review.email_notifications", acks_late=True)
def email_notifications() -> int:
    return services.notifications_email()


@shared_task(name="review.sign_credentials", acks_late=True, reject_on_worker_lost=True, soft_time_limit=60 * 60 * 3)
def sign_credentials(credential_id: int) -> None:
    services.credentials_sign(credential_id=credential_id)


@shared_task(name="review.recover_credentials", acks_late=True)
def recover_credentials() -> int:
    return services.credentials_recover()
