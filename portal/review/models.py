"""Review: notes on frames (human, or machine findings kept apart), drawings, the producer's
decision on generated plates, and notifications."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.footage.models import AssetVersion
from portal.projects.models import Project


class Note(models.Model):
    class Source(models.TextChoices):
        HUMAN = "human", _("Person")
        MACHINE = "machine", _("Machine")

    class FindingState(models.TextChoices):
        OPEN = "open", _("Open")
        ACCEPTED = "accepted", _("Accepted")
        DISMISSED = "dismissed", _("Dismissed")

    version = models.ForeignKey(AssetVersion, on_delete=models.CASCADE, related_name="notes")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="replies")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.HUMAN)
    frame_start = models.PositiveIntegerField()
    frame_end = models.PositiveIntegerField(null=True, blank=True)
    text = models.TextField(max_length=5000)
    mentions = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="mentioned_in")
    resolved = models.BooleanField(default=False)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    resolved_at = models.DateTimeField(null=True, blank=True)
    # Machine findings (continuity and the like): what, how sure, the measured details, who ran it.
    finding_type = models.CharField(max_length=32, blank=True)
    confidence = models.FloatField(null=True, blank=True)
    finding_data = models.JSONField(default=dict, blank=True)
    finding_state = models.CharField(max_length=10, choices=FindingState.choices, blank=True)
    finding_decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    tool_run = models.ForeignKey("toolruns.ToolRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="findings")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["frame_start", "created_at", "pk"]
        indexes = [models.Index(fields=["version", "source", "frame_start"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(frame_end__isnull=True) | models.Q(frame_end__gte=models.F("frame_start")),
                name="note_range_ordered",
            ),
            models.CheckConstraint(
                condition=models.Q(confidence__isnull=True) | models.Q(confidence__gte=0.0, confidence__lte=1.0),
                name="note_confidence_0_1",
            ),
        ]

    def __str__(self):
        return f"note {self.pk} at frame {self.frame_start}"

    @property
    def project(self) -> Project:
        return self.version.asset.project

    @property
    def is_machine(self) -> bool:
        return self.source == self.Source.MACHINE


class Drawing(models.Model):
    """Shapes drawn on one frame, in normalized 0-1 coordinates of the picture, attached to a note."""

    note = models.OneToOneField(Note, on_delete=models.CASCADE, related_name="drawing")
    frame = models.PositiveIntegerField()
    shapes = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"drawing on frame {self.frame}"


class Decision(models.Model):
    """A producer's decision on one generated version, bound to the exact bytes (SHA-256)."""

    class Verdict(models.TextChoices):
        APPROVED = "approved", _("Approved")
        CHANGES_REQUESTED = "changes_requested", _("Changes requested")
        REJECTED = "rejected", _("Rejected")

    version = models.ForeignKey(AssetVersion, on_delete=models.CASCADE, related_name="decisions")
    verdict = models.CharField(max_length=20, choices=Verdict.choices)
    sha256 = models.CharField(max_length=64)
    note = models.TextField(blank=True, max_length=5000)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    # Set when the decision was made for a whole set at once (a run's outputs): which one.
    decision_set = models.ForeignKey("DecisionSet", null=True, blank=True, on_delete=models.RESTRICT, related_name="decisions")

    class Meta:
        ordering = ["-created_at", "-pk"]
        get_latest_by = "created_at"

    def __str__(self):
        return f"{self.verdict} on version {self.version_id}"

    @property
    def project(self) -> Project:
        return self.version.asset.project


class DecisionSet(models.Model):
    """A producer's one decision on a set of generated versions (a tool run's outputs), made in one
    transaction: each member gets its own `Decision` (bound to its exact bytes, and stamped on its
    version row like any approval), linked here. `key` names the set for whoever owns it (toolruns:
    "toolrun:<id>"; review never imports the owner); `members` is the record of what was decided:
    each member's version, output name and SHA-256 at that moment."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="decision_sets")
    key = models.CharField(max_length=64)
    label = models.CharField(max_length=200, blank=True)
    verdict = models.CharField(max_length=20, choices=Decision.Verdict.choices)
    note = models.TextField(blank=True, max_length=5000)
    members = models.JSONField(default=list, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["project", "key", "-created_at"])]

    def __str__(self):
        return f"{self.verdict} on set {self.key}"


class Notification(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="notifications")
    verb = models.CharField(max_length=32)
    text = models.CharField(max_length=300)
    link = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["user", "read_at"]),
            models.Index(fields=["emailed_at", "user", "project"]),
        ]

    def __str__(self):
        return self.text


class ContentCredential(models.Model):
    """The C2PA credentials of one approval: the signed copy of the approved original (or, for a
    format that cannot carry them, a sidecar manifest beside the untouched file), bound to the
    decision. The download serves `signed_key` and the gate names `signed_sha256`."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Being signed")
        SIGNED = "signed", _("Signed")
        SIDECAR = "sidecar", _("Signed (sidecar manifest)")
        UNSIGNED = "unsigned", _("Not signed")
        FAILED = "failed", _("Signing failed")

    decision = models.OneToOneField(Decision, on_delete=models.CASCADE, related_name="credential")
    version = models.ForeignKey(AssetVersion, on_delete=models.CASCADE, related_name="credentials")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    # Why it is unsigned or failed, for people.
    reason = models.CharField(max_length=500, blank=True)
    # The reviewed bytes (the version's own SHA-256) and what leaves: the signed file, or the original
    # with its sidecar manifest.
    source_sha256 = models.CharField(max_length=64)
    signed_key = models.CharField(max_length=500, blank=True)
    signed_sha256 = models.CharField(max_length=64, blank=True)
    sidecar_key = models.CharField(max_length=500, blank=True)
    sidecar_sha256 = models.CharField(max_length=64, blank=True)
    digital_source_type = models.CharField(max_length=64, blank=True)
    # What the library's Reader said of the result when it was signed (summary of the active manifest).
    report = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    signed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"credentials of decision {self.decision_id}: {self.status}"

    @property
    def project(self) -> Project:
        return self.version.asset.project
