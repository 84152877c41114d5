"""Thin Celery tasks: ids in, one service call. The delivery row is the truth."""

from __future__ import annotations

from celery import shared_task

from portal.webhooks import services


@shared_task(name="webhooks.deliver", acks_late=True, ignore_result=True, soft_time_limit=120, time_limit=150)
def deliver(delivery_id: int) -> None:
    services.delivery_attempt(delivery_id)


@shared_task(name="webhooks.dispatch_due", acks_late=True, ignore_result=True)
def dispatch_due() -> int:
    """Deliveries that are due and were not sent (a lost message, a restarted broker) go again."""
    return services.deliveries_dispatch_due()
