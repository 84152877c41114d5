"""Every write to tool runs: start, cancel, execute (called by the worker) and the recovery pass.

Execution in one paragraph: the task hands a run id to `toolrun_execute`, which claims the run with a
compare-and-set (queued, or running under a lapsed lease -> running, attempts + 1, a fresh claim
token and lease). A heartbeat thread renews the lease while the tool works; every write of the worker
is conditional on its claim token, so a worker that lost the run cannot touch it any more. Inputs are
copied from storage into a temp folder of the run (and checked against the SHA-256 they had when the
run was started), studio_tools runs the tool with a progress reporter that writes the row and
publishes live events (at most 4 a second) and asks the row whether to stop. Outputs become
generated assets, one per output name. The temp folder always goes.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from portal.access.enforce import record_denial, require
from portal.access.policy import Action
from portal.audit.services import record
from portal.characters.runs import METADATA_KEYS as SHEET_METADATA_KEYS
from portal.characters.runs import sheet_inputs
from portal.core.errors import Conflict, ServiceError
from portal.footage import storage
from portal.footage.models import Asset, AssetVersion
from portal.live.services import publish, publish_on_commit
from portal.projects.models import Project
from portal.providers.selectors import ai_params, allowed_provider_ids
from portal.providers.services import run_provider
from portal.toolruns.models import ToolRun, ToolRunOutput
from portal.toolruns.registry import ASSET_TO_INPUT_KIND, get_tool
from portal.toolruns.wording import plain_problem
from portal.webhooks import events as webhook_events
from studio_tools import ai
from studio_tools.core import (
    BadInput,
    BadParams,
    CallbackProgress,
    Cancelled,
    InputSlot,
    Progress,
    ProgressUpdate,
    RunRecord,
    ToolFailed,
    ToolInput,
    ToolSpec,
    UnknownTool,
    run_tool,
)
from studio_tools.media.hashing import sha256_copy, sha256_file

log = logging.getLogger(__name__)

GENERIC_FAILURE = (
    "The tool stopped with an internal error. The studio's engineers have the details; try again or contact support."
)
TIME_LIMIT_FAILURE = "The run took longer than the portal allows and was stopped."
# Media types that are probed and get browser derivatives (proxy, poster...) like uploaded footage.
_MEDIA_PREFIXES = ("video/", "image/", "audio/")
_SAFE_SUFFIX = re.compile(r"^\.[a-z0-9]{1,8}$")
# Any run dispatched before this process started was dispatched by an earlier process; on the
# in-memory broker its message died with that process.
_PROCESS_STARTED_AT = timezone.now()


class ExternalAINotAllowed(ServiceError):
    status_code = 403

    def __init__(self, message: str):
        super().__init__(message, code="external_ai_not_allowed")


class _LostClaim(Cancelled):
    """Another worker took the run over (our lease lapsed): stop quietly, write nothing.

    A Cancelled, so the studio_tools driver lets it through unwrapped like a cancellation."""

    def __init__(self) -> None:
        super().__init__("lost the claim on this run")


# --- events -----------------------------------------------------------------------------------


def run_event(run: ToolRun, **extra: Any) -> dict[str, Any]:
    """What pages hear about a run: enough to draw its row without asking the server."""
    elapsed = run.elapsed_seconds()
    eta = run.eta_seconds()
    return {
        "run": run.pk,
        "tool": run.tool,
        "status": run.status,
        "progress": round(run.progress, 4),
        "stage": run.stage,
        "message": run.message,
        "attempts": run.attempts,
        "cancel_requested": run.cancel_requested,
        "elapsed": round(elapsed, 1) if elapsed is not None else None,
        "eta": round(eta, 1) if eta is not None else None,
        **extra,
    }


# --- start ------------------------------------------------------------------------------------


def _lookup_tool(name: str):
    try:
        return get_tool(str(name or ""))
    except UnknownTool:
        raise ValidationError({"tool": [f"There is no tool called “{name}”."]}) from None


def _param_errors(spec, exc: BadParams) -> ValidationError:
    """Each rejected parameter in plain words, under its machine name (`params.target_seconds`)."""
    errors: dict[str, list[str]] = {}
    for problem in exc.problems:
        errors.setdefault(f"params.{problem.field}", []).append(plain_problem(spec, problem))
    return ValidationError(errors or {"params": [exc.message]})


def _normalize_input_ids(input_version_ids) -> tuple[list[tuple[str | None, int]], list[str]]:
    """(slot or None, version id) pairs from a list of ids or a {slot: [ids]} mapping."""
    pairs: list[tuple[str | None, Any]] = []
    if isinstance(input_version_ids, Mapping):
        for slot, ids in input_version_ids.items():
            for value in ids if isinstance(ids, list | tuple) else [ids]:
                pairs.append((str(slot), value))
    elif isinstance(input_version_ids, Iterable) and not isinstance(input_version_ids, str | bytes):
        pairs = [(None, value) for value in input_version_ids]
    else:
        return [], ["Give the inputs as a list of version ids, or as {slot: [version ids]}."]
    clean: list[tuple[str | None, int]] = []
    problems: list[str] = []
    for slot, value in pairs:
        if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, str) and value.isdigit())):
            problems.append(f"“{value}” is not a version id.")
            continue
        clean.append((slot, int(value)))
    ids = [v for _s, v in clean]
    if len(set(ids)) != len(ids):
        problems.append("The same version is given twice.")
    return clean, problems


def _bind_inputs(spec: ToolSpec, project: Project, pairs: list[tuple[str | None, int]]) -> list[dict[str, Any]]:
    """Check every input is a ready version of this project that the tool accepts, and give it a slot.

    A version of another project answers exactly like one that does not exist."""
    versions = {
        v.pk: v
        for v in AssetVersion.objects.select_related("asset").filter(pk__in=[i for _s, i in pairs], asset__project=project)
    }
    problems: list[str] = []
    bound: list[dict[str, Any]] = []
    slots = {s.name: s for s in spec.inputs}
    for slot_name, version_id in pairs:
        version = versions.get(version_id)
        if version is None:
            problems.append(f"Version {version_id} does not exist in this project.")
            continue
        name = f"{version.asset.name} v{version.number}"
        if version.status != AssetVersion.Status.READY:
            problems.append(f"{name} is not ready to use ({version.get_status_display().lower()}).")
            continue
        input_kind = ASSET_TO_INPUT_KIND.get(version.asset.kind)
        if input_kind is None:
            problems.append(f"{name} is a {version.asset.get_kind_display().lower()} asset; {spec.title} does not take those.")
            continue
        slot: InputSlot | None
        if slot_name is not None:
            slot = slots.get(slot_name)
            if slot is None:
                problems.append(f"{spec.title} has no input called “{slot_name}”.")
                continue
            if not slot.accepts(input_kind):
                kinds = ", ".join(k.value for k in slot.kinds)
                problems.append(f"{name} is {input_kind.value}, but “{slot.name}” takes {kinds}.")
                continue
        else:
            candidates = [s for s in spec.inputs if s.accepts(input_kind)]
            if not candidates:
                problems.append(f"{name} is {input_kind.value}; {spec.title} does not take {input_kind.value} inputs.")
                continue
            if len(candidates) > 1:
                problems.append(f"Say which input {name} is for ({', '.join(s.name for s in candidates)}).")
                continue
            slot = candidates[0]
        bound.append(
            {
                "version": version.pk,
                "asset": version.asset_id,
                "number": version.number,
                "slot": slot.name,
                "kind": input_kind.value,
                "name": version.asset.name,
                "original_name": version.original_name,
                "sha256": version.sha256,
            }
        )
    if not problems:
        for slot in spec.inputs:
            count = sum(1 for b in bound if b["slot"] == slot.name)
            if count < slot.min_count or (slot.max_count is not None and count > slot.max_count):
                kinds = " or ".join(k.value for k in slot.kinds)
                problems.append(f"{spec.title} takes {slot.count_text()} {kinds} input(s) for “{slot.name}”; {count} given.")
    if problems:
        raise ValidationError({"inputs": problems})
    return bound


def external_ai_params(spec: ToolSpec, params: Mapping[str, Any]) -> list[str]:
    """Parameters switched on that would send material to an external AI provider: a tool marks
    them `"x-external-ai": true` in its parameter schema, so the one policy can police them."""
    properties = (spec.params_schema() or {}).get("properties", {})
    return [name for name, schema in properties.items() if schema.get("x-external-ai") and params.get(name)]


def toolrun_create(
    *, actor, project: Project, tool: str, params: Mapping[str, Any] | None, input_version_ids, characters: Any = None
) -> ToolRun:
    """Start a run: checked, recorded, announced, and handed to a worker once the transaction commits.

    `characters` checks the run against the project's character sheet: "all", or a list of character
    ids; their reference stills join the inputs (portal/characters/runs.py)."""
    require(actor, Action.TOOLRUN_START, project)
    spec: ToolSpec = _lookup_tool(tool).spec
    if spec.uses_external_ai and not project.studio.allow_external_ai:
        record_denial(actor, Action.TOOLRUN_START, project, visible=True)
        raise ExternalAINotAllowed(
            f"{spec.title} sends footage to an external AI provider, and {project.studio.name} does not allow that. "
            "A studio admin can change this in the studio settings."
        )
    if params is not None and not isinstance(params, Mapping):
        raise ValidationError({"params": ["Parameters must be an object of name: value."]})
    try:
        parsed = spec.parse_params(dict(params or {}))
    except BadParams as exc:
        raise _param_errors(spec, exc) from None
    wanted_ai = external_ai_params(spec, parsed.model_dump(mode="json"))
    if wanted_ai and not project.studio.allow_external_ai:
        record_denial(actor, Action.TOOLRUN_START, project, visible=True)
        raise ExternalAINotAllowed(
            f"{', '.join(wanted_ai)} would send material to an external AI provider, and {project.studio.name} "
            "does not allow that. Turn it off, or ask a studio admin to change the studio settings."
        )
    if wanted_ai:
        # Which model provider the run may reach: one the studio allows, or refused here before anything is sent.
        chosen = run_provider(actor=actor, project=project, spec=spec, params=parsed.model_dump(mode="json"))
        try:
            parsed = spec.parse_params(chosen)
        except BadParams as exc:
            raise _param_errors(exc) from None
    pairs, problems = _normalize_input_ids(input_version_ids)
    if problems:
        raise ValidationError({"inputs": problems})
    inputs = _bind_inputs(spec, project, pairs)
    sheet = sheet_inputs(spec=spec, project=project, characters=characters)
    if sheet:
        # A reference still picked by hand that is also on the sheet joins once, as the character's.
        on_sheet = {entry["version"] for entry in sheet}
        inputs = [i for i in inputs if not (i["kind"] == "reference" and i["version"] in on_sheet)]
        slot = next(s for s in spec.inputs if s.name == sheet[0]["slot"])
        count = sum(1 for i in inputs if i["slot"] == slot.name) + len(sheet)
        if slot.max_count is not None and count > slot.max_count:
            raise ValidationError(
                {
                    "characters": [
                        f"{spec.title} takes at most {slot.max_count} inputs; with the character sheet's stills that is {count}."
                    ]
                }
            )
        inputs += sheet

    with transaction.atomic():
        now = timezone.now()
        run = ToolRun(
            project=project,
            tool=spec.name,
            tool_version=spec.version,
            params=parsed.model_dump(mode="json"),
            inputs=inputs,
            created_by=actor,
            created_at=now,
            dispatched_at=now,
        )
        run.full_clean()
        run.save()
        run.input_versions.set([i["version"] for i in inputs])
        record(
            action="toolrun.start",
            actor=actor,
            project=project,
            target=run,
            details={
                "tool": spec.name,
                "tool_version": spec.version,
                "params": run.params,
                "inputs": [
                    {"version": i["version"], "slot": i["slot"], "sha256": i["sha256"]}
                    | ({"character": i["character"]} if "character" in i else {})
                    for i in inputs
                ],
            },
        )
        publish_on_commit(project.pk, "toolrun.queued", run_event(run, created_by=getattr(actor, "email", "")))
        transaction.on_commit(lambda: dispatch(run.pk))
    return run


def dispatch(run_id: int) -> None:
    """Send "run job N" to the tools queue. Never raises: a message that could not be sent is a run
    the recovery pass sends again."""
    from portal.toolruns.tasks import execute_toolrun

    try:
        execute_toolrun.apply_async((run_id,), queue=settings.TOOLRUNS_QUEUE)
    except Exception:  # noqa: BLE001 - the row is the truth; recovery re-dispatches
        log.exception("could not dispatch tool run %s; the recovery pass will", run_id)


# --- cancel -----------------------------------------------------------------------------------


def toolrun_cancel(*, actor, run: ToolRun) -> ToolRun:
    """A queued run ends cancelled at once; a running one is asked to stop and ends cancelled within
    seconds, when its worker next checks."""
    require(actor, Action.TOOLRUN_CANCEL, run)
    with transaction.atomic():
        now = timezone.now()
        updated = ToolRun.objects.filter(pk=run.pk, status=ToolRun.Status.QUEUED).update(
            status=ToolRun.Status.CANCELLED, cancel_requested=True, finished_at=now, lease_until=None, claim_token=""
        )
        if not updated:
            updated = ToolRun.objects.filter(pk=run.pk, status=ToolRun.Status.RUNNING, cancel_requested=False).update(
                cancel_requested=True, message="Stopping…"
            )
        run.refresh_from_db()
        if not updated:
            if run.is_finished:
                raise Conflict(f"This run already ended ({run.get_status_display().lower()}).", code="finished")
            return run  # a cancel already asked for: nothing more to do
        record(action="toolrun.cancel", actor=actor, project=run.project, target=run, details={"status_then": run.status})
        event = "toolrun.finished" if run.status == ToolRun.Status.CANCELLED else "toolrun.progress"
        publish_on_commit(run.project_id, event, run_event(run))
        if run.status == ToolRun.Status.CANCELLED:
            webhook_events.run_finished(run)
    return run


# --- execute ----------------------------------------------------------------------------------


def _claimable(now) -> Q:
    lapsed = Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    return Q(status=ToolRun.Status.QUEUED) | (Q(status=ToolRun.Status.RUNNING) & lapsed)


def _end_unclaimable(run_id: int, now) -> None:
    """A claimable run that must not run again: cancel asked for while its worker died, or too many attempts."""
    base = ToolRun.objects.filter(pk=run_id).filter(_claimable(now))
    with transaction.atomic():
        if base.filter(cancel_requested=True).update(
            status=ToolRun.Status.CANCELLED, finished_at=now, lease_until=None, claim_token="", message=""
        ):
            _after_end(ToolRun.objects.select_related("project__studio").get(pk=run_id), details={"reason": "cancelled"})
            return
        attempts = settings.TOOLRUN_MAX_ATTEMPTS
        if base.filter(attempts__gte=attempts).update(
            status=ToolRun.Status.FAILED,
            finished_at=now,
            lease_until=None,
            claim_token="",
            error=f"This run crashed its worker {attempts} times and was given up. Try different inputs or contact support.",
        ):
            run = ToolRun.objects.select_related("project__studio").get(pk=run_id)
            _cleanup_leftover_outputs(run)
            _after_end(run, details={"reason": "too many attempts", "attempts": run.attempts})


def _claim(run_id: int) -> tuple[ToolRun, str] | None:
    """Compare-and-set: queued (or running under a lapsed lease) -> running, attempts + 1."""
    now = timezone.now()
    token = uuid.uuid4().hex
    with transaction.atomic():
        claimed = (
            ToolRun.objects.filter(pk=run_id)
            .filter(_claimable(now))
            .filter(cancel_requested=False, attempts__lt=settings.TOOLRUN_MAX_ATTEMPTS)
            .update(
                status=ToolRun.Status.RUNNING,
                attempts=F("attempts") + 1,
                claim_token=token,
                lease_until=now + timedelta(seconds=settings.TOOLRUN_LEASE_SECONDS),
                started_at=now,
                progress=0.0,
                stage="",
                message="",
                worker=_worker_name(),
            )
        )
        if not claimed:
            _end_unclaimable(run_id, now)
            return None
        run = ToolRun.objects.select_related("project__studio").get(pk=run_id)
        if run.attempts > 1:
            run.message = f"Started again after a worker was lost (attempt {run.attempts} of {settings.TOOLRUN_MAX_ATTEMPTS})."
            ToolRun.objects.filter(pk=run.pk, claim_token=token).update(message=run.message)
        record(
            action="toolrun.running",
            project=run.project,
            target=run,
            details={"attempt": run.attempts, "worker": run.worker},
        )
        publish_on_commit(run.project_id, "toolrun.started", run_event(run))
    return run, token


def _worker_name() -> str:
    """The Celery node running the task (e.g. "worker1@host"), else host and thread: for operators."""
    from celery import current_task

    hostname = getattr(getattr(current_task, "request", None), "hostname", None) if current_task else None
    return (hostname or f"{socket.gethostname()}:{threading.current_thread().name}")[:200]


class _Heartbeat:
    """Renews the run's lease while the tool works, from its own thread (a tool may not report for
    minutes). Notices when the claim is lost, so the next cancellation check stops the tool."""

    def __init__(self, run_id: int, token: str):
        self.run_id = run_id
        self.token = token
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"toolrun-{run_id}-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        interval = max(0.5, settings.TOOLRUN_LEASE_SECONDS / 3)
        try:
            while not self._stop.wait(interval):
                try:
                    renewed = ToolRun.objects.filter(
                        pk=self.run_id, claim_token=self.token, status=ToolRun.Status.RUNNING
                    ).update(lease_until=timezone.now() + timedelta(seconds=settings.TOOLRUN_LEASE_SECONDS))
                except Exception:  # noqa: BLE001 - a database hiccup: try again at the next beat
                    log.warning("could not renew the lease of tool run %s", self.run_id, exc_info=True)
                    continue
                if not renewed:
                    self.lost = True
                    return
        finally:
            connection.close()


class _Reporter:
    """The bridge from studio_tools' progress to the row and the project's live stream."""

    def __init__(self, run: ToolRun, token: str, heartbeat: _Heartbeat):
        self.run = run
        self.token = token
        self.heartbeat = heartbeat
        self.min_interval = 1.0 / settings.TOOLRUN_MAX_EVENTS_PER_SECOND
        self._last_sent: float | None = None

    def on_update(self, update: ProgressUpdate) -> None:
        # CallbackProgress lets stage changes and completion through whatever the rate; the promise
        # of at most N events a second per run is kept here.
        now = time.monotonic()
        if self._last_sent is not None and now - self._last_sent < self.min_interval:
            return
        self._last_sent = now
        run = self.run
        run.progress = max(run.progress, min(1.0, update.fraction))
        run.stage = (update.stage or "")[:64]
        run.message = (update.message or "")[:255]
        written = ToolRun.objects.filter(pk=run.pk, claim_token=self.token, status=ToolRun.Status.RUNNING).update(
            progress=run.progress,
            stage=run.stage,
            message=run.message,
            lease_until=timezone.now() + timedelta(seconds=settings.TOOLRUN_LEASE_SECONDS),
        )
        if not written:
            raise _LostClaim()
        publish(run.project_id, "toolrun.progress", run_event(run))

    def is_cancelled(self) -> bool:
        if self.heartbeat.lost:
            raise _LostClaim()
        row = ToolRun.objects.filter(pk=self.run.pk, claim_token=self.token).values_list("status", "cancel_requested").first()
        if row is None or row[0] != ToolRun.Status.RUNNING:
            raise _LostClaim()
        return bool(row[1])


def _copy_with_sha256(key: str, target: Path, progress: Progress) -> str:
    """Copy and hash in one pass; a cancel asked for during a long copy is honoured between chunks."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with storage.open_file(key) as source:
        return sha256_copy(source, target, between_chunks=progress.check_cancelled)


