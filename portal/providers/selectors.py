"""Reads: the providers platform staff configured, and a studio's choices among them."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Any

from portal.providers.models import AllowedProvider, ToolProviderDefault
from studio_tools.ai import Provider, ProviderConfigError, load_providers
from studio_tools.core import ToolSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Catalog:
    providers: dict[str, Provider]
    problem: str | None = None  # why the configuration could not be read (shown to platform staff and admins)


def catalog() -> Catalog:
    """The configured providers (AI_PROVIDERS or AI_PROVIDERS_FILE), read afresh: a rotated secret file counts at once."""
    try:
        return Catalog(load_providers())
    except ProviderConfigError as exc:
        log.error("model providers' configuration unusable: %s", exc)
        return Catalog({}, str(exc))


def ai_params(spec: ToolSpec) -> dict[str, str | None]:
    """The names of a tool's AI parameters: {"switch", "provider", "model"} (None where it has none)."""
    return dict(_ai_params(spec.params_model))


@functools.lru_cache(maxsize=128)
def _ai_params(params_model) -> tuple[tuple[str, str | None], ...]:
    # Per parameter model, once per process: building the JSON schema takes about 1 ms a tool, and
    # the studio dashboard asked it for every tool on every view. A model never changes once loaded.
    properties = (params_model.model_json_schema() or {}).get("properties", {})

    def marked(mark: str) -> str | None:
        return next((name for name, schema in properties.items() if schema.get(mark)), None)

    return (("switch", marked("x-external-ai")), ("provider", marked("x-ai-provider")), ("model", marked("x-ai-model")))


def ai_tools() -> list[ToolSpec]:
    """Tools that can ask a model provider (they have a provider parameter)."""
    from portal.toolruns.registry import all_tools

    return [t.spec for t in all_tools() if ai_params(t.spec)["provider"]]


def allowed_provider_ids(studio) -> set[str]:
    """Providers the studio allows that are still configured (a provider platform staff removed is gone)."""
    configured = catalog().providers
    return {p for p in AllowedProvider.objects.filter(studio=studio).values_list("provider", flat=True) if p in configured}


def tool_defaults(studio) -> dict[str, ToolProviderDefault]:
    return {d.tool: d for d in ToolProviderDefault.objects.filter(studio=studio)}


def studio_providers(studio) -> list[dict[str, Any]]:
    """Every configured provider as a page or the API shows it, with whether the studio allows it."""
    allowed = {a.provider: a for a in AllowedProvider.objects.filter(studio=studio).select_related("allowed_by")}
    rows = []
    for provider in catalog().providers.values():
        choice = allowed.get(provider.id)
        rows.append(
            {
                **provider.public(),
                "allowed": choice is not None,
                "allowed_at": choice.allowed_at if choice else None,
                "allowed_by": choice.allowed_by.email if choice and choice.allowed_by else None,
            }
        )
    return rows


def default_for(studio, tool: str) -> tuple[str | None, str]:
    """(provider, model) a run of `tool` uses when it names none: the studio's default for the tool if it is
    still allowed, else the only allowed provider; (None, "") when there is no choice to make: the local path."""
    allowed = allowed_provider_ids(studio)
    if not allowed:
        return None, ""
    default = ToolProviderDefault.objects.filter(studio=studio, tool=tool).first()
    if default is not None and default.provider in allowed:
        return default.provider, default.model
    if len(allowed) == 1:
        return next(iter(allowed)), ""
    return None, ""
