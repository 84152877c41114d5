"""Assets (a named thing in a project), their versions (v1, v2 ... each one file), and the tus
uploads that bring the files in. Storage keys are always the server's: the name a user gave is
kept only as metadata (`original_name`)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from portal.projects.models import Project


class Asset(models.Model):
    class Kind(models.TextChoices):
        FOOTAGE = "footage", _("Footage")
        PLATE = "plate", _("Plate")
        REFERENCE = "reference", _("Reference")
        SUBTITLES = "subtitles", _("Subtitles")
        MUSIC = "music", _("Music")
        GENERATED = "generated", _("Generated")

    # What a person may upload: generated assets only ever come from tool runs.
    UPLOADABLE_KINDS = (Kind.FOOTAGE, Kind.PLATE, Kind.REFERENCE, Kind.SUBTITLES, Kind.MUSIC)

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="assets")
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=Kind.FOOTAGE)
    shot_code = models.CharField(_("shot code"), max_length=64, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["project", "kind"])]

    def __str__(self):
        return self.name


class AssetGroup(models.TextChoices):
    """How the asset list groups assets (not a column: worked out in SQL from the latest version, see
    footage.selectors.listed_versions). Rejected wins over the others: an asset whose latest version
    was rejected at ingest, or a generated asset whose latest version's bytes a producer rejected."""

    FOOTAGE = "footage", _("Footage")  # uploaded: footage, plates, references, subtitles, music
    GENERATED = "generated", _("Generated media")  # tool outputs that are pictures or sound
    EDIT_LISTS = "edit_lists", _("Edit lists")  # .edl / .otio / .srt outputs
    REPORTS = "reports", _("Reports")  # JSON / HTML outputs
    REJECTED = "rejected", pgettext_lazy("asset group", "Rejected")


class ApprovalState(models.TextChoices):
    """AssetVersion.approval_state's values."""

    NOT_REQUIRED = "not_required", _("No approval needed")
    PENDING = "pending", _("Pending review")
    APPROVED = "approved", _("Approved")
    CHANGES_REQUESTED = "changes_requested", _("Changes requested")
    REJECTED = "rejected", _("Rejected")


