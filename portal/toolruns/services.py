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
from collections.abc import Iterable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from portal import jobs
from portal.access.enforce import record_denial, require
from portal.access.policy import Action, can, conditions_hold
from portal.audit.services import record
from portal.characters.runs import METADATA_KEYS as SHEET_METADATA_KEYS
from portal.characters.runs import sheet_inputs
from portal.core.errors import Conflict, ServiceError
from portal.footage import services as footage
from portal.footage import storage
from portal.footage.models import AssetVersion
from portal.live.services import publish, publish_on_commit
from portal.projects.models import Project
from portal.providers.selectors import ai_params, allowed_provider_ids
from portal.providers.services import run_provider
from portal.toolruns import wording
from portal.toolruns.models import GENERIC_FAILURE, TIME_LIMIT_FAILURE, ToolRun, ToolRunOutput
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
from studio_tools.media.hashing import sha256_copy

log = logging.getLogger(__name__)

# Media types that are probed and get browser derivatives (proxy, poster...) like uploaded footage.
_MEDIA_PREFIXES = ("video/", "image/", "audio/")
_SAFE_SUFFIX = re.compile(r"^\.[a-z0-9]{1,8}$")


class ExternalAINotAllowed(ServiceError):
    status_code = 403

    def __init__(self, message: str):
        super().__init__(message, code="external_ai_not_allowed")


class _LostClaim(Cancelled):
    """Another worker took the run over (our lease lapsed): stop quietly, write nothing.

    A Cancelled, so the studio_tools driver lets it through unwrapped like a cancellation."""

    def __init__(self) -> None:
        super().__init__("lost the claim on this run")


class _ServerStopping(Cancelled):
    """The process running the tool is stopping (Ctrl-C on the embedded default's server): the run goes
    back to the queue, untouched by this attempt, and starts again with the next server."""

    def __init__(self) -> None:
        super().__init__("the server is stopping")


# --- events -----------------------------------------------------------------------------------


def run_event(run: ToolRun, **extra: Any) -> dict[str, Any]:
    """What pages hear about a run (the job engine's one event shape): enough to draw its row
    without asking the server."""
    elapsed = run.elapsed_seconds()
    eta = run.eta_seconds()
    return jobs.progress_event(
        JOB_KIND,
        run.pk,
        status=run.status,
        progress=run.progress,
        stage=run.stage,
        message=run.message,
        attempts=run.attempts,
        run=run.pk,
        tool=run.tool,
        cancel_requested=run.cancel_requested,
        elapsed=round(elapsed, 1) if elapsed is not None else None,
        eta=round(eta, 1) if eta is not None else None,
        **extra,
    )


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


class _Auto:
    """`new_version_of` left to the portal: the newest succeeded run of the tool on the same input assets."""

    def __repr__(self) -> str:
        return "AUTO"


AUTO: Any = _Auto()
# How far back the automatic match looks (succeeded runs of the tool in the project, newest first).
AUTO_MATCH_LOOKBACK = 200


def input_assets(inputs: Iterable[Mapping[str, Any]]) -> list[tuple[str, int]]:
    """What makes two runs "on the same inputs": each input's slot and *asset* (not version), so a run
    after uploading v2 of the plate still stacks its outputs on the first run's."""
    return sorted((str(i.get("slot")), int(i.get("asset") or 0)) for i in inputs)


