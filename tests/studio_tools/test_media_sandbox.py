"""The hardened runner: caps, cancellation, the child's environment, and refusal of unhardened graphs."""

from __future__ import annotations

import json
import sys
import time
import uuid
from pathlib import Path

import ffmpeg
import pytest

from studio_tools.media import Limits, MediaCancelled, MediaLimitExceeded, MediaToolError, probe, sandbox
from studio_tools.media.sandbox import GiB, ProgressParser


def endless_encode(marker: str) -> list[str]:
    """An ffmpeg that would run for an hour; `marker` makes its command line findable in /proc."""
    return [
        sandbox.binary("ffmpeg"),
        "-nostdin",
        "-loglevel",
        "error",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=640x360:r=25:d=3600",
        "-metadata",
        f"comment={marker}",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-f",
        "null",
        "-",
    ]


def running_with(marker: str) -> list[int]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if marker.encode() in cmdline.read_bytes():
                found.append(int(cmdline.parent.name))
        except OSError:
            continue  # exited while we looked
    return found


def test_wall_clock_limit_kills_a_runaway_process():
    marker = f"runaway-{uuid.uuid4()}"
    started = time.monotonic()
    with pytest.raises(MediaLimitExceeded) as caught:
        sandbox.run(endless_encode(marker), limits=Limits(wall_seconds=1.0, cpu_seconds=600))
    assert caught.value.limit == "wall"
    assert "longer than the 1 second limit" in caught.value.reason
    assert time.monotonic() - started < 5
    assert running_with(marker) == []


def test_cpu_limit_kills_a_busy_process():
    marker = f"busy-{uuid.uuid4()}"
    started = time.monotonic()
    with pytest.raises(MediaLimitExceeded) as caught:
        sandbox.run(endless_encode(marker), limits=Limits(wall_seconds=60, cpu_seconds=1))
    assert caught.value.limit == "cpu"
    assert time.monotonic() - started < 30
    assert running_with(marker) == []


def test_cancel_kills_a_running_process():
    marker = f"cancel-{uuid.uuid4()}"
    started = time.monotonic()
    with pytest.raises(MediaCancelled):
        sandbox.run(
            endless_encode(marker),
            limits=Limits(wall_seconds=60, cpu_seconds=600),
            cancelled=lambda: time.monotonic() - started > 0.3,
        )
    assert 0.3 <= time.monotonic() - started < 5
    assert running_with(marker) == []


def test_public_probe_honours_limits(tmp_path):
    wav = tmp_path / "tone.wav"
    wav.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(40))
    with pytest.raises(MediaLimitExceeded):
        probe(wav, limits=Limits(wall_seconds=0.0))


CHILD = """
import json, os, resource
print(json.dumps({
    "cpu": resource.getrlimit(resource.RLIMIT_CPU),
    "as": resource.getrlimit(resource.RLIMIT_AS),
    "core": resource.getrlimit(resource.RLIMIT_CORE),
    "fsize": resource.getrlimit(resource.RLIMIT_FSIZE),
    "env": dict(os.environ),
    "own_session": os.getsid(0) == os.getpid(),
    "stdin": os.read(0, 10).decode(),
}))
"""


def test_child_gets_its_limits_a_clean_environment_and_no_stdin(monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "do-not-leak")
    monkeypatch.setenv("http_proxy", "http://proxy.invalid:3128")
    done = sandbox.run(
        [sys.executable, "-c", CHILD],
        limits=Limits(wall_seconds=30, cpu_seconds=7, memory_bytes=3 * GiB, file_size_bytes=5_000_000),
    )
    seen = json.loads(done.stdout)
    assert seen["cpu"] == [7, 7]
    assert seen["as"] == [3 * GiB, 3 * GiB]
    assert seen["core"] == [0, 0]
    assert seen["fsize"] == [5_000_000, 5_000_000]
    assert set(seen["env"]) <= {"PATH", "LC_ALL", "MALLOC_ARENA_MAX", "LC_CTYPE"}
    assert seen["own_session"] is True
    assert seen["stdin"] == ""


