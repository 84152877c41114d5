"""Celery app. In services mode workers are separate `celery -A portal worker` processes; on the
embedded default a thread-pool worker runs inside the server process on the in-memory broker."""

from __future__ import annotations

import logging
import os
import threading

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

log = logging.getLogger(__name__)
_embedded_worker = None
_embedded_thread = None
_embedded_lock = threading.Lock()
# Set when the server process that holds the embedded worker is stopping (Ctrl-C in `make run`): jobs
# running in it hand their work back (`portal.jobs.stop_requested()`) instead of running on while the
# interpreter shuts down under them.
STOPPING = threading.Event()


def start_embedded_worker(concurrency: int = 2):
    """Start (once) a Celery worker in a daemon thread of this process.

    Uses WorkController directly rather than `celery worker`: the latter installs signal
    handlers, which only the main thread may do, and the server owns the main thread.
    The in-memory broker is per process, so producer and consumer must live together.
    """
    global _embedded_worker
    with _embedded_lock:
        if _embedded_worker is not None:
            return _embedded_worker
        from celery.worker import WorkController
        from django.conf import settings

        worker = WorkController(
            app=app,
            pool_cls="threads",
            concurrency=concurrency,
            hostname=f"embedded@{os.getpid()}",
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
            queues=["default", settings.TOOLRUNS_QUEUE],
            loglevel="INFO",
        )
        thread = threading.Thread(target=worker.start, name="celery-embedded-worker", daemon=True)
        thread.start()
        _embedded_worker, _embedded_thread = worker, thread
        log.info("embedded Celery worker started (thread pool, %s threads)", concurrency)
        return worker


def stop_embedded_worker() -> None:
    global _embedded_worker, _embedded_thread
    with _embedded_lock:
        if _embedded_worker is not None:
            _embedded_worker.stop(in_sighandler=False)
            _embedded_worker = _embedded_thread = None


def stop_embedded(timeout: float = 15.0) -> None:
    """The server is stopping: the periodic sender stops, running jobs hand their work back (a tool run
    goes back to the queue and starts again with the next server) and the worker stops, within `timeout`
    seconds. Called from the ASGI lifespan's shutdown, before the interpreter starts tearing down, so no
    job is left writing to a closing database or channel layer."""
    STOPPING.set()
    with _embedded_lock:
        worker = _embedded_worker
    if worker is None:
        return
    stopper = threading.Thread(target=stop_embedded_worker, name="celery-embedded-stop", daemon=True)
    stopper.start()
    stopper.join(timeout)
    if stopper.is_alive():
        log.warning("the embedded worker did not stop within %s s", timeout)


_periodic_thread = None


def start_embedded_periodic(interval_check: float = 5.0):
    """The embedded default has no `celery beat`: a daemon thread sends CELERY_BEAT_SCHEDULE's
    tasks at their intervals (and each once at start-up, which is the recovery pass)."""
    global _periodic_thread
    with _embedded_lock:
        if _periodic_thread is not None:
            return _periodic_thread
        import time

        from django.conf import settings

        schedule = getattr(settings, "CELERY_BEAT_SCHEDULE", {})
        next_due = dict.fromkeys(schedule, 0.0)

        def loop():
            while not STOPPING.is_set():
                now = time.monotonic()
                for name, entry in schedule.items():
                    if now >= next_due[name]:
                        next_due[name] = now + float(entry["schedule"])
                        try:
                            app.send_task(entry["task"])
                        except Exception:  # noqa: BLE001 - keep the timer alive whatever one send did
                            log.exception("periodic task %s could not be sent", name)
                STOPPING.wait(interval_check)

        _periodic_thread = threading.Thread(target=loop, name="celery-embedded-periodic", daemon=True)
        _periodic_thread.start()
        return _periodic_thread


@app.on_after_finalize.connect
def _recover_on_worker_start(sender, **kwargs):
    from celery.signals import worker_ready

    @worker_ready.connect(weak=False)
    def recover(**_kwargs):
        # Services mode: each worker that starts asks for a recovery pass (idempotent).
        for entry in ("jobs.recover",):
            try:
                app.send_task(entry)
            except Exception:  # noqa: BLE001
                log.exception("could not send %s at worker start", entry)
