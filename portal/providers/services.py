"""Writes: a studio admin allows or withdraws a model provider and sets each tool's default; and the
gate a tool run passes before anything can reach a provider (`run_provider`)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from portal.access.enforce import record_denial, require
from portal.access.policy import Action
from portal.audit.services import record
from portal.core.errors import ServiceError
from portal.providers import selectors
from portal.providers.models import AllowedProvider, ToolProviderDefault


class ProviderNotAllowed(ServiceError):
    status_code = 403

    def __init__(self, message: str):
        super().__init__(message, code="provider_not_allowed")


def _configured(provider_id: str):
    provider = selectors.catalog().providers.get(str(provider_id or ""))
    if provider is None:
        raise ValidationError({"provider": [f"There is no model provider “{provider_id}” on this portal."]})
    return provider


def studio_provider_set_allowed(*, actor, studio, provider: str, allowed: bool) -> bool:
    """Allow a provider for the studio (recording the promises the admin was shown), or withdraw it (and the tool
    defaults that used it). Returns whether anything changed."""
    require(actor, Action.STUDIO_MANAGE, studio)
    found = _configured(provider)
    with transaction.atomic():
        if allowed:
            _row, created = AllowedProvider.objects.get_or_create(
                studio=studio, provider=found.id, defaults={"allowed_by": actor, "allowed_at": timezone.now()}
            )
            if not created:
                return False
            record(
                action="ai_provider.allow",
                actor=actor,
                studio=studio,
                details={"provider": found.id, "kind": found.kind, "region": found.region, "promises": found.promises.to_dict()},
            )
            return True
        deleted, _ = AllowedProvider.objects.filter(studio=studio, provider=found.id).delete()
        if not deleted:
            return False
        dropped = list(
            ToolProviderDefault.objects.filter(studio=studio, provider=found.id).values_list("tool", flat=True).order_by("tool")
        )
        ToolProviderDefault.objects.filter(studio=studio, provider=found.id).delete()
        record(
            action="ai_provider.disallow",
            actor=actor,
            studio=studio,
            details={"provider": found.id, "kind": found.kind, "region": found.region, "defaults_cleared": dropped},
        )
        return True


def studio_tool_default_set(*, actor, studio, tool: str, provider: str, model: str = "") -> ToolProviderDefault | None:
    """The provider (and model; empty: the provider's default) a tool's runs use when they name none.
    An empty provider removes the default."""
    require(actor, Action.STUDIO_MANAGE, studio)
    specs = {spec.name: spec for spec in selectors.ai_tools()}
    if tool not in specs:
        raise ValidationError({"tool": [f"“{tool}” is not a tool that can ask a model provider."]})
    model = (model or "").strip()
    with transaction.atomic():
        if not provider:
            deleted, _ = ToolProviderDefault.objects.filter(studio=studio, tool=tool).delete()
            if deleted:
                record(action="ai_tool_default.clear", actor=actor, studio=studio, details={"tool": tool})
            return None
        found = _configured(provider)
        if found.id not in selectors.allowed_provider_ids(studio):
            raise ValidationError({"provider": [f"Allow {found.label} for the studio before making it a default."]})
        if model and found.model_id(model) is None:
            offered = ", ".join(found.offered_models())
            raise ValidationError({"model": [f"{found.label} does not offer {model} (it offers {offered})."]})
        default, _ = ToolProviderDefault.objects.update_or_create(
            studio=studio,
            tool=tool,
            defaults={"provider": found.id, "model": model, "updated_by": actor, "updated_at": timezone.now()},
        )
        record(
            action="ai_tool_default.set",
            actor=actor,
            studio=studio,
            details={"tool": tool, "provider": found.id, "region": found.region, "model": model or None},
        )
    return default


def run_provider(*, actor, project, spec, params: dict[str, Any]) -> dict[str, Any]:
    """The gate at the start of a run that asks for external AI: the provider it names must be one the studio
    allows (refused here, before any byte leaves, with a clear message); a run naming none gets the studio's
    default for the tool. Returns the params with the provider (and default model) written in, so the run
    records where it may go."""
    names = selectors.ai_params(spec)
    if not names["provider"] or not (names["switch"] and params.get(names["switch"])):
        return params
    studio = project.studio
    requested = params.get(names["provider"])
    if requested:
        found = selectors.catalog().providers.get(requested)
        if found is None:
            raise ValidationError({f"params.{names['provider']}": [f"There is no model provider “{requested}” on this portal."]})
        if requested not in selectors.allowed_provider_ids(studio):
            record_denial(actor, Action.TOOLRUN_START, project, visible=True)
            raise ProviderNotAllowed(
                f"{found.label} is not a model provider {studio.name} allows; nothing was sent. "
                "Choose an allowed provider, or ask a studio admin to allow it in the studio settings."
            )
        return params
    provider, model = selectors.default_for(studio, spec.name)
    if provider is None:
        return params  # nothing allowed (or no default among several): the tool keeps to its local path
    chosen = {**params, names["provider"]: provider}
    if model and names["model"] and not params.get(names["model"]):
        chosen[names["model"]] = model
    return chosen
