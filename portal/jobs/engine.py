"""The one job engine. A job is a row of some app's model (an AssetVersion being ingested, a ToolRun)
plus a handler registered under a kind ("ingest", "rederive", "toolrun"); the row is the truth and the
broker only carries "run job (kind, id)".

Lifecycle: a service writes the row (waiting) and calls `enqueue_on_commit(kind, id)`. The worker's
`jobs.run` task calls the handler, which `claim()`s the row with a compare-and-set (waiting, or running
under a lapsed lease -> running, attempts + 1, a fresh token and lease). While it works, a `Heartbeat`
(or `Claim.renew()`) keeps the lease; every later write of the worker is conditional on its token, so a
worker that lost the job cannot touch it any more. The periodic `recover()` pass sends again what a dead
worker or a lost message left behind, ends what used up its attempts, and asks each handler to sweep.

A handler without a claim (re-derive) is idempotent: it runs whenever its message arrives.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from portal.celery import STOPPING, app

log = logging.getLogger(__name__)

# Any job dispatched before this process started was dispatched by an earlier process; on the
# in-memory broker its message died with that process.
PROCESS_STARTED_AT = timezone.now()
BROKER_MARK = "portal:jobs:broker-mark"
# The task's own limits: the longest of every kind (each message carries its kind's limits).
LONGEST_SOFT_TIME_LIMIT = max(settings.TOOLRUN_SOFT_TIME_LIMIT, settings.FOOTAGE_INGEST_SOFT_TIME_LIMIT)
LONGEST_TIME_LIMIT = max(settings.TOOLRUN_TIME_LIMIT, settings.FOOTAGE_INGEST_TIME_LIMIT)


class LostClaim(Exception):
    """Another worker took the job over (our lease lapsed): stop quietly, write nothing."""


def from_settings(name: str) -> Callable[[], Any]:
    """Read a setting when asked, not at import: tests and deployments change them."""
    return lambda: getattr(settings, name)


@dataclass(frozen=True)
class Handler:
    """What the engine needs to know about one kind of job.

    `execute(id)` does the work (and claims the row through `claim(kind, id)` when the kind keeps one).
    The row fields below are None for a kind without a claim. `waiting` and `running` may be the same
    status (an ingest is "processing" from upload to ready; only its lease says whether a worker has it).
    """

    kind: str
    execute: Callable[[int], Any]
    queue: Callable[[], str] = lambda: "default"
    soft_time_limit: Callable[[], int] | None = None
    time_limit: Callable[[], int] | None = None
    model: Any = None
    waiting: str | None = None
    running: str | None = None
    status_field: str = "status"
    token_field: str = "claim_token"
    lease_field: str = "lease_until"
    attempts_field: str = "attempts"
    dispatched_field: str = "dispatched_at"
    lease_seconds: Callable[[], int] = lambda: 600
    max_attempts: Callable[[], int] = lambda: 3
    # A queued job whose message is older than this is sent again (a lost message).
    redispatch_seconds: Callable[[], int] = lambda: 600
    # Rows that may not be claimed even when waiting (e.g. a run asked to cancel).
    claim_filter: Q = field(default_factory=Q)
    # Extra fields set on the row when it is claimed (started_at, worker...), given `now`.
    claim_fields: Callable[[Any], dict] = lambda now: {}
    # Called with the row when a claim succeeded, inside its transaction (audit, live event).
    on_claimed: Callable[[Any], None] | None = None
    # A claimable row that must not run again (attempts used up, cancel asked for): end it. (id, now)
    end: Callable[[int, Any], bool] | None = None
    # Recovery hooks: `expire(now)` ends jobs waiting too long (returns how many); `sweep()` removes
    # what killed workers left on this machine (returns how many folders).
    expire: Callable[[Any], int] | None = None
    sweep: Callable[[], int] | None = None

    @property
    def keeps_claim(self) -> bool:
        return self.model is not None

    def claimable(self, now) -> Q:
        lapsed = Q(**{f"{self.lease_field}__isnull": True}) | Q(**{f"{self.lease_field}__lt": now})
        statuses = {self.waiting, self.running}
        return Q(**{f"{self.status_field}__in": statuses}) & lapsed

    def held(self, token: str) -> Q:
        return Q(**{self.token_field: token, self.status_field: self.running})


_handlers: dict[str, Handler] = {}


def register(handler: Handler) -> Handler:
    """Called from an app's AppConfig.ready(): the engine never imports the apps it runs jobs for."""
    _handlers[handler.kind] = handler
    return handler


def handler(kind: str) -> Handler:
    try:
        return _handlers[kind]
    except KeyError:
        raise LookupError(f"no job handler registered for kind {kind!r}") from None


def kinds() -> list[str]:
    return sorted(_handlers)


# --- events -----------------------------------------------------------------------------------