def _fetch_inputs(run: ToolRun, folder: Path, progress: Progress) -> list[ToolInput]:
    """Copy each input from storage into the run's folder; it must still be the file that was chosen."""
    versions = {
        v.pk: v
        for v in AssetVersion.objects.select_related("asset").filter(
            pk__in=[i["version"] for i in run.inputs], asset__project_id=run.project_id
        )
    }
    inputs = []
    for index, item in enumerate(run.inputs):
        version = versions.get(item["version"])
        label = f"{item.get('name') or 'input'} v{item.get('number', '?')}"
        if version is None or version.status != AssetVersion.Status.READY or not version.file_key:
            raise BadInput(f"The input {label} is no longer available.")
        suffix = Path(version.original_name or "").suffix.lower()
        local = folder / f"{index}-{item['slot']}{suffix if _SAFE_SUFFIX.match(suffix) else ''}"
        digest = _copy_with_sha256(version.file_key, local, progress)
        if item.get("sha256") and digest != item["sha256"]:
            raise BadInput(f"The input {label} is not the file it was when the run started.")
        inputs.append(
            ToolInput(
                local,
                item["kind"],
                item["slot"],
                {
                    "sha256": digest,
                    "original_name": version.original_name or version.asset.name,
                    "asset": version.asset_id,
                    "version": version.pk,
                    # A reference still of the character sheet: who it shows, in what costume, in which scene.
                    **{key: item[key] for key in SHEET_METADATA_KEYS if item.get(key)},
                },
            )
        )
    return inputs


