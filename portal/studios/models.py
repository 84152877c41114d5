from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.access.roles import StudioRole


class Studio(models.Model):
    """A beta partner studio: the tenant. Nothing of one studio is visible from another."""

    class Status(models.TextChoices):
        INVITED = "invited", _("Invited")
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")

    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("slug"), max_length=60, unique=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.INVITED)
    storage_quota_bytes = models.BigIntegerField(default=500 * 1024**3, validators=[MinValueValidator(0)])
    allow_external_ai = models.BooleanField(
        _("allow external AI"), default=False, help_text=_("May footage be sent to an external AI provider?")
    )
    retention_days = models.PositiveIntegerField(_("data retention (days)"), default=365)
    require_two_factor = models.BooleanField(_("require two-factor sign-in"), default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def is_suspended(self) -> bool:
        return self.status == self.Status.SUSPENDED


class StudioMembership(models.Model):
    Role = StudioRole  # the names live in portal/access/roles.py, with the policy that reads them

    studio = models.ForeignKey(Studio, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="studio_memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["studio", "user"], name="uniq_studio_member")]
        ordering = ["studio", "user__email"]

    def __str__(self):
        return f"{self.user} in {self.studio} ({self.role})"


def hash_invitation_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class Invitation(models.Model):
    """An emailed, single-use invitation into a studio (and optionally straight into a project).

    Only the SHA-256 of the token is stored; the token itself lives only in the email."""

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        ACCEPTED = "accepted", _("Accepted")
        REVOKED = "revoked", _("Revoked")
        EXPIRED = "expired", _("Expired")

    studio = models.ForeignKey(Studio, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    studio_role = models.CharField(max_length=16, choices=StudioMembership.Role.choices, default=StudioMembership.Role.MEMBER)
    project = models.ForeignKey("projects.Project", null=True, blank=True, on_delete=models.CASCADE, related_name="invitations")
    project_role = models.CharField(max_length=16, blank=True)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(default=timezone.now)
    send_count = models.PositiveIntegerField(default=1)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # At most one open invitation per studio and address: re-invite reuses it.
            models.UniqueConstraint(
                fields=["studio", "email"],
                condition=Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="uniq_open_invitation",
            )
        ]

    def __str__(self):
        return f"{self.email} → {self.studio}"

    @property
    def state(self) -> str:
        if self.accepted_at:
            return self.State.ACCEPTED
        if self.revoked_at:
            return self.State.REVOKED
        if self.expires_at <= timezone.now():
            return self.State.EXPIRED
        return self.State.PENDING

    def get_state_display(self) -> str:
        return self.State(self.state).label
