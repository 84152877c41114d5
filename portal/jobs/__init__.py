"""The one job engine: claim, lease, heartbeat, attempts, recovery; handlers registered by name.

Services enqueue with `jobs.enqueue_on_commit(kind, id)` (`from portal import jobs`). The engine imports
no model and no app it runs jobs for, so importing it is safe while apps load. See docs/architecture.md."""

from __future__ import annotations

from portal.jobs.engine import (
    Claim,
    Handler,
    Heartbeat,
    LostClaim,
    claim,
    enqueue,
    enqueue_on_commit,
    from_settings,
    handler,
    kinds,
    progress_event,
    recover,
    register,
    run,
    send_task,
    stop_requested,
)

__all__ = [
    "Claim",
    "Handler",
    "Heartbeat",
    "LostClaim",
    "claim",
    "enqueue",
    "enqueue_on_commit",
    "from_settings",
    "handler",
    "kinds",
    "progress_event",
    "recover",
    "register",
    "run",
    "send_task",
    "stop_requested",
]