def toolrun_execute(run_id: int) -> ToolRun | None:
    """Run the tool of run `run_id` to the end. Called by the task; a second call for the same run
    (a redelivered message) is a no-op unless the first worker died."""
    claim = _claim(run_id)
    if claim is None:
        return None
    run, token = claim
    workdir = Path(tempfile.mkdtemp(prefix=f"toolrun-{run.pk}-", dir=settings.FOOTAGE_TEMP_DIR))
    heartbeat = _Heartbeat(run.pk, token)
    heartbeat.start()
    try:
        tool = get_tool(run.tool)
        if external_ai_params(tool.spec, run.params) and not run.project.studio.allow_external_ai:
            # The studio may have withdrawn its consent while the run waited in the queue.
            raise BadInput("The studio no longer allows external AI; this run asked for it and was stopped.")
        studio = run.project.studio
        allowed = allowed_provider_ids(studio) if studio.allow_external_ai else set()
        provider_param = ai_params(tool.spec)["provider"]
        requested = run.params.get(provider_param) if provider_param else None
        if external_ai_params(tool.spec, run.params) and requested and requested not in allowed:
            # ...or withdrawn the provider: stopped before the tool starts, so nothing was sent.
            raise BadInput(
                f"The model provider “{requested}” is no longer allowed for {studio.name}; this run asked for it "
                "and was stopped before anything was sent."
            )
        reporter = _Reporter(run, token, heartbeat)
        progress = CallbackProgress(
            reporter.on_update,
            reporter.is_cancelled,
            min_interval=reporter.min_interval,
            cancel_check_interval=settings.TOOLRUN_CANCEL_CHECK_SECONDS,
        )
        progress.update(0.0, stage="inputs", message="Copying the inputs")
        inputs = _fetch_inputs(run, workdir / "in", progress)
        # The seam refuses any provider outside the studio's choice (defence in depth behind the checks above).
        with ai.policy(allowed, default=requested, owner=studio.name):
            record_ = run_tool(tool, inputs, run.params, workdir / "work", progress)
        _store_outputs(run, token, record_, workdir / "derived")
    except _LostClaim:
        log.warning("tool run %s was taken over by another worker; this one stops", run.pk)
        return None
    except Cancelled:
        _finish(run, token, ToolRun.Status.CANCELLED)
    except BadInput as exc:
        _finish(run, token, ToolRun.Status.FAILED, error=exc.message)
    except UnknownTool:
        _finish(run, token, ToolRun.Status.FAILED, error=f"The tool “{run.tool}” is no longer available on this portal.")
    except SoftTimeLimitExceeded:
        _finish(run, token, ToolRun.Status.FAILED, error=TIME_LIMIT_FAILURE)
    except Exception as exc:  # noqa: BLE001 - the user gets a generic message; the traceback goes to the log
        if isinstance(exc, ToolFailed) and isinstance(exc.__cause__, SoftTimeLimitExceeded):
            _finish(run, token, ToolRun.Status.FAILED, error=TIME_LIMIT_FAILURE)
        else:
            log.exception("tool run %s (%s) failed", run.pk, run.tool)
            _finish(run, token, ToolRun.Status.FAILED, error=GENERIC_FAILURE)
    finally:
        heartbeat.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    run.refresh_from_db()
    return run


