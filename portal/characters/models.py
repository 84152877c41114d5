"""A project's character sheet: named characters, each with reference stills and the costume they
wear per scene. A reference still is always an image asset version of the project (one that was
there already, or one uploaded for the sheet, stored like any other file), so a continuity run can
take it as an input like any footage, checked against its SHA-256."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.footage.models import AssetVersion
from portal.projects.models import Project


class Character(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="characters")
    name = models.CharField(_("name"), max_length=100)
    notes = models.TextField(_("notes"), blank=True, max_length=2000)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["project", Lower("name")]
        constraints = [
            # "Anna" and "anna" are the same person on a call sheet.
            models.UniqueConstraint(Lower("name"), "project", name="uniq_character_name_per_project"),
        ]

    def __str__(self):
        return self.name


class CharacterReference(models.Model):
    character = models.ForeignKey(Character, on_delete=models.CASCADE, related_name="references")
    version = models.ForeignKey(AssetVersion, on_delete=models.CASCADE, related_name="character_references")
    costume = models.CharField(_("costume"), max_length=300, blank=True)
    scene = models.CharField(_("scene"), max_length=64, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["character", "scene", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["character", "version", "scene"], name="uniq_character_reference"),
        ]

    def __str__(self):
        return f"{self.character.name}: {self.version}"

    @property
    def project(self) -> Project:
        # The access policy places an object by its .project.
        return self.character.project