def test_memory_cap_is_enforced():
    with pytest.raises(sandbox.ProcessFailed) as caught:
        sandbox.run([sys.executable, "-c", "bytearray(2 * 1024**3)"], limits=Limits(memory_bytes=1 * GiB))
    assert "MemoryError" in caught.value.stderr


def test_output_flood_is_cut_off():
    with pytest.raises(MediaLimitExceeded) as caught:
        sandbox.run([sys.executable, "-c", "print('x' * 100_000)"], limits=Limits(stdout_bytes=10_000))
    assert caught.value.limit == "output"


def test_failure_carries_stderr():
    with pytest.raises(sandbox.ProcessFailed) as caught:
        sandbox.run([sys.executable, "-c", "import sys; sys.exit('broken pipe dream')"], limits=Limits())
    assert caught.value.returncode == 1
    assert "broken pipe dream" in caught.value.stderr


def test_only_allow_listed_demuxers_and_no_override_of_the_hardening(tmp_path):
    for demuxer in ("hls", "concat", "image2", "lavfi", "sdp"):
        with pytest.raises(MediaToolError):
            sandbox.input_options(demuxer)
    with pytest.raises(MediaToolError):
        sandbox.ffmpeg_input(tmp_path / "x.mov", "mov", protocol_whitelist="file,http,tcp")
    assert sandbox.input_options("mov") == {
        "f": "mov",
        "format_whitelist": "mov",
        "protocol_whitelist": "file",
        "enable_drefs": "0",
    }


def test_unhardened_graph_is_refused_before_anything_runs(tmp_path):
    playlist = tmp_path / "list.m3u8"
    playlist.write_text("#EXTM3U\n")
    out = tmp_path / "out.mp4"
    with pytest.raises(MediaToolError, match="unhardened"):
        sandbox.run_ffmpeg(ffmpeg.input(str(playlist)).output(str(out)), limits=Limits())
    hardened_plus_plain = ffmpeg.concat(
        sandbox.ffmpeg_input(tmp_path / "a.mov", "mov"), ffmpeg.input(f"file:{playlist}", f="mov"), v=1, a=0
    ).output(str(out))
    with pytest.raises(MediaToolError, match="unhardened"):
        sandbox.run_ffmpeg(hardened_plus_plain, limits=Limits())
    assert not out.exists()


def test_file_urls_are_absolute_and_protocol_proof(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert sandbox.file_url("-i") == f"file:{tmp_path}/-i"
    assert sandbox.file_url("http://example.com/x") == f"file:{tmp_path}/http:/example.com/x"


def test_progress_parser_is_monotonic_and_tolerant():
    seen: list[float] = []
    parser = ProgressParser(10.0, seen.append)
    stream = (
        b"frame=0\nout_time_us=N/A\nprogress=continue\n"
        b"out_time_us=2500000\nprogress=continue\n"
        b"out_time_us=2000000\nprogress=continue\n"  # a step back (B-frames, a second output): ignored
        b"out_time_ms=5000000\nprogress=continue\n"
        b"out_time_us=12000000\nprogress=end\n"
    )
    for i in range(0, len(stream), 7):  # lines arrive split across reads
        parser.feed(stream[i : i + 7])
    assert seen == [0.25, 0.5, 1.0]


def test_transcode_limits_scale_with_duration_but_are_capped():
    short, long, absurd = Limits.for_transcode(10), Limits.for_transcode(3600), Limits.for_transcode(10**9)
    assert short.wall_seconds < long.wall_seconds < absurd.wall_seconds
    assert absurd == Limits.for_transcode(sandbox.MAX_DURATION_SECONDS)
    assert Limits.for_transcode(None).wall_seconds == Limits.for_transcode(0).wall_seconds
