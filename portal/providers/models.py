"""A studio's choices among the model providers platform staff configured (studio_tools/ai/providers.py).

Only the choices live here: which providers a studio allows and which one (and model) each tool uses
by default. What a provider is, its credentials and its promises come from the configuration
(environment or secrets file), never from the database."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.studios.models import Studio


class AllowedProvider(models.Model):
    studio = models.ForeignKey(Studio, on_delete=models.CASCADE, related_name="allowed_providers")
    provider = models.CharField(_("provider"), max_length=40, help_text=_("Provider id from the platform's configuration"))
    allowed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    allowed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["studio", "provider"], name="allowed_provider_once_per_studio")]
        ordering = ["provider"]

    def __str__(self) -> str:
        return f"{self.studio} allows {self.provider}"


class ToolProviderDefault(models.Model):
    studio = models.ForeignKey(Studio, on_delete=models.CASCADE, related_name="tool_provider_defaults")
    tool = models.CharField(_("tool"), max_length=64)
    provider = models.CharField(_("provider"), max_length=40)
    model = models.CharField(_("model"), max_length=80, blank=True, help_text=_("Empty: the provider's default model"))
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["studio", "tool"], name="one_provider_default_per_tool")]
        ordering = ["tool"]

    def __str__(self) -> str:
        return f"{self.studio}: {self.tool} -> {self.provider}"
