"""The one Celery task that runs jobs, and the one recovery pass. Thin: ids in, the engine does the rest.
The row is the truth; the message only says "run job (kind, id)", so a redelivered or duplicated
message is harmless (the claim is a compare-and-set on a token)."""

from __future__ import annotations

from celery import shared_task

from portal.jobs import engine


@shared_task(
    name="jobs.run",
    acks_late=True,
    # A worker process that dies mid-job (OOM, SIGKILL) gives the message back instead of dropping it.
    reject_on_worker_lost=True,
    # The longest any kind may take; each kind sends its own (shorter or equal) limits with its message.
    soft_time_limit=engine.LONGEST_SOFT_TIME_LIMIT,
    time_limit=engine.LONGEST_TIME_LIMIT,
    ignore_result=True,
)
def run(kind: str, object_id: int) -> None:
    engine.run(kind, object_id)


@shared_task(name="jobs.recover", acks_late=True, ignore_result=True)
def recover() -> dict[str, dict[str, int]]:
    """Jobs whose worker died or whose message was lost are dispatched again (or ended)."""
    return engine.recover()
