"""Which tools exist.

Built-in tools are listed once, in `BUILTIN_TOOL_PACKAGES`; each package exposes its tool as a
module attribute `TOOL`. Packages are imported on first lookup rather than at import time so that
`import studio_tools` stays cheap and free of cycles, and so a test can build its own `Registry`
without import side effects leaking into it.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterable

from studio_tools.core.errors import UnknownTool
from studio_tools.core.spec import ToolSpec
from studio_tools.core.tool import Tool

# The one place a new tool package is added.
BUILTIN_TOOL_PACKAGES: tuple[str, ...] = (
    "studio_tools.contactsheet",
    "studio_tools.recap",
    "studio_tools.crowd",
    "studio_tools.continuity",
)


class Registry:
    def __init__(self, packages: Iterable[str] = ()) -> None:
        self._packages = tuple(packages)
        self._tools: dict[str, Tool] = {}
        self._loaded = not self._packages
        self._lock = threading.RLock()

    def register(self, tool: Tool) -> Tool:
        """Add a tool (an instance, or a class that takes no arguments); returns what was given."""
        obj = tool() if isinstance(tool, type) else tool
        spec = getattr(obj, "spec", None)
        if not isinstance(spec, ToolSpec) or not callable(getattr(obj, "run", None)):
            raise TypeError(f"{obj!r} is not a tool: it needs a ToolSpec `spec` and a `run` method")
        with self._lock:
            existing = self._tools.get(spec.name)
            if existing is not None and existing is not obj:
                raise ValueError(f"a different tool named {spec.name!r} is already registered")
            self._tools[spec.name] = obj
        return tool

    def get(self, name: str) -> Tool:
        self._load()
        try:
            return self._tools[name]
        except KeyError:
            raise UnknownTool(name, self._tools) from None

    def all_tools(self) -> list[Tool]:
        """Every tool, ordered by name."""
        self._load()
        return [self._tools[n] for n in sorted(self._tools)]

    def _load(self) -> None:
        if self._loaded:
            return
        with self._lock:
            if self._loaded:
                return
            for package in self._packages:
                module = importlib.import_module(package)
                tool = getattr(module, "TOOL", None)
                if tool is None:
                    raise ImportError(f"tool package {package} has no TOOL attribute")
                self.register(tool)
            self._loaded = True


default_registry = Registry(BUILTIN_TOOL_PACKAGES)


def register(tool: Tool) -> Tool:
    return default_registry.register(tool)


def get(name: str) -> Tool:
    return default_registry.get(name)


def all_tools() -> list[Tool]:
    return default_registry.all_tools()
