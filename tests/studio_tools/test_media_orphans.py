"""ffmpeg children die with their parent (finding 16): a worker or server killed outright (SIGKILL,
the OOM killer) cannot run its `finally`, and ffmpeg runs in a session of its own, so without the
kernel's parent-death signal it would go on transcoding for hours with nobody to read its output.

Each test starts a real Python process that starts a long ffmpeg through one of the ways the tools
spawn it, SIGKILLs that Python process, and checks the ffmpeg process is gone. (The frame reader
needs no test of its own here: it spawns through the same preexec function, and an ffmpeg writing
frames into the pipe of a dead reader ends on the broken pipe anyway.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")

ROOT = Path(__file__).resolve().parents[2]

LONG_FFMPEG = (
    "[sandbox.binary('ffmpeg'), '-nostdin', '-hide_banner', '-loglevel', 'error', '-re', "
    "'-f', 'lavfi', '-i', 'testsrc=size=64x64:rate=5:duration=900', '-f', 'null', '-']"
)

PARENTS = {
    # The one runner every probe and transcode goes through.
    "sandbox.run": f"""
        from studio_tools.media import sandbox
        print("go", flush=True)
        sandbox.run({LONG_FFMPEG}, limits=sandbox.Limits(wall_seconds=900, cpu_seconds=900))
    """,
    # The crowd tool's encoder, fed through a pipe by a thread of its own.
    "crowd encoder": f"""
        import subprocess, time
        from studio_tools.crowd import video
        from studio_tools.media import sandbox
        proc = video._spawn({LONG_FFMPEG}, sandbox.Limits(wall_seconds=900, cpu_seconds=900),
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        print("go", flush=True)
        time.sleep(900)
    """,
}


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces, so split after its closing parenthesis.
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has died, it only waits to be reaped


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


@pytest.mark.parametrize("way", sorted(PARENTS))
def test_ffmpeg_dies_with_its_killed_parent(way):
    script = textwrap.dedent(PARENTS[way])
    parent = subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    ffmpeg_pid = None
    try:
        assert parent.stdout.readline().strip() == b"go", "the parent did not start its ffmpeg"
        for _ in range(200):
            ffmpegs = [pid for pid in _children(parent.pid) if _comm(pid) == "ffmpeg"]
            if ffmpegs:
                ffmpeg_pid = ffmpegs[0]
                break
            time.sleep(0.05)
        assert ffmpeg_pid is not None, "no ffmpeg child found"
        assert _alive(ffmpeg_pid)

        parent.send_signal(signal.SIGKILL)  # no finally, no atexit: only the kernel can clean up
        parent.wait(timeout=30)
        for _ in range(200):
            if not _alive(ffmpeg_pid):
                break
            time.sleep(0.05)
        assert not _alive(ffmpeg_pid), f"ffmpeg {ffmpeg_pid} outlived its killed parent ({way})"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if ffmpeg_pid is not None and _alive(ffmpeg_pid) and _comm(ffmpeg_pid) == "ffmpeg":
            os.kill(ffmpeg_pid, signal.SIGKILL)