def progress_event(
    kind: str,
    object_id: int,
    *,
    status: str,
    progress: float | None = None,
    stage: str = "",
    message: str = "",
    attempts: int = 0,
    **extra: Any,
) -> dict[str, Any]:
    """The one shape of a job's live event: what it is, where it stands, and what the kind adds."""
    return {
        "kind": kind,
        "id": object_id,
        "status": status,
        "progress": round(progress, 4) if progress is not None else None,
        "stage": stage,
        "message": message,
        "attempts": attempts,
        **extra,
    }


# --- enqueue ----------------------------------------------------------------------------------


def enqueue(kind: str, object_id: int) -> None:
    """Send "run job (kind, id)" to the kind's queue. Never raises: a message that could not be sent
    is a job the recovery pass sends again."""
    chosen = handler(kind)
    options: dict[str, Any] = {"queue": chosen.queue()}
    if chosen.soft_time_limit is not None:
        options["soft_time_limit"] = chosen.soft_time_limit()
    if chosen.time_limit is not None:
        options["time_limit"] = chosen.time_limit()
    # Addressed by name through the app's registry (portal.jobs.tasks registers it), so the engine
    # does not import its own task module: that would be an import cycle.
    task = app.tasks["jobs.run"]
    if app.conf.task_always_eager:
        # Eager (tests, scripts): the job runs right here, and what it raises is the job's, not a send error.
        task.apply_async((kind, object_id), **options)
        return
    try:
        task.apply_async((kind, object_id), **options)
    except Exception:  # noqa: BLE001 - the row is the truth; recovery re-dispatches
        log.exception("could not dispatch job %s %s; the recovery pass will", kind, object_id)


def send_task(name: str, args: tuple = (), **options: Any) -> None:
    """Send a Celery task of another app by its registered name, for work that keeps its own claim
    on its own row (content-credential signing, webhook deliveries): the caller never imports a task
    module (docs/architecture.md). Raises what the broker raises; callers decide (their rows are the
    truth and their periodic passes send again)."""
    if name not in app.tasks:
        # Each app's tasks.py is autodiscovered lazily (a worker loads them at start; a web process
        # only when it first sends one): load them now, as the worker does.
        app.loader.import_default_modules()
    app.tasks[name].apply_async(args, **options)


def enqueue_on_commit(kind: str, object_id: int) -> None:
    """What services call: the message leaves once the transaction that wrote the row commits."""
    handler(kind)  # an unknown kind fails now, in the service, not later in a worker
    transaction.on_commit(lambda: enqueue(kind, object_id))


def run(kind: str, object_id: int) -> Any:
    """The task's body: hand the id to the kind's handler."""
    return handler(kind).execute(object_id)


def stop_requested() -> bool:
    """The process running this job is stopping (the embedded default's server on Ctrl-C): a long job
    should hand its work back at its next check rather than run on while the process tears down."""
    return STOPPING.is_set()


# --- claim, lease, heartbeat ------------------------------------------------------------------


@dataclass
class Claim:
    kind: str
    object_id: int
    token: str
    row: Any = None

    @property
    def handler(self) -> Handler:
        return handler(self.kind)

    def rows(self):
        """The job's row, only while this claim still holds it: every worker write goes through it."""
        h = self.handler
        return h.model.objects.filter(h.held(self.token), pk=self.object_id)

    def held(self) -> bool:
        return self.rows().exists()

    def renew(self, **fields: Any) -> bool:
        """Extend the lease (and write `fields` with it); False when the claim was lost."""
        h = self.handler
        lease = timezone.now() + timedelta(seconds=h.lease_seconds())
        return bool(self.rows().update(**{h.lease_field: lease}, **fields))

    def release(self, **fields: Any) -> bool:
        """End the claim, writing `fields` (the job's outcome) in the same conditional update."""
        h = self.handler
        return bool(self.rows().update(**{h.lease_field: None, h.token_field: ""}, **fields))


def claim(kind: str, object_id: int) -> Claim | None:
    """Compare-and-set: waiting (or running under a lapsed lease) -> running, attempts + 1, a new
    token and lease. None when someone else holds it, it is over, or it may not run again (then the
    handler's `end` ends it)."""
    h = handler(kind)
    now = timezone.now()
    token = uuid.uuid4().hex
    with transaction.atomic():
        claimed = (
            h.model.objects.filter(pk=object_id)
            .filter(h.claimable(now))
            .filter(h.claim_filter, **{f"{h.attempts_field}__lt": h.max_attempts()})
            .update(
                **{
                    h.status_field: h.running,
                    h.attempts_field: F(h.attempts_field) + 1,
                    h.token_field: token,
                    h.lease_field: now + timedelta(seconds=h.lease_seconds()),
                },
                **h.claim_fields(now),
            )
        )
        if not claimed:
            if h.end is not None:
                h.end(object_id, now)
            return None
        found = Claim(kind, object_id, token)
        found.row = h.model.objects.get(pk=object_id)
        if h.on_claimed is not None:
            h.on_claimed(found)
    return found