def resolve_new_version_of(*, spec: ToolSpec, project: Project, inputs, choice: Any) -> ToolRun | None:
    """The earlier run whose outputs this run's outputs will be the next versions of, or None (new assets).

    AUTO: the newest succeeded run of the same tool in the project over the same input assets (slot
    and asset; the versions may differ). None (or "", "new"): new assets. A run id: that run, which
    must be a succeeded run of the same tool in the same project; anything else is refused in words
    (a run of another project answers like one that does not exist)."""
    if choice is AUTO:
        wanted = input_assets(inputs)
        candidates = (
            ToolRun.objects.filter(project=project, tool=spec.name, status=ToolRun.Status.SUCCEEDED)
            .order_by("-created_at", "-pk")
            .values_list("pk", "inputs")[:AUTO_MATCH_LOOKBACK]
        )
        match = next((pk for pk, earlier_inputs in candidates if input_assets(earlier_inputs or []) == wanted), None)
        return None if match is None else ToolRun.objects.get(pk=match)
    if choice is None or choice == "" or choice == "new":
        return None
    if isinstance(choice, bool) or not (isinstance(choice, int) or (isinstance(choice, str) and choice.isdigit())):
        raise ValidationError(
            {"new_version_of": [_("Give the number of an earlier run of this tool, or nothing for new assets.")]}
        )
    earlier = ToolRun.objects.filter(project=project, pk=int(choice)).first()
    if earlier is None:
        raise ValidationError({"new_version_of": [_("There is no run #%(run)s in this project.") % {"run": choice}]})
    if earlier.tool != spec.name:
        raise ValidationError(
            {
                "new_version_of": [
                    _(
                        "Run #%(run)s is a run of %(other)s: the outputs of %(tool)s can only be new versions of an "
                        "earlier %(tool)s run."
                    )
                    % {"run": earlier.pk, "other": wording.tool_title(earlier.tool), "tool": wording.tool_title(spec)}
                ]
            }
        )
    if earlier.status != ToolRun.Status.SUCCEEDED:
        raise ValidationError(
            {
                "new_version_of": [
                    _("Run #%(run)s did not succeed (%(status)s): it has no outputs to make new versions of.")
                    % {"run": earlier.pk, "status": earlier.get_status_display().lower()}
                ]
            }
        )
    return earlier


def external_ai_params(spec: ToolSpec, params: Mapping[str, Any]) -> list[str]:
    """Parameters switched on that would send material to an external AI provider: a tool marks
    them `"x-external-ai": true` in its parameter schema, so the one policy can police them."""
    properties = (spec.params_schema() or {}).get("properties", {})
    return [name for name, schema in properties.items() if schema.get("x-external-ai") and params.get(name)]


def toolrun_create(
    *,
    actor,
    project: Project,
    tool: str,
    params: Mapping[str, Any] | None,
    input_version_ids,
    characters: Any = None,
    new_version_of: Any = AUTO,
) -> ToolRun:
    """Start a run: checked, recorded, announced, and handed to a worker once the transaction commits.

    `characters` checks the run against the project's character sheet: "all", or a list of character
    ids; their reference stills join the inputs (portal/characters/runs.py).

    `new_version_of` says what the outputs become (see `resolve_new_version_of`): AUTO (the default)
    stacks them on the newest succeeded run of this tool over the same input assets, if there is one;
    a run id stacks them on that run's outputs; None makes new assets."""
    require(actor, Action.TOOLRUN_START, project)
    spec: ToolSpec = _lookup_tool(tool).spec
    if spec.uses_external_ai and not can(actor, Action.EXTERNAL_AI_USE, project):
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
    if wanted_ai and not can(actor, Action.EXTERNAL_AI_USE, project):
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
            raise _param_errors(spec, exc) from None
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
    earlier = resolve_new_version_of(spec=spec, project=project, inputs=inputs, choice=new_version_of)

    with transaction.atomic():
        now = timezone.now()
        run = ToolRun(
            project=project,
            tool=spec.name,
            tool_version=spec.version,
            params=parsed.model_dump(mode="json"),
            inputs=inputs,
            new_version_of=earlier,
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
                "new_version_of": earlier.pk if earlier is not None else None,
            },
        )
        publish_on_commit(project.pk, "toolrun.queued", run_event(run, created_by=getattr(actor, "email", "")))
        jobs.enqueue_on_commit(JOB_KIND, run.pk)
    return run


def dispatch(run_id: int) -> None:
    """Send "run job N" now (outside any transaction). Never raises: see jobs.enqueue."""
    jobs.enqueue(JOB_KIND, run_id)


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


def _end_unclaimable(run_id: int, now) -> bool:
    """A claimable run that must not run again: cancel asked for while its worker died, or too many
    attempts. The job engine calls it when a claim or the recovery pass finds such a run."""
    base = ToolRun.objects.filter(pk=run_id).filter(jobs.handler(JOB_KIND).claimable(now))
    with transaction.atomic():
        if base.filter(cancel_requested=True).update(
            status=ToolRun.Status.CANCELLED, finished_at=now, lease_until=None, claim_token="", message=""
        ):
            _after_end(ToolRun.objects.select_related("project__studio").get(pk=run_id), details={"reason": "cancelled"})
            return True
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
            return True
    return False


