"""Thin Celery tasks: ids in, one service call. The run row is the truth; the message only says
"run job N", so a redelivered or duplicated message is harmless (the claim is a compare-and-set)."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from portal.toolruns import services


@shared_task(
    name="toolruns.execute",
    acks_late=True,
    # A worker process that dies mid-run (OOM, SIGKILL) gives the message back instead of dropping it.
    reject_on_worker_lost=True,
    soft_time_limit=settings.TOOLRUN_SOFT_TIME_LIMIT,
    time_limit=settings.TOOLRUN_TIME_LIMIT,
    ignore_result=True,
)
def execute_toolrun(run_id: int) -> None:
    services.toolrun_execute(run_id)


@shared_task(name="toolruns.recover", acks_late=True, ignore_result=True)
def recover_toolruns() -> dict[str, int]:
    """Runs whose worker died or whose message was lost are dispatched again (or failed)."""
    return services.toolruns_recover()
