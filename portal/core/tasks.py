from celery import shared_task


@shared_task(name="portal.ping")
def ping() -> str:
    """Answered by any live worker: the deep health check uses it to prove jobs run."""
    return "pong"