def _finish(run: ToolRun, token: str, status: str, *, error: str = "") -> bool:
    """End a failed or cancelled run (CAS on our claim); outputs half-stored by this attempt go."""
    with transaction.atomic():
        ended = ToolRun.objects.filter(pk=run.pk, claim_token=token, status=ToolRun.Status.RUNNING).update(
            status=status, error=error, finished_at=timezone.now(), lease_until=None, claim_token=""
        )
        if not ended:
            return False
        run.refresh_from_db()
        _cleanup_leftover_outputs(run)
        _after_end(run, details={"error": error} if error else {})
    return True


def _after_end(run: ToolRun, *, details: dict) -> None:
    record(action=f"toolrun.{run.status}", project=run.project, target=run, details={"attempts": run.attempts, **details})
    publish_on_commit(run.project_id, "toolrun.finished", run_event(run))
    webhook_events.run_finished(run)


# --- outputs ----------------------------------------------------------------------------------


def _version_prefix(version: AssetVersion) -> str:
    return storage.version_key(version, "").rstrip("/")


def _delete_stored(prefix: str) -> None:
    try:
        _dirs, files = storage.default_storage.listdir(prefix)
    except (FileNotFoundError, NotADirectoryError):
        return
    storage.delete_quietly(*(f"{prefix}/{name}" for name in files))


