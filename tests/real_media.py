"""The real footage in ../shared/media (see its MANIFEST.json), for tests marked `real_media`.

The folder is never copied into the repository. CI has it beside the clone, so a missing folder is a
failure, not a skip: a test that needs real footage must run wherever the suite runs.
`SHARED_MEDIA_DIR` points somewhere else (a developer's own copy).
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent


def media_dir() -> Path:
    configured = os.environ.get("SHARED_MEDIA_DIR")
    folder = Path(configured) if configured else REPO.parent / "shared" / "media"
    if not (folder / "MANIFEST.json").is_file():
        pytest.fail(
            f"real footage not found at {folder} (expected ../shared/media/MANIFEST.json beside the clone, "
            "or SHARED_MEDIA_DIR): tests marked real_media must run, not skip",
            pytrace=False,
        )
    return folder


@cache
def _manifest(folder: str) -> dict[str, Any]:
    return json.loads((Path(folder) / "MANIFEST.json").read_text())


def manifest() -> dict[str, Any]:
    return _manifest(str(media_dir()))


def entries(*, videos_only: bool = True) -> list[dict[str, Any]]:
    """Manifest entries, each with `path` added; subtitle files are left out unless videos_only=False."""
    folder = media_dir()
    found = []
    for entry in manifest()["files"]:
        if videos_only and not entry.get("resolution"):
            continue
        found.append({**entry, "path": folder / entry["name"]})
    return found


def entry(name_prefix: str) -> dict[str, Any]:
    """The one entry whose file name starts with `name_prefix` ("A16", "A12_popeye_ep1", ...)."""
    matches = [e for e in entries(videos_only=False) if e["name"].startswith(name_prefix)]
    if len(matches) != 1:
        raise LookupError(f"{len(matches)} manifest entries start with {name_prefix!r}")
    return matches[0]


def video_names() -> list[str]:
    """File names of the manifest's videos, for parametrize ids (read without failing at collection)."""
    configured = os.environ.get("SHARED_MEDIA_DIR")
    folder = Path(configured) if configured else REPO.parent / "shared" / "media"
    try:
        files = json.loads((folder / "MANIFEST.json").read_text())["files"]
    except (OSError, ValueError, KeyError):
        return ["missing-shared-media"]  # the test then fails in media_dir(), with the reason
    return [f["name"] for f in files if f.get("resolution")]
