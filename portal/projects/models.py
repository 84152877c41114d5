from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.access.roles import ProjectRole
from portal.studios.models import Studio

# Rational frame rates, so timecode maths later is exact (29.97 is 30000/1001, not 29.97).
FRAME_RATES = [
    ("24000/1001", "23.976"),
    ("24/1", "24"),
    ("25/1", "25"),
    ("30000/1001", "29.97"),
    ("30/1", "30"),
    ("48/1", "48"),
    ("50/1", "50"),
    ("60000/1001", "59.94"),
    ("60/1", "60"),
]

code_validator = RegexValidator(
    r"^[A-Z][A-Z0-9_]{1,31}$",
    _("Use 2 to 32 capital letters, digits or underscores, starting with a letter (e.g. HOD_S2)."),
)


class Project(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        ARCHIVED = "archived", _("Archived")

    studio = models.ForeignKey(Studio, on_delete=models.CASCADE, related_name="projects")
    code = models.CharField(_("code"), max_length=32, validators=[code_validator])
    name = models.CharField(_("name"), max_length=150)
    frame_rate = models.CharField(_("frame rate"), max_length=16, choices=FRAME_RATES, default="24/1")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["code"]
        constraints = [models.UniqueConstraint(fields=["studio", "code"], name="uniq_project_code_per_studio")]

    def __str__(self):
        return f"{self.code} – {self.name}"

    @property
    def is_archived(self) -> bool:
        return self.status == self.Status.ARCHIVED


class ProjectMembership(models.Model):
    Role = ProjectRole  # the names live in portal/access/roles.py, with the policy that reads them

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="project_memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "user"], name="uniq_project_member")]
        ordering = ["project", "user__email"]

    def __str__(self):
        return f"{self.user} on {self.project} ({self.role})"