def _cleanup_leftover_outputs(run: ToolRun) -> None:
    """Outputs of an attempt that never finished (its worker died while storing them): rows and bytes go."""
    leftovers = list(
        ToolRunOutput.objects.filter(run=run)
        .exclude(version__status=AssetVersion.Status.READY)
        .select_related("version__asset__project")
    )
    for output in leftovers:
        version = output.version
        prefix = _version_prefix(version)
        asset = version.asset
        version.delete()
        if not asset.versions.exists():
            asset.delete()
        transaction.on_commit(lambda prefix=prefix: _delete_stored(prefix))
        publish_on_commit(run.project_id, "asset.changed", {"asset": asset.pk, "status": "removed"})


def _describe_output(path: Path, media_type: str, name: str):
    """(media_info for the version, the probed MediaInfo or None): media is probed like an upload."""
    if not media_type.startswith(_MEDIA_PREFIXES):
        return {"kind": "file", "media_type": media_type}, None
    from studio_tools.media import MediaRejected, probe

    try:
        media = probe(path, filename=name)
    except MediaRejected as exc:
        raise ToolFailed(f"output {name} is not readable media: {exc}") from exc
    return media.to_dict(), media


def _output_provenance(run: ToolRun, record_: RunRecord, output) -> dict[str, Any]:
    report = record_.result.report or {}
    return {
        "run": run.pk,
        "tool": record_.spec.name,
        "tool_version": record_.spec.version,
        "params": record_.params.model_dump(mode="json"),
        "inputs": [
            {
                "slot": i.slot,
                "kind": i.kind.value,
                "name": i.display_name,
                "sha256": i.sha256,
                "asset": i.metadata.get("asset"),
                "version": i.metadata.get("version"),
            }
            for i in record_.inputs
        ],
        "input_sha256": [i.sha256 for i in record_.inputs],
        "uses_external_ai": record_.spec.uses_external_ai,
        "model": report.get("model") or (report.get("ai") or {}).get("model"),
        "provider": report.get("provider"),
        "region": report.get("region"),
        "ai": report.get("ai"),
        "seed": report.get("seed"),
        "started_at": record_.started_at.isoformat(),
        "duration_seconds": round(record_.duration_seconds, 3),
        "output": output.to_dict(),
    }


