"""A tool run: one execution of a studio tool over chosen inputs of a project, and its outputs.

The row is the source of truth for the job: the broker only carries "run job N". A worker claims a
run with a compare-and-set that writes a fresh `claim_token` and a lease; every later write of that
worker is conditional on the token, so a worker that lost the run (its lease lapsed and another
worker took over) can no longer change it."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from portal.footage.models import AssetVersion
from portal.projects.models import Project
from portal.toolruns import messages

# The failures the portal words itself (stored in English, as the audit log keeps them; shown translated).
# A tool's own message about the user's input is stored and shown as the tool wrote it.
GENERIC_FAILURE = gettext_noop(
    "The tool stopped with an internal error. The studio's engineers have the details; try again or contact support."
)
TIME_LIMIT_FAILURE = gettext_noop("The run took longer than the portal allows and was stopped.")
PORTAL_ERRORS = frozenset({GENERIC_FAILURE, TIME_LIMIT_FAILURE})


class ToolRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    ACTIVE = (Status.QUEUED, Status.RUNNING)
    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tool_runs")
    tool = models.CharField(_("tool"), max_length=64)
    tool_version = models.CharField(_("tool version"), max_length=64)
    params = models.JSONField(default=dict, blank=True)
    # One entry per input as chosen at start: version and asset ids, slot, kind, name and the SHA-256
    # the version had then (the worker checks its copy against it).
    inputs = models.JSONField(default=list, blank=True)
    input_versions = models.ManyToManyField(AssetVersion, related_name="input_of_runs", blank=True)
    # The earlier run of the same tool in the same project whose outputs this run's outputs are the next
    # versions of (an output of the same name stacks on that output's asset; one with no match is a new
    # asset). Chosen at start: by the user, or found (the newest succeeded run on the same input assets).
    new_version_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="new_versions", verbose_name=_("new version of")
    )

    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    progress = models.FloatField(default=0.0)
    stage = models.CharField(max_length=64, blank=True)
    message = models.CharField(max_length=255, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    claim_token = models.CharField(max_length=32, blank=True)
    # Renewed by the worker while it works; a lapsed lease means the worker died.
    lease_until = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True)

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    # Shown to the user as is: never a traceback or a server path (those go to the logs).
    error = models.TextField(blank=True)
    report = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    provenance = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["project", "-created_at"]),
            models.Index(fields=["status", "lease_until"]),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(progress__gte=0.0, progress__lte=1.0), name="toolrun_progress_0_1"),
        ]

    def __str__(self):
        return f"{self.tool} run #{self.pk}"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def summary_lines(self) -> list[str]:
        """Plain lines a tool's report gives for people (`report["summary_lines"]`): shown on the run page and in the API."""
        lines = self.report.get("summary_lines") if isinstance(self.report, dict) else None
        return [str(line) for line in lines] if isinstance(lines, list) else []

    @property
    def warnings(self) -> list[str]:
        """What the tool says went short of the request (`report["warnings"]`: a shortfall, a fallback, a check
        not made): shown above the outputs on the run page and in the API, never only in the JSON report."""
        lines = self.report.get("warnings") if isinstance(self.report, dict) else None
        return [str(line) for line in lines if str(line).strip()] if isinstance(lines, list) else []

    def _said(self, key: str) -> list:
        """The machine form of the report's lines under `key` (`report["messages"][key]`: {code, params, text})."""
        said = self.report.get("messages") if isinstance(self.report, dict) else None
        items = said.get(key) if isinstance(said, dict) else None
        return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []

    @property
    def summary_messages(self) -> list:
        """`summary_lines` with their code and params, for front ends that word them themselves (the API)."""
        return self._said("summary_lines")

    @property
    def warning_messages(self) -> list:
        """`warnings` with their code and params, for front ends that word them themselves (the API)."""
        return self._said("warnings")

    @property
    def shown_summary_lines(self) -> list[str]:
        """The summary lines in the reader's language (the tool's English for a line it gave no code)."""
        return messages.render_lines(self.summary_lines, self.summary_messages)

    @property
    def shown_warnings(self) -> list[str]:
        """The warnings in the reader's language (the tool's English for a line it gave no code)."""
        return messages.render_lines(self.warnings, self.warning_messages)

    @property
    def error_text(self) -> str:
        """The error for the page, in the reader's language: the portal's own, and a tool's message about its
        input when the tool gave its code (`report["error"]`, written with the failure); else the tool's words."""
        if self.error in PORTAL_ERRORS:
            return gettext(self.error)
        said = self.report.get("error") if isinstance(self.report, dict) else None
        if isinstance(said, dict) and said.get("text") == self.error:
            return messages.render(said)
        return self.error

    def elapsed_seconds(self, now=None) -> float | None:
        if self.started_at is None:
            return None
        end = self.finished_at or now or timezone.now()
        return max(0.0, (end - self.started_at).total_seconds())

    def eta_seconds(self, now=None) -> float | None:
        """Time left, extrapolated from the progress so far (None until there is enough to go on)."""
        elapsed = self.elapsed_seconds(now)
        if self.status != self.Status.RUNNING or elapsed is None or self.progress < 0.02 or self.progress >= 1.0:
            return None
        return elapsed * (1.0 - self.progress) / self.progress


class ToolRunOutput(models.Model):
    """One output file of a run, stored as a generated asset version. Unique per run and name, so a
    retried run can never leave two sets of outputs."""

    run = models.ForeignKey(ToolRun, on_delete=models.CASCADE, related_name="outputs")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16)
    media_type = models.CharField(max_length=100)
    label = models.CharField(max_length=200, blank=True)
    version = models.OneToOneField(AssetVersion, on_delete=models.CASCADE, related_name="tool_output")

    class Meta:
        ordering = ["run", "name"]
        constraints = [models.UniqueConstraint(fields=["run", "name"], name="uniq_toolrun_output_name")]

    def __str__(self):
        return f"{self.run} → {self.name}"

    @property
    def project(self) -> Project:
        return self.run.project

    @property
    def shown_label(self) -> str:
        """The label in the reader's language where it is one of the tool's fixed sentences (a narration label)."""
        return messages.render_known(self.label)


class RecapSignoff(models.Model):
    """A producer's sign-off of one narration sentence of a recap run that the verifier could not
    establish ("unverified"). Bound to the sentence's exact text (SHA-256): a sign-off never carries
    over to other words. Until every unverified sentence of the run is signed off, its outputs can be
    neither approved nor exported."""

    run = models.ForeignKey(ToolRun, on_delete=models.CASCADE, related_name="signoffs")
    sentence = models.CharField(_("sentence"), max_length=16)
    text_sha256 = models.CharField(max_length=64)
    text = models.TextField(_("text"))
    signed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    signed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["run", "signed_at", "pk"]
        constraints = [models.UniqueConstraint(fields=["run", "sentence", "text_sha256"], name="uniq_recap_signoff_sentence")]

    def __str__(self):
        return f"{self.run} {self.sentence} signed by {self.signed_by_id}"
