"""The role names, written once: the membership models take their choices from here and the policy
its table keys. (No import of any app: models and policy both import this module.)"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class StudioRole(models.TextChoices):
    STUDIO_ADMIN = "studio_admin", _("Studio admin")
    MEMBER = "member", _("Member")


class ProjectRole(models.TextChoices):
    PRODUCER = "producer", _("Producer")
    DIRECTOR = "director", _("Director")
    ARTIST = "artist", _("Artist")
    VIEWER = "viewer", _("Viewer")