def _claim_fields(now) -> dict[str, Any]:
    return {"started_at": now, "progress": 0.0, "stage": "", "message": "", "worker": _worker_name()}


def _claimed(job: jobs.Claim) -> None:
    """Inside the claim's transaction: the run is on record and on the pages as started."""
    run = ToolRun.objects.select_related("project__studio").get(pk=job.object_id)
    if run.attempts > 1:
        run.message = f"Started again after a worker was lost (attempt {run.attempts} of {settings.TOOLRUN_MAX_ATTEMPTS})."
        ToolRun.objects.filter(pk=run.pk, claim_token=job.token).update(message=run.message)
    record(action="toolrun.running", project=run.project, target=run, details={"attempt": run.attempts, "worker": run.worker})
    publish_on_commit(run.project_id, "toolrun.started", run_event(run))
    job.row = run


def _claim(run_id: int) -> tuple[ToolRun, str] | None:
    """Compare-and-set (by the job engine): queued (or running under a lapsed lease) -> running, attempts + 1."""
    job = jobs.claim(JOB_KIND, run_id)
    return None if job is None else (job.row, job.token)


def _worker_name() -> str:
    """The Celery node running the task (e.g. "worker1@host"), else host and thread: for operators."""
    from celery import current_task

    hostname = getattr(getattr(current_task, "request", None), "hostname", None) if current_task else None
    return (hostname or f"{socket.gethostname()}:{threading.current_thread().name}")[:200]


class _Heartbeat(jobs.Heartbeat):
    """The engine's heartbeat on a run's claim."""

    def __init__(self, run_id: int, token: str):
        super().__init__(jobs.Claim(JOB_KIND, run_id, token))


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
        if jobs.stop_requested():
            raise _ServerStopping()
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
        if external_ai_params(tool.spec, run.params) and not conditions_hold(Action.EXTERNAL_AI_USE, run.project):
            # The studio may have withdrawn its consent while the run waited in the queue (the policy's
            # condition on the object: the worker has no caller to ask about).
            raise BadInput("The studio no longer allows external AI; this run asked for it and was stopped.")
        studio = run.project.studio
        allowed = allowed_provider_ids(studio) if conditions_hold(Action.EXTERNAL_AI_USE, studio) else set()
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
    except _ServerStopping:
        _hand_back(run, token)
    except Cancelled:
        _finish(run, token, ToolRun.Status.CANCELLED)
    except BadInput as exc:
        # the message's machine form too, when the tool gave one: the run page words it in the reader's language
        words = getattr(exc, "words", None)
        _finish(run, token, ToolRun.Status.FAILED, error=exc.message, report={"error": words} if words else None)
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


def _hand_back(run: ToolRun, token: str) -> bool:
    """The server stopped under the run: back to the queue as if this attempt had not been made (it was
    not the run's fault), for the next server's recovery pass to send again. Quiet: the process is going."""
    with transaction.atomic():
        handed = ToolRun.objects.filter(pk=run.pk, claim_token=token, status=ToolRun.Status.RUNNING).update(
            status=ToolRun.Status.QUEUED,
            attempts=F("attempts") - 1,
            claim_token="",
            lease_until=None,
            dispatched_at=None,
            started_at=None,
            progress=0.0,
            stage="",
            message="The server stopped during this run; it starts again when the server is back.",
        )
        if not handed:
            return False
        run.refresh_from_db()
        _cleanup_leftover_outputs(run)
        record(action="toolrun.requeued", project=run.project, target=run, details={"reason": "server stopped"})
    log.info("tool run %s handed back to the queue: the server is stopping", run.pk)
    return True


def _finish(run: ToolRun, token: str, status: str, *, error: str = "", report: dict | None = None) -> bool:
    """End a failed or cancelled run (CAS on our claim); outputs half-stored by this attempt go."""
    with transaction.atomic():
        ended = ToolRun.objects.filter(pk=run.pk, claim_token=token, status=ToolRun.Status.RUNNING).update(
            status=status,
            error=error,
            finished_at=timezone.now(),
            lease_until=None,
            claim_token="",
            **({"report": report} if report is not None else {}),
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


def _cleanup_leftover_outputs(run: ToolRun) -> None:
    """Outputs of an attempt that never finished (its worker died while storing them): rows and bytes go."""
    leftovers = list(
        ToolRunOutput.objects.filter(run=run)
        .exclude(version__status=AssetVersion.Status.READY)
        .select_related("version__asset__project")
    )
    for output in leftovers:
        footage.generated_version_discard(version=output.version)


def _earlier_output_assets(run: ToolRun) -> dict[str, int]:
    """{output name: asset id} of the run this one is a new version of (nothing when it is not one)."""
    if run.new_version_of_id is None:
        return {}
    return dict(
        ToolRunOutput.objects.filter(run_id=run.new_version_of_id).values_list("name", "version__asset_id").order_by("pk")
    )


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
        "new_version_of_run": run.new_version_of_id,
        "started_at": record_.started_at.isoformat(),
        "duration_seconds": round(record_.duration_seconds, 3),
        "output": output.to_dict(),
    }


