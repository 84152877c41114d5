"""Character-sheet fixtures: real images made with ffmpeg (never committed binaries)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.toolruns.conftest import _toolruns_settings, dispatched, lavfi_clip  # noqa: F401 - shared fixtures


def ffmpeg_image(target: Path, source: str = "testsrc2=size=320x180:rate=1", frames: int = 1) -> Path:
    cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", source]
    subprocess.run([*cmd, "-frames:v", str(frames), str(target)], check=True, stdin=subprocess.DEVNULL)
    return target


@pytest.fixture(scope="session")
def still_jpeg(tmp_path_factory) -> Path:
    return ffmpeg_image(tmp_path_factory.mktemp("stills") / "anna_sc12.jpg")


@pytest.fixture(scope="session")
def still_png(tmp_path_factory) -> Path:
    return ffmpeg_image(tmp_path_factory.mktemp("stills") / "ben.png", "smptebars=size=320x180:rate=1")
