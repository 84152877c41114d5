"""Fixtures for the studio_tools tests. Media is generated with ffmpeg's lavfi sources into temporary
folders, never committed."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.studio_tools import media_matrix

# --- core / contactsheet / CLI fixtures -------------------------------------------------------------


def lavfi_video(target: Path, source: str, *, extra: tuple[str, ...] = ()) -> Path:
    """Render a lavfi source (e.g. "testsrc2=size=160x120:rate=25:duration=2") to `target`."""
    cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", source]
    subprocess.run([*cmd, *extra, "-pix_fmt", "yuv420p", str(target)], check=True, stdin=subprocess.DEVNULL)
    return target


@pytest.fixture(scope="session")
def make_clip(tmp_path_factory) -> Callable[..., Path]:
    """make_clip(name, source, *extra) -> path of a freshly rendered clip, shared by the session."""
    folder = tmp_path_factory.mktemp("clips")
    cache: dict[tuple, Path] = {}

    def make(name: str, source: str, *extra: str) -> Path:
        key = (name, source, extra)
        if key not in cache:
            cache[key] = lavfi_video(folder / name, source, extra=extra)
        return cache[key]

    return make


@pytest.fixture(scope="session")
def testsrc_clip(make_clip) -> Path:
    """4 s of testsrc2, 320x240 at 25 fps (100 frames)."""
    return make_clip("testsrc.mp4", "testsrc2=size=320x240:rate=25:duration=4")


@pytest.fixture(scope="session")
def ramp_clip(make_clip) -> Path:
    """40 grey frames at 10 fps whose brightness encodes the frame number: luma = 16 + 5 * n.

    Lets a test read back from a thumbnail which frame it shows.
    """
    return make_clip("ramp.mp4", "color=c=black:s=64x48:r=10:d=4,format=gray,geq=lum='16+N*5'", "-g", "15")


# --- the conformance matrix (media_matrix.py) ----------------------------------------------------------


@pytest.fixture(scope="session")
def matrix(tmp_path_factory) -> dict[str, tuple[media_matrix.Spec, Path]]:
    """Every file of media_matrix.SPECS by name, as (spec, path); made once per session."""
    folder = tmp_path_factory.mktemp("matrix")
    return {spec.name: (spec, media_matrix.make(spec, folder)) for spec in media_matrix.SPECS}
