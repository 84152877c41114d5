from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.factories import build_world


@pytest.fixture
def world_tx(transactional_db):
    """The two-studio world, committed for real: for tests with threads, workers or on_commit."""
    return build_world()


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-y", *args], check=True, timeout=120)


@pytest.fixture(scope="session")
def clips(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("clips")
    mov = root / "plate.mov"
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=2",
        "-f", "lavfi", "-i", "sine=frequency=440:duration=2",
        "-timecode", "01:00:00:00", "-c:v", "mpeg4", "-q:v", "5", "-c:a", "pcm_s16le", "-shortest", str(mov),
    )  # fmt: skip
    wide = root / "wide.mp4"
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "smptebars=size=2048x1080:rate=30000/1001:duration=1",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        str(wide),
    )
    wav = root / "music.wav"
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=220:duration=1", str(wav))
    png = root / "still.png"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240", "-frames:v", "1", str(png))
    text = root / "notes.mov"
    text.write_text("This is not a movie, just some notes.\n" * 20)
    truncated = root / "truncated.mp4"
    full = root / "full.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=2", "-c:v", "libx264", "-preset", "ultrafast", str(full))
    data = full.read_bytes()
    moov = data.find(b"moov")
    truncated.write_bytes(data[: moov - 4] if moov > 0 else data[: len(data) // 2])  # everything before moov
    hls = root / "playlist.mov"
    hls.write_text("#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n")
    polyglot = root / "poster.png"
    polyglot.write_bytes(png.read_bytes() + b"<html><script>alert(document.cookie)</script></html>")
    srt = root / "episode.srt"
    srt.write_text("1\n00:00:01,000 --> 00:00:02,500\nHello there.\n\n2\n00:00:03,000 --> 00:00:04,000\nGeneral Kenobi.\n")
    bad_srt = root / "broken.srt"
    bad_srt.write_text("1\n00:00:01,000 --> banana\nHello\n")
    return {
        "mov": mov,
        "wide": wide,
        "wav": wav,
        "png": png,
        "text": text,
        "truncated": truncated,
        "hls": hls,
        "polyglot": polyglot,
        "srt": srt,
        "bad_srt": bad_srt,
    }


@pytest.fixture
def eager(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.CELERY_TASK_EAGER_PROPAGATES = True
    from portal.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager = False
    app.conf.task_eager_propagates = False