def _store_outputs(run: ToolRun, token: str, record_: RunRecord, scratch: Path) -> None:
    """Outputs -> generated assets, READY with provenance, then the run succeeds: all or nothing per attempt."""
    from portal.footage.services import _make_derivatives

    described = []
    for output in record_.result.outputs:
        path = record_.output_path(output)
        info, media = _describe_output(path, output.media_type, output.path)
        described.append((output, path, info, media, path.stat().st_size))

    # 1. Rows first (status uploading: nothing else in the portal processes those), so the storage
    #    keys exist; a previous attempt's half-stored outputs go.
    with transaction.atomic():
        if not ToolRun.objects.filter(pk=run.pk, claim_token=token, status=ToolRun.Status.RUNNING).exists():
            raise _LostClaim()
        _cleanup_leftover_outputs(run)
        created = []
        for output, path, info, media, size in described:
            asset = Asset(
                project_id=run.project_id,
                name=(output.label or f"{run.tool} {output.name}")[:200],
                kind=Asset.Kind.GENERATED,
                created_by=run.created_by,
            )
            asset.full_clean()
            asset.save()
            version = AssetVersion.objects.create(
                asset=asset,
                number=1,
                status=AssetVersion.Status.UPLOADING,
                original_name=Path(output.path).name,
                size=size,
                media_info=info,
                provenance=_output_provenance(run, record_, output),
                uploaded_by=run.created_by,
            )
            ToolRunOutput.objects.create(
                run=run,
                name=output.name,
                kind=output.kind.value,
                media_type=output.media_type,
                label=output.label[:200],
                version=version,
            )
            created.append((version, output, path, media))

    # 2. Bytes, outside any transaction.
    stored: list[tuple[AssetVersion, str, dict]] = []
    try:
        for version, output, path, media in created:
            fields = {"sha256": sha256_file(path), "file_key": storage.save_file(storage.version_key(version, "original"), path)}
            if media is not None:
                # Proxy, poster, filmstrip, waveform: the same derivatives as uploaded footage.
                folder = scratch / str(version.pk)
                folder.mkdir(parents=True, exist_ok=True)
                fields.update(_make_derivatives(version, media, path, folder))
            stored.append((version, output.name, fields))

        # 3. Ready, and the run succeeded, in one transaction conditional on our claim.
        with transaction.atomic():
            now = timezone.now()
            report = record_.result.report or {}
            provenance = {
                **record_.provenance(),
                "model": report.get("model") or (report.get("ai") or {}).get("model"),
                "provider": report.get("provider"),
                "region": report.get("region"),
                "ai": report.get("ai"),
                "seed": report.get("seed"),
            }
            done = ToolRun.objects.filter(pk=run.pk, claim_token=token, status=ToolRun.Status.RUNNING).update(
                status=ToolRun.Status.SUCCEEDED,
                progress=1.0,
                stage="done",
                message="",
                finished_at=now,
                lease_until=None,
                claim_token="",
                report=record_.result.report,
                metrics=record_.result.metrics,
                provenance=provenance,
            )
            if not done:
                raise _LostClaim()
            for version, name, fields in stored:
                AssetVersion.objects.filter(pk=version.pk).update(status=AssetVersion.Status.READY, ready_at=now, **fields)
                record(
                    action="toolrun.output",
                    project=run.project,
                    target=version,
                    details={"run": run.pk, "name": name, "sha256": fields["sha256"]},
                )
                publish_on_commit(
                    run.project_id, "asset.ready", {"asset": version.asset_id, "version": version.pk, "status": "ready"}
                )
                webhook_events.asset_ready(version, project=run.project)
            _import_findings(run, record_)
            run.refresh_from_db()
            ended = {"outputs": [v.pk for v, _n, _f in stored], "duration_seconds": provenance["duration_seconds"]}
            if provenance["ai"]:
                # Where the run's material went: provider, region, model, request ids, tokens and cost.
                ended["ai"] = provenance["ai"]
            _after_end(run, details=ended)
    except BaseException:
        # Whatever made it to storage for this attempt goes; the rows go with the run's failure or the
        # next attempt's clean-up.
        for version, _output, _path, _media in created:
            _delete_stored(_version_prefix(version))
        raise


