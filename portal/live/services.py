"""publish(): the one way anything reaches the open pages of a project.

Events go to the project's group on the channel layer, after the transaction that caused them
commits (so no page hears of a row it cannot read yet). Each carries a per-project sequence
number: a client that sees a gap refetches state through the API instead of trusting its copy."""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from portal.core import page_cache
from portal.live.consumers import project_group

log = logging.getLogger(__name__)


def next_seq(project_id: int) -> int:
    key = f"live:seq:{project_id}"
    # add() is atomic on Redis and locmem alike; incr() then is too.
    cache.add(key, 0, timeout=None)
    return cache.incr(key)


_local_locks: dict[int, threading.Lock] = {}
_local_locks_guard = threading.Lock()


@contextmanager
def _sequence_lock(project_id: int):
    """Numbering and sending an event happen under one lock per project, so events reach the group in
    the order of their numbers even when the server and a worker publish at once (845 came before 844,
    and the page refetched twice). Across processes: a Redis lock where the cache is Redis; in the
    embedded default (one process) a thread lock."""
    client = getattr(getattr(cache, "_cache", None), "get_client", None)
    if client is not None:
        with client(write=True).lock(f"live:seq-lock:{project_id}", timeout=5, blocking_timeout=5):
            yield
        return
    with _local_locks_guard:
        lock = _local_locks.setdefault(project_id, threading.Lock())
    with lock:
        yield


def publish(project_id: int, event_type: str, data: dict[str, Any] | None = None) -> None:
    """Send now. Never raises: a page missing an event refetches; the write must not fail for it."""
    try:
        layer = get_channel_layer()
        with _sequence_lock(project_id):
            payload = {"type": event_type, "seq": next_seq(project_id), "at": timezone.now().isoformat(), **(data or {})}
            if layer is None:
                return
            async_to_sync(layer.group_send)(project_group(project_id), {"type": "project.event", "payload": payload})
    except Exception:  # noqa: BLE001 - live delivery is best effort by design
        log.exception("live publish of %s to project %s failed", event_type, project_id)


def publish_on_commit(project_id: int, event_type: str, data: dict[str, Any] | None = None) -> None:
    page_cache.commits_first()  # a page fetched on this event is never an older kept copy
    transaction.on_commit(lambda: publish(project_id, event_type, data))


def access_changed_on_commit(project_ids) -> None:
    """After a membership change or a suspension commits, every open socket of these projects
    checks its user's access again; those who lost it are disconnected at once."""
    project_ids = sorted(set(project_ids))

    def send():
        layer = get_channel_layer()
        if layer is None:
            return
        for project_id in project_ids:
            try:
                async_to_sync(layer.group_send)(project_group(project_id), {"type": "project.access_changed"})
            except Exception:  # noqa: BLE001 - the periodic re-check on ping is the fallback
                log.exception("access change could not reach project %s", project_id)

    transaction.on_commit(send)


def user_sockets_recheck_on_commit(user_id: int) -> None:
    """After a person signs out or is disabled, each of their open sockets checks its session again
    (and closes when it no longer stands for an active, fully signed-in user)."""
    from portal.accounts.credentials import user_group

    def send():
        layer = get_channel_layer()
        if layer is None:
            return
        try:
            async_to_sync(layer.group_send)(user_group(user_id), {"type": "project.access_changed"})
        except Exception:  # noqa: BLE001 - the periodic re-check on ping is the fallback
            log.exception("access change could not reach the sockets of user %s", user_id)

    transaction.on_commit(send)
