"""Start-up check: on Redis, a message not acknowledged within `visibility_timeout` is handed to
another worker. With acks_late that would start a second copy of any task running longer, so the
timeout must exceed the longest hard time limit of any task. Checked by `manage.py check` and when a
Celery worker starts (a worker refuses to start with a timeout that is too short)."""

from __future__ import annotations

import importlib

from django.apps import apps
from django.conf import settings
from django.core import checks

# Redis transport's default when none is configured (kombu).
KOMBU_DEFAULT_VISIBILITY_TIMEOUT = 3600


def uses_redis_broker() -> bool:
    return str(getattr(settings, "CELERY_BROKER_URL", "")).startswith(("redis://", "rediss://", "sentinel://"))


def longest_hard_time_limit(app=None) -> tuple[float, str]:
    """(seconds, task name) of the longest hard time limit among the app's tasks."""
    if app is None:
        from portal.celery import app
    # What autodiscover_tasks() imports, without Celery's import signal (whose Django fixup runs the
    # system checks, which would land back here).
    for config in apps.get_app_configs():
        try:
            importlib.import_module(f"{config.name}.tasks")
        except ModuleNotFoundError as exc:
            if exc.name != f"{config.name}.tasks":
                raise
    longest, name = float(app.conf.task_time_limit or 0), "task_time_limit"
    for task_name, task in app.tasks.items():
        limit = getattr(task, "time_limit", None) or 0
        if limit > longest:
            longest, name = float(limit), task_name
    return longest, name


def visibility_timeout_problem(app=None) -> str | None:
    if not uses_redis_broker():
        return None
    options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}) or {}
    timeout = float(options.get("visibility_timeout", KOMBU_DEFAULT_VISIBILITY_TIMEOUT))
    longest, name = longest_hard_time_limit(app)
    if timeout <= longest:
        return (
            f"CELERY_BROKER_TRANSPORT_OPTIONS['visibility_timeout'] is {timeout:.0f}s but {name} may run for "
            f"{longest:.0f}s: Redis would hand a running job to a second worker. Raise the timeout above the limit."
        )
    return None


def _check(app_configs=None, **kwargs):
    problem = visibility_timeout_problem()
    return [checks.Error(problem, id="toolruns.E001")] if problem else []


def _on_worker_init(sender=None, **kwargs):
    problem = visibility_timeout_problem(getattr(sender, "app", None))
    if problem:
        # SystemExit, because Celery logs and swallows an Exception raised by a signal handler.
        raise SystemExit(f"refusing to start the worker: {problem}")


def register() -> None:
    from celery.signals import worker_init

    checks.register(_check, checks.Tags.compatibility)
    worker_init.connect(_on_worker_init, weak=False, dispatch_uid="toolruns.visibility_timeout")
