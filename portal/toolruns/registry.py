"""The portal's view of studio_tools' registry: the built-in tools plus any packages named in
settings.TOOLRUNS_EXTRA_TOOL_PACKAGES (a tool under trial, or the test suite's own tools), and the
mapping between footage asset kinds and tool input kinds."""

from __future__ import annotations

import threading

from django.conf import settings

from portal.footage.models import Asset
from studio_tools.core import BUILTIN_TOOL_PACKAGES, InputKind, Registry, Tool, UnknownTool

_lock = threading.Lock()
_registries: dict[tuple[str, ...], Registry] = {}

# Asset kinds a person uploads map one to one onto tool input kinds. Generated assets are not
# offered as inputs yet: which input kind a generated file is depends on the tool that made it.
ASSET_TO_INPUT_KIND: dict[str, InputKind] = {
    Asset.Kind.FOOTAGE: InputKind.FOOTAGE,
    Asset.Kind.PLATE: InputKind.PLATE,
    Asset.Kind.REFERENCE: InputKind.REFERENCE,
    Asset.Kind.SUBTITLES: InputKind.SUBTITLES,
    Asset.Kind.MUSIC: InputKind.MUSIC,
}


def asset_kinds_for(input_kinds) -> tuple[str, ...]:
    wanted = {InputKind(k) for k in input_kinds}
    return tuple(asset_kind for asset_kind, input_kind in ASSET_TO_INPUT_KIND.items() if input_kind in wanted)


def registry() -> Registry:
    packages = (*BUILTIN_TOOL_PACKAGES, *getattr(settings, "TOOLRUNS_EXTRA_TOOL_PACKAGES", ()))
    with _lock:
        found = _registries.get(packages)
        if found is None:
            found = _registries[packages] = Registry(packages)
    return found


def get_tool(name: str) -> Tool:
    """The tool called `name`; UnknownTool when there is none."""
    return registry().get(name)


def all_tools() -> list[Tool]:
    return registry().all_tools()


__all__ = ["ASSET_TO_INPUT_KIND", "UnknownTool", "all_tools", "asset_kinds_for", "get_tool", "registry"]
