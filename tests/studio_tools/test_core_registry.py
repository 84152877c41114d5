from __future__ import annotations

import subprocess
import sys
import types

import pytest

import studio_tools
from studio_tools.contactsheet import TOOL as CONTACTSHEET
from studio_tools.core import BUILTIN_TOOL_PACKAGES, InputSlot, Registry, ToolResult, ToolSpec, UnknownTool, all_tools, get


class Minimal:
    spec = ToolSpec("minimal", "1.0.0", "Minimal", "Does nothing.", (InputSlot("clip", "footage"),))

    def run(self, inputs, params, workdir, progress):
        return ToolResult()


def test_register_get_and_list_in_name_order():
    registry = Registry()
    other = Minimal()
    other.spec = ToolSpec("another", "2.0.0", "Another", "", ())
    registry.register(Minimal)  # a class is instantiated
    registry.register(other)
    assert [t.spec.name for t in registry.all_tools()] == ["another", "minimal"]
    assert isinstance(registry.get("minimal"), Minimal)


def test_registering_a_different_tool_under_a_taken_name_fails():
    registry = Registry()
    tool = Minimal()
    registry.register(tool)
    registry.register(tool)  # the same object again is harmless (re-imports)
    with pytest.raises(ValueError, match="already registered"):
        registry.register(Minimal())


def test_register_rejects_things_that_are_not_tools():
    with pytest.raises(TypeError, match="not a tool"):
        Registry().register(object())


def test_unknown_tool_lists_the_known_ones():
    registry = Registry()
    registry.register(Minimal())
    with pytest.raises(UnknownTool, match=r"unknown tool 'nope' \(available: minimal\)") as info:
        registry.get("nope")
    assert isinstance(info.value, LookupError)
    assert info.value.known == ("minimal",)


def test_packages_are_loaded_on_first_lookup(monkeypatch):
    module = types.ModuleType("fake_tool_pkg")
    module.TOOL = Minimal()
    monkeypatch.setitem(sys.modules, "fake_tool_pkg", module)
    registry = Registry(["fake_tool_pkg"])
    assert registry.get("minimal") is module.TOOL

    monkeypatch.setitem(sys.modules, "empty_pkg", types.ModuleType("empty_pkg"))
    with pytest.raises(ImportError, match="no TOOL attribute"):
        Registry(["empty_pkg"]).all_tools()


def test_default_registry_has_the_builtin_tools():
    assert "studio_tools.contactsheet" in BUILTIN_TOOL_PACKAGES
    assert get("contactsheet") is CONTACTSHEET
    assert [t.spec.name for t in all_tools()] == sorted(t.spec.name for t in all_tools())
    assert studio_tools.run is studio_tools.run_tool


def test_importing_studio_tools_registers_nothing_until_asked():
    code = "import sys, studio_tools; assert 'studio_tools.contactsheet' not in sys.modules; print('ok')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