def _store_outputs(run: ToolRun, token: str, record_: RunRecord, scratch: Path) -> None:
    """Outputs -> generated versions (footage's services), READY with provenance, then the run
    succeeds: all or nothing per attempt."""
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
        # A new version of an earlier run: each output named like one of its outputs stacks on that
        # output's asset (locked first, in order: assets before versions), the others are new assets.
        stack_on = _earlier_output_assets(run)
        locked = footage.generated_assets_lock(project_id=run.project_id, asset_ids=stack_on.values())
        _cleanup_leftover_outputs(run)
        created = []
        for output, path, info, media, size in described:
            asset_id = stack_on.get(output.name)
            version = footage.generated_version_create(
                project_id=run.project_id,
                name=output.label or f"{run.tool} {output.name}",
                created_by=run.created_by,
                original_name=Path(output.path).name,
                size=size,
                media_info=info,
                provenance=_output_provenance(run, record_, output),
                asset_id=asset_id if asset_id in locked else None,
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

    # 2. Bytes (and the derivatives uploaded footage gets), outside any transaction.
    stored: list[tuple[AssetVersion, str, dict]] = []
    try:
        for version, output, path, media in created:
            fields = footage.generated_version_store(version=version, path=path, media=media, scratch=scratch)
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
                footage.generated_version_ready(version=version, fields=fields, now=now)
                record(
                    action="toolrun.output",
                    project=run.project,
                    target=version,
                    details={"run": run.pk, "name": name, "sha256": fields["sha256"]},
                )
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
            footage.version_files_delete(version)
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


# --- the job ---------------------------------------------------------------------------------


def _expire_queued(now) -> int:
    """Queued for longer than TOOLRUN_QUEUED_TIMEOUT_SECONDS: failed, with a message saying so."""
    ended = 0
    give_up = now - timedelta(seconds=settings.TOOLRUN_QUEUED_TIMEOUT_SECONDS)
    for run_id in ToolRun.objects.filter(status=ToolRun.Status.QUEUED, created_at__lt=give_up).values_list("pk", flat=True)[:200]:
        with transaction.atomic():
            if ToolRun.objects.filter(pk=run_id, status=ToolRun.Status.QUEUED).update(
                status=ToolRun.Status.FAILED,
                finished_at=now,
                error="No worker picked this run up in time. Start it again; if it keeps happening, contact support.",
            ):
                _after_end(ToolRun.objects.select_related("project__studio").get(pk=run_id), details={"reason": "never started"})
                ended += 1
    return ended


JOB_KIND = "toolrun"
JOB = jobs.Handler(
    kind=JOB_KIND,
    execute=lambda run_id: toolrun_execute(run_id),
    queue=jobs.from_settings("TOOLRUNS_QUEUE"),
    soft_time_limit=jobs.from_settings("TOOLRUN_SOFT_TIME_LIMIT"),
    time_limit=jobs.from_settings("TOOLRUN_TIME_LIMIT"),
    model=ToolRun,
    waiting=ToolRun.Status.QUEUED,
    running=ToolRun.Status.RUNNING,
    lease_seconds=jobs.from_settings("TOOLRUN_LEASE_SECONDS"),
    max_attempts=jobs.from_settings("TOOLRUN_MAX_ATTEMPTS"),
    redispatch_seconds=jobs.from_settings("TOOLRUN_REDISPATCH_SECONDS"),
    claim_filter=Q(cancel_requested=False),
    claim_fields=_claim_fields,
    on_claimed=_claimed,
    end=_end_unclaimable,
    expire=_expire_queued,
    sweep=lambda: sweep_scratch(),
)


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
