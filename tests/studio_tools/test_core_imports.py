"""Rule 1 of the house: studio_tools never imports Django, so a tool runs anywhere without the portal."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import studio_tools

PROBE = """
import importlib, pkgutil, sys
import studio_tools
names = [m.name for m in pkgutil.walk_packages(studio_tools.__path__, "studio_tools.")]
for name in names:
    importlib.import_module(name)
leaked = sorted(m for m in sys.modules if m.partition(".")[0] in ("django", "portal", "rest_framework", "celery", "channels"))
print(len(names))
print(",".join(leaked))
"""


def test_no_studio_tools_module_imports_django():
    root = Path(studio_tools.__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=root, check=False)
    assert done.returncode == 0, done.stderr
    count, leaked = done.stdout.splitlines()
    assert int(count) >= 10  # the walk really found the packages (core, contactsheet, their modules)
    assert leaked == "", f"studio_tools pulled in: {leaked}"


def test_no_studio_tools_module_reads_the_mode_variables():
    """CI runs tests/studio_tools once, not once per mode: that holds only while the library never
    looks at what picks the portal's mode."""
    root = Path(studio_tools.__file__).resolve().parent
    sources = sorted(root.rglob("*.py"))
    assert len(sources) >= 10
    readers = [str(p.relative_to(root)) for p in sources if any(v in p.read_text() for v in ("DATABASE_URL", "REDIS_URL"))]
    assert readers == []