class AssetVersion(models.Model):
    class Status(models.TextChoices):
        UPLOADING = "uploading", _("Uploading")
        PROCESSING = "processing", _("Processing")
        READY = "ready", _("Ready")
        REJECTED = "rejected", _("Rejected")

    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.UPLOADING)
    reject_reason = models.TextField(blank=True)
    original_name = models.CharField(max_length=255, blank=True)
    size = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    media_info = models.JSONField(default=dict, blank=True)
    # Server-chosen storage keys (empty until the file exists).
    file_key = models.CharField(max_length=500, blank=True)
    proxy_key = models.CharField(max_length=500, blank=True)
    poster_key = models.CharField(max_length=500, blank=True)
    filmstrip_key = models.CharField(max_length=500, blank=True)
    filmstrip_times = models.JSONField(default=list, blank=True)
    waveform_key = models.CharField(max_length=500, blank=True)
    # For generated versions: tool and version, params, input SHA-256s, model, seed, duration.
    provenance = models.JSONField(default=dict, blank=True)
    note = models.TextField(blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    ready_at = models.DateTimeField(null=True, blank=True)
    ingest_attempts = models.PositiveSmallIntegerField(default=0)
    # Held by the worker ingesting this version and renewed as it works; a lapsed lease means the
    # worker died, and the recovery pass dispatches the version again.
    ingest_lease_until = models.DateTimeField(null=True, blank=True)
    # The ingest job's claim (portal/jobs): the worker's token, and when its message was last sent.
    ingest_claim_token = models.CharField(max_length=32, blank=True)
    ingest_dispatched_at = models.DateTimeField(null=True, blank=True)
    # Approval as data, stamped by review's decision service: the latest verdict and the bytes it was
    # about, and the SHA-256 a producer approved ("" unless the latest verdict approved).
    approval_verdict = models.CharField(max_length=24, blank=True)
    approval_sha256 = models.CharField(max_length=64, blank=True)
    approved_sha256 = models.CharField(max_length=64, blank=True)
    # What a download of an approved generated version hands out, stamped by review when the approval's
    # content credentials are settled: the signed copy, or the original itself (no certificate, or a
    # sidecar manifest). Empty while the credentials are being signed or signing failed; `release_hold`
    # says which ("signing" | "signing_failed", with the reason in `release_note`).
    released_key = models.CharField(max_length=500, blank=True)
    released_sha256 = models.CharField(max_length=64, blank=True)
    release_hold = models.CharField(max_length=16, blank=True)
    release_note = models.CharField(max_length=500, blank=True)
    release_sidecar_key = models.CharField(max_length=500, blank=True)  # the C2PA manifest beside it, if any

    class Meta:
        ordering = ["asset", "-number"]
        constraints = [models.UniqueConstraint(fields=["asset", "number"], name="uniq_asset_version_number")]
        indexes = [models.Index(fields=["status"])]

    def __str__(self):
        return f"{self.asset.name} v{self.number}"

    @property
    def project(self) -> Project:
        # The access policy places an object by its .project.
        return self.asset.project

    @property
    def label(self) -> str:
        return f"v{self.number}"

    @property
    def is_ready(self) -> bool:
        return self.status == self.Status.READY

    @property
    def is_generated(self) -> bool:
        return self.asset.kind == Asset.Kind.GENERATED

    @property
    def approval_state(self) -> str:
        """not_required (not generated) | pending | approved | changes_requested | rejected, for the
        exact bytes of this version: a verdict on other bytes (a re-ingest) does not carry over."""
        if self.asset.kind != Asset.Kind.GENERATED:
            return "not_required"
        if not self.sha256 or self.approval_sha256 != self.sha256 or not self.approval_verdict:
            return "pending"
        return self.approval_verdict

    @property
    def is_released(self) -> bool:
        """May this version's original leave the portal? Always for footage; for generated media only
        once a producer approved these exact bytes. (What else can hold back an approval, a recap's
        unsigned narration, is checked when the decision is made, and cannot come back after: sign-offs
        are never withdrawn and a finished run's report never changes.)"""
        if self.asset.kind != Asset.Kind.GENERATED:
            return True
        return bool(self.sha256) and self.approved_sha256 == self.sha256

    # The access policy: where a version's project is in SQL, and the download gate as a rule of the
    # policy (can(user, "asset.download", version) and filter() both ask it; see access/policy.py).
    policy_project = "asset__project"

    def policy_holds(self, action: str) -> bool:
        if action == "asset.download":
            return self.released_file is not None
        return True

    @classmethod
    def policy_where(cls, action: str) -> models.Q | None:
        if action == "asset.download":  # released_file is not None, in SQL
            released = ~models.Q(sha256="") & models.Q(approved_sha256=models.F("sha256")) & ~models.Q(released_key="")
            return ~models.Q(asset__kind=Asset.Kind.GENERATED) | released
        return None

    @property
    def released_file(self) -> tuple[str, str] | None:
        """(storage key, SHA-256) of exactly what a download hands out, or None while nothing may
        leave: footage as it is; a generated version only once approved and its credentials settled."""
        if self.asset.kind != Asset.Kind.GENERATED:
            return self.file_key, self.sha256
        if not self.is_released or not self.released_key:
            return None
        return self.released_key, self.released_sha256

    @property
    def duration(self) -> float | None:
        return (self.media_info or {}).get("duration")

    @property
    def video(self) -> dict:
        return (self.media_info or {}).get("video") or {}

    @property
    def audio(self) -> dict:
        return (self.media_info or {}).get("audio") or {}


class Upload(models.Model):
    """One tus upload. The offset lives here (not in a cache), so a restart loses nothing; a
    short lease taken with a compare-and-set on the offset makes concurrent PATCHes safe."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("In progress")
        COMPLETE = "complete", _("Complete")
        TERMINATED = "terminated", _("Terminated")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="uploads")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="uploads")
    version = models.OneToOneField(AssetVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="upload")
    length = models.BigIntegerField(null=True, blank=True, help_text="Declared length; null while deferred.")
    offset = models.BigIntegerField(default=0)
    metadata = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE)
    part_key = models.CharField(max_length=500)
    lease_token = models.CharField(max_length=32, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "expires_at"])]

    def __str__(self):
        return f"upload {self.id}"

    @property
    def is_expired(self) -> bool:
        return self.status == self.Status.ACTIVE and self.expires_at <= timezone.now()