def _import_findings(run: ToolRun, record_: RunRecord) -> int:
    """A tool that writes findings.json (continuity) has its findings shown in review as machine-made
    notes, each on the input version and frame where the break is seen, with its box and confidence.
    Findings of an external model stay labelled as such (finding_data.source == "model")."""
    from portal.review.services import findings_import

    output = next((o for o in record_.result.outputs if Path(str(o.path)).name == "findings.json"), None)
    if output is None:
        return 0
    try:
        findings = json.loads(record_.output_path(output).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        log.exception("tool run %s wrote an unreadable findings.json", run.pk)
        return 0
    version_of_input = {index: entry["version"] for index, entry in enumerate(run.inputs)}
    by_version: dict[int, list[dict]] = {}
    for finding in findings if isinstance(findings, list) else []:
        at = finding.get("at")
        seen = at if isinstance(at, dict) else (finding.get(at or "incoming") or {})
        version_id = version_of_input.get(seen.get("input"))
        if version_id is None:
            continue
        box = seen.get("box")
        label = "[model] " if finding.get("source") == "model" else ""
        by_version.setdefault(version_id, []).append(
            {
                **finding,
                "frame": seen.get("frame", 0),
                "box": [box["x"], box["y"], box["w"], box["h"]] if isinstance(box, dict) else None,
                "explanation": label + str(finding.get("explanation") or finding.get("type") or "finding"),
            }
        )
    versions = AssetVersion.objects.select_related("asset__project__studio").in_bulk(list(by_version))
    count = 0
    for version_id, items in by_version.items():
        count += len(findings_import(run=run, version=versions[version_id], findings=items))
    return count


# --- recovery ---------------------------------------------------------------------------------


def toolruns_recover(*, now=None) -> dict[str, int]:
    """At start-up and periodically: no run is ever lost.

    - running, lease lapsed (its worker died): dispatched again; the claim takes it over, or fails it
      once it has used up its attempts, or ends it cancelled if a cancel was asked for meanwhile;
    - queued, but its message is older than TOOLRUN_REDISPATCH_SECONDS (lost with a broker restart,
      or with the process on the in-memory broker): dispatched again; the claim makes doubles no-ops;
    - queued for longer than TOOLRUN_QUEUED_TIMEOUT_SECONDS: failed, with a message saying so."""
    now = now or timezone.now()
    counts = {"redispatched": 0, "ended": 0}
    give_up = now - timedelta(seconds=settings.TOOLRUN_QUEUED_TIMEOUT_SECONDS)
    for run_id in ToolRun.objects.filter(status=ToolRun.Status.QUEUED, created_at__lt=give_up).values_list("pk", flat=True)[:200]:
        with transaction.atomic():
            if ToolRun.objects.filter(pk=run_id, status=ToolRun.Status.QUEUED).update(
                status=ToolRun.Status.FAILED,
                finished_at=now,
                error="No worker picked this run up in time. Start it again; if it keeps happening, contact support.",
            ):
                _after_end(ToolRun.objects.select_related("project__studio").get(pk=run_id), details={"reason": "never started"})
                counts["ended"] += 1

    stale_message = now - timedelta(seconds=settings.TOOLRUN_REDISPATCH_SECONDS)
    if settings.CELERY_BROKER_URL.startswith("memory://"):
        stale_message = max(stale_message, _PROCESS_STARTED_AT)
    elif broker_lost_its_messages():
        # A Redis restart (or flush) took every queued message with it: every queued run is sent
        # again now, not after TOOLRUN_REDISPATCH_SECONDS (the claim makes any double a no-op).
        stale_message = now
        counts["broker_restarted"] = 1
    lost_queued = Q(status=ToolRun.Status.QUEUED) & (Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=stale_message))
    dead_running = Q(status=ToolRun.Status.RUNNING) & (Q(lease_until__isnull=True) | Q(lease_until__lt=now))
    for run_id, attempts, cancel_requested in (
        ToolRun.objects.filter(lost_queued | dead_running).order_by("pk").values_list("pk", "attempts", "cancel_requested")[:500]
    ):
        if cancel_requested or attempts >= settings.TOOLRUN_MAX_ATTEMPTS:
            # Nothing left to run: end it here rather than wait for a worker to say so.
            _end_unclaimable(run_id, now)
            counts["ended"] += 1
            continue
        if ToolRun.objects.filter(pk=run_id).filter(lost_queued | dead_running).update(dispatched_at=now):
            transaction.on_commit(lambda run_id=run_id: dispatch(run_id))
            counts["redispatched"] += 1
    counts["swept"] = sweep_scratch()
    if any(counts.values()):
        log.info("tool run recovery: %s", counts)
    return counts