class Heartbeat:
    """Renews a claim's lease from its own thread while the work goes on (a tool may not report for
    minutes). Notices when the claim is lost, so the worker's next check stops it."""

    def __init__(self, job: Claim):
        self.claim = job
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"{job.kind}-{job.object_id}-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        interval = max(0.5, self.claim.handler.lease_seconds() / 3)
        try:
            while not self._stop.wait(interval):
                try:
                    renewed = self.claim.renew()
                except Exception:  # noqa: BLE001 - a database hiccup: try again at the next beat
                    log.warning("could not renew the lease of %s %s", self.claim.kind, self.claim.object_id, exc_info=True)
                    continue
                if not renewed:
                    self.lost = True
                    return
        finally:
            connection.close()


# --- recovery ---------------------------------------------------------------------------------


def broker_lost_its_messages() -> bool:
    """True when the Redis broker came back empty since the last recovery pass: a mark this pass
    leaves there (no expiry) is missing. Redis keeps nothing on disk in the shipped setup, so a
    restart loses the queue and the mark together. The first pass after a deploy finds no mark
    either: it sends waiting jobs again, which the claim makes harmless."""
    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://")):
        return False
    import redis

    try:
        client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        return bool(client.set(BROKER_MARK, timezone.now().isoformat(), nx=True))
    except redis.RedisError:
        log.warning("job recovery: the broker cannot be reached to check for a restart")
        return False


def recover(*, only: list[str] | None = None, now=None) -> dict[str, dict[str, int]]:
    """At worker start-up and every 15 s (beat): no job is ever lost. Per kind that keeps a claim:

    - `expire(now)` first: jobs waiting longer than the kind allows are ended, with a message;
    - running under a lapsed lease (its worker died): sent again; the claim takes it over, or the
      handler's `end` ends it once it used up its attempts (or may not run for another reason);
    - waiting, but its message is older than the kind's `redispatch_seconds` (lost with a broker
      restart, or with the process on the in-memory broker): sent again; the claim makes doubles
      no-ops. A Redis that came back empty (see broker_lost_its_messages) makes every waiting job's
      message lost at once, so it is sent again at this pass, not minutes later;
    - `sweep()` last: scratch folders of killed workers on this machine.
    Returns counts per kind: redispatched, ended, swept (and broker_restarted when it happened)."""
    now = now or timezone.now()
    restarted = (not settings.CELERY_BROKER_URL.startswith("memory://")) and broker_lost_its_messages()
    result: dict[str, dict[str, int]] = {}
    for kind in only or kinds():
        h = handler(kind)
        counts = {"redispatched": 0, "ended": 0, "swept": 0}
        if h.keeps_claim:
            if h.expire is not None:
                counts["ended"] += h.expire(now)
            _recover_kind(h, now, counts, restarted=restarted)
        if restarted:
            counts["broker_restarted"] = 1
        if h.sweep is not None:
            counts["swept"] = h.sweep()
        if any(counts.values()):
            log.info("job recovery (%s): %s", kind, counts)
        result[kind] = counts
    return result


def _recover_kind(h: Handler, now, counts: dict[str, int], *, restarted: bool) -> None:
    stale_message = now - timedelta(seconds=h.redispatch_seconds())
    if settings.CELERY_BROKER_URL.startswith("memory://"):
        stale_message = max(stale_message, PROCESS_STARTED_AT)
    elif restarted:
        stale_message = now
    lease, dispatched = h.lease_field, h.dispatched_field
    lost_waiting = Q(**{h.status_field: h.waiting, f"{lease}__isnull": True}) & (
        Q(**{f"{dispatched}__isnull": True}) | Q(**{f"{dispatched}__lt": stale_message})
    )
    lapsed = Q(**{f"{lease}__lt": now})
    if h.running != h.waiting:
        lapsed |= Q(**{f"{lease}__isnull": True})  # running with no lease at all: its worker never renewed
    dead_running = Q(**{h.status_field: h.running}) & lapsed
    stuck = lost_waiting | dead_running
    rows = h.model.objects.filter(stuck).order_by("pk")
    may_run = rows.filter(h.claim_filter, **{f"{h.attempts_field}__lt": h.max_attempts()})
    runnable = set(may_run.values_list("pk", flat=True)[:500])
    for object_id in rows.values_list("pk", flat=True)[:500]:
        if object_id not in runnable:
            # Nothing left to run: end it here rather than wait for a worker to say so.
            if h.end is not None and h.end(object_id, now):
                counts["ended"] += 1
            continue
        if h.model.objects.filter(stuck, pk=object_id).update(**{dispatched: now}):
            transaction.on_commit(lambda object_id=object_id: enqueue(h.kind, object_id))
            counts["redispatched"] += 1