BROKER_MARK = "portal:toolruns:broker-mark"


def broker_lost_its_messages() -> bool:
    """True when the Redis broker came back empty since the last recovery pass: a mark this pass
    leaves there (no expiry) is missing. Redis keeps nothing on disk in the shipped setup, so a
    restart loses the queue and the mark together. The first pass after a deploy finds no mark
    either: it sends queued runs again, which the claim makes harmless."""
    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://")):
        return False
    import redis

    try:
        client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        return bool(client.set(BROKER_MARK, timezone.now().isoformat(), nx=True))
    except redis.RedisError:
        log.warning("tool run recovery: the broker cannot be reached to check for a restart")
        return False


_SCRATCH_RE = re.compile(r"^toolrun-(\d+)-")


def sweep_scratch() -> int:
    """Temp folders left on this machine by a worker that died mid-run (a clean end removes its own):
    removed once their run is over or gone. Folders of runs still running are left alone."""
    root = Path(settings.FOOTAGE_TEMP_DIR)
    found: dict[int, list[Path]] = {}
    for entry in root.iterdir() if root.is_dir() else ():
        match = _SCRATCH_RE.match(entry.name)
        if match and entry.is_dir():
            found.setdefault(int(match.group(1)), []).append(entry)
    if not found:
        return 0
    running = set(ToolRun.objects.filter(pk__in=found, status=ToolRun.Status.RUNNING).values_list("pk", flat=True))
    removed = 0
    for run_id, folders in found.items():
        if run_id in running:
            continue
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed
