"""Running ffmpeg and ffprobe on untrusted files, with every door we can close closed.

Each input is opened as `file:<absolute path>` with `-f <demuxer>` forced and `-format_whitelist`
set to that same demuxer, so a file can never be reinterpreted as a playlist, and any demuxer that
tries to open a nested one (the AVI GAB2 route of CVE-2017-9993) is refused by libavformat itself.
`-protocol_whitelist file` keeps http, tcp, udp, rtmp, data:, subfile:, concat: and friends out, and
the mov demuxer is told not to follow external data references. The child gets no stdin, a clean
environment (no proxy variables, no cloud credentials), its own process group, and hard limits on CPU
time, address space, output file size and core dumps; the parent enforces a wall-clock deadline and
kills the whole group when it passes or when the caller cancels. On Linux the child also asks the
kernel for SIGKILL when its parent dies (PR_SET_PDEATHSIG), so a worker or server that is killed
outright (SIGKILL, OOM) takes its ffmpeg with it instead of leaving it transcoding for hours.

The functions here do not decide what is acceptable media; `formats` and `probe` do. They only make
sure that whatever ffmpeg is asked to read, it reads one local file and nothing else.
"""

from __future__ import annotations

import ctypes
import json
import math
import os
import resource
import selectors
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ffmpeg

from studio_tools.media.errors import MediaCancelled, MediaLimitExceeded, MediaToolError
from studio_tools.media.formats import ALLOWED_DEMUXERS

GiB = 1024**3
MAX_DURATION_SECONDS = 24 * 3600
# Decoder/encoder threads per process. A cap keeps RLIMIT_AS meaningful on many-core hosts (every
# thread's stack counts against it) and makes the CPU budget below predictable.
THREADS = max(1, min(os.cpu_count() or 1, 8))
_STDERR_KEEP = 64 * 1024
_POLL_SECONDS = 0.1

ProgressCallback = Callable[[float], None]
CancelCheck = Callable[[], bool]


@dataclass(frozen=True)
class Limits:
    """Caps for one ffmpeg/ffprobe process. CPU seconds count every thread, so they exceed wall time."""

    wall_seconds: float = 60.0
    cpu_seconds: float = 60.0
    memory_bytes: int = 4 * GiB
    file_size_bytes: int | None = None
    stdout_bytes: int = 32 * 1024 * 1024

    @classmethod
    def for_transcode(cls, duration: float | None, *, realtime_factor: float = 4.0) -> Limits:
        """Caps that grow with the media's duration; the declared duration is itself capped, so a file
        claiming to last a year does not buy itself a year of CPU."""
        seconds = min(max(duration or 0.0, 0.0), MAX_DURATION_SECONDS)
        wall = 120.0 + realtime_factor * seconds
        return cls(
            wall_seconds=wall,
            cpu_seconds=wall * THREADS,
            memory_bytes=4 * GiB,
            file_size_bytes=int(2 * GiB + 8_000_000 * seconds),
        )


@dataclass(frozen=True)
class Completed:
    returncode: int
    stdout: bytes
    stderr: str
    wall_seconds: float
    cpu_seconds: float


class ProcessFailed(MediaToolError):
    """The tool exited non-zero; `stderr` holds the tail of what it said."""


def binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise MediaToolError(f"{name} is not installed or not on PATH")
    return found


def file_url(path: str | os.PathLike[str]) -> str:
    # "file:" stops a name with a colon being read as a protocol, the absolute path stops a leading
    # "-" being read as an option.
    return "file:" + os.fspath(Path(path).absolute())


def input_options(demuxer: str) -> dict[str, str]:
    """The per-input options that pin ffmpeg/ffprobe to one local file read by one demuxer."""
    if demuxer not in ALLOWED_DEMUXERS:
        raise MediaToolError(f"refusing to open media with demuxer {demuxer!r}: not on the allow-list")
    options = {"f": demuxer, "format_whitelist": demuxer, "protocol_whitelist": "file"}
    if demuxer == "mov":
        # Off by default today; pinned so a changed default or a stray config cannot turn it on.
        options["enable_drefs"] = "0"
    return options


def _child_env() -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "LC_ALL": "C",
        # glibc reserves 64 MiB of address space per thread arena; with RLIMIT_AS that would make
        # thread count, not the file, decide whether a transcode fits.
        "MALLOC_ARENA_MAX": "2",
    }


_PR_SET_PDEATHSIG = 1


def _load_prctl() -> Callable[..., int] | None:
    """libc's prctl, looked up in the parent: the child only calls it between fork and exec."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    return prctl


_PRCTL = _load_prctl()


def die_with_parent() -> Callable[[], None]:
    """A `preexec_fn` that has the kernel SIGKILL the child when the thread that started it dies.

    Call it in the parent (it notes the parent's pid): should the parent die between fork and the
    prctl call, the child sees a new parent and kills itself rather than run orphaned. Elsewhere than
    Linux it does nothing; the parent's own `finally` (which kills the process group) still holds."""
    parent = os.getpid()

    def apply() -> None:
        if _PRCTL is None:
            return
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)

    return apply


def _limit_child(limits: Limits) -> Callable[[], None]:
    cpu = max(1, math.ceil(limits.cpu_seconds))
    orphan_guard = die_with_parent()

    def apply() -> None:
        orphan_guard()

        def cap(which: int, value: int) -> None:
            _soft, hard = resource.getrlimit(which)
            if hard != resource.RLIM_INFINITY:
                value = min(value, hard)
            resource.setrlimit(which, (value, value))

        # Soft == hard on purpose: the kernel then sends SIGKILL at the limit. ffmpeg traps SIGXCPU
        # and exits "normally", which would pass a half-written output off as success.
        cap(resource.RLIMIT_CPU, cpu)
        cap(resource.RLIMIT_AS, limits.memory_bytes)
        cap(resource.RLIMIT_CORE, 0)
        if limits.file_size_bytes is not None:
            cap(resource.RLIMIT_FSIZE, limits.file_size_bytes)

    return apply


class ProgressParser:
    """Turns `-progress pipe:1` key=value blocks into calls of `callback(fraction)`, never decreasing."""

    def __init__(self, duration: float, callback: ProgressCallback) -> None:
        self.duration = duration
        self.callback = callback
        self._buffer = b""
        self._time: float | None = None
        self.last = 0.0

    def feed(self, data: bytes) -> None:
        self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            key, _, value = line.strip().partition(b"=")
            if key in (b"out_time_us", b"out_time_ms"):  # both are microseconds, despite the name
                try:
                    self._time = int(value) / 1_000_000
                except ValueError:
                    continue  # "N/A" before the first frame
            elif key == b"progress" and self._time is not None and self.duration > 0:
                fraction = min(1.0, max(0.0, self._time / self.duration))
                if fraction > self.last:
                    self.last = fraction
                    self.callback(fraction)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _reap(proc: subprocess.Popen[bytes], *, block: bool) -> tuple[int, float] | None:
    """Wait for the child with wait4 (which, unlike Popen.wait, reports its CPU time)."""
    if proc.returncode is not None:
        return proc.returncode, 0.0
    try:
        pid, status, usage = os.wait4(proc.pid, 0 if block else os.WNOHANG)
    except ChildProcessError as exc:  # someone else (a SIGCHLD handler) reaped it: the status is lost
        proc.returncode = -1
        raise MediaToolError(f"lost track of child process {proc.pid}") from exc
    if pid == 0:
        return None
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_utime + usage.ru_stime


def run(
    argv: Sequence[str],
    *,
    limits: Limits,
    progress: ProgressCallback | None = None,
    progress_duration: float | None = None,
    cancelled: CancelCheck | None = None,
) -> Completed:
    """Run argv under `limits`. With `progress` and `progress_duration`, stdout is read as ffmpeg
    `-progress` output; otherwise it is collected (up to `limits.stdout_bytes`).

    Raises MediaCancelled, MediaLimitExceeded, or ProcessFailed on a non-zero exit.
    """
    name = Path(argv[0]).name
    started = time.monotonic()
    deadline = started + limits.wall_seconds
    parser = ProgressParser(progress_duration or 0.0, progress) if progress is not None else None
    try:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=_child_env(),
            start_new_session=True,
            # Limits must be in place before exec: prlimit() after spawn leaves the child a head start.
            # The function only calls setrlimit, which is safe between fork and exec.
            preexec_fn=_limit_child(limits),
            close_fds=True,
        )
    except (OSError, subprocess.SubprocessError) as exc:  # the latter: preexec_fn failed in the child
        raise MediaToolError(f"could not start {name}: {exc}") from exc

    stdout = bytearray()
    stderr = bytearray()
    stopped_for: str | None = None
    outcome: tuple[int, float] | None = None
    nap = 0.001
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stdout, selectors.EVENT_READ, "out")
            selector.register(proc.stderr, selectors.EVENT_READ, "err")
            while stopped_for is None and (selector.get_map() or outcome is None):
                if cancelled is not None and cancelled():
                    stopped_for = "cancel"
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    stopped_for = "wall"
                    break
                if not selector.get_map():
                    # Both pipes closed: the process is exiting (or lingering); poll with a growing nap
                    # so the common case costs a millisecond, not a whole poll interval.
                    outcome = _reap(proc, block=False)
                    if outcome is None:
                        time.sleep(min(nap, remaining))
                        nap = min(nap * 2, _POLL_SECONDS)
                    continue
                for key, _events in selector.select(min(_POLL_SECONDS, remaining)):
                    chunk = os.read(key.fd, 65536)
                    if not chunk:
                        selector.unregister(key.fileobj)
                    elif key.data == "err":
                        stderr += chunk
                        del stderr[:-_STDERR_KEEP]
                    elif parser is not None:
                        parser.feed(chunk)
                    else:
                        stdout += chunk
                        if len(stdout) > limits.stdout_bytes:
                            stopped_for = "output"
                            break
    finally:
        if outcome is None:
            if stopped_for is not None or proc.poll() is None:
                _kill_group(proc)
            outcome = _reap(proc, block=True)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()

    returncode, cpu_used = outcome
    elapsed = time.monotonic() - started
    err_text = stderr.decode("utf-8", errors="replace")
    if stopped_for == "cancel":
        raise MediaCancelled(f"{name} was cancelled after {elapsed:.1f} s")
    if stopped_for == "wall":
        raise MediaLimitExceeded(
            f"Processing this file took longer than the {limits.wall_seconds:.0f} second limit and was stopped; "
            "the file may be damaged or built to stall the converter.",
            limit="wall",
        )
    if stopped_for == "output":
        raise MediaLimitExceeded("Reading this file produced far more information than any real media does.", limit="output")
    if returncode == -signal.SIGKILL and cpu_used >= limits.cpu_seconds - 1:
        raise MediaLimitExceeded(
            f"Processing this file used more than the {limits.cpu_seconds:.0f} CPU-second limit and was stopped; "
            "the file may be damaged or built to exhaust the converter.",
            limit="cpu",
        )
    if returncode == -signal.SIGXFSZ:
        raise MediaLimitExceeded("Converting this file produced an output larger than allowed.", limit="file_size")
    if returncode != 0 and "Cannot allocate memory" in err_text:
        raise MediaLimitExceeded(
            f"Processing this file needed more than {limits.memory_bytes / GiB:.0f} GiB of memory and was stopped.",
            limit="memory",
        )
    if returncode != 0:
        raise ProcessFailed(f"{name} exited with status {returncode}", returncode=returncode, stderr=err_text)
    return Completed(returncode, bytes(stdout), err_text, elapsed, cpu_used)


def ffprobe(path: str | os.PathLike[str], demuxer: str, *, limits: Limits | None = None) -> dict[str, Any]:
    """ffprobe's format and streams for `path`, read with `demuxer` forced (see `input_options`)."""
    argv = [binary("ffprobe"), "-hide_banner", "-loglevel", "error"]
    for key, value in input_options(demuxer).items():
        argv += [f"-{key}", value]
    argv += ["-show_format", "-show_streams", "-of", "json", file_url(path)]
    done = run(argv, limits=limits or Limits())
    try:
        data = json.loads(done.stdout)
    except ValueError as exc:
        raise MediaToolError("ffprobe printed something that is not JSON") from exc
    if not isinstance(data, dict):
        raise MediaToolError("ffprobe printed JSON that is not an object")
    return data


def ffprobe_csv(
    path: str | os.PathLike[str],
    demuxer: str,
    stream_index: int,
    entries: str,
    *,
    limits: Limits | None = None,
    extra: Sequence[str] = (),
) -> list[list[str]]:
    """Rows of `ffprobe -show_entries <entries> -of csv` for one stream: packets (demux only, fast) or
    frames (a full decode), e.g. entries="packet=pts_time,dts_time,size"."""
    argv = [binary("ffprobe"), "-hide_banner", "-loglevel", "error"]
    for key, value in input_options(demuxer).items():
        argv += [f"-{key}", value]
    argv += [*extra, "-select_streams", str(int(stream_index)), "-show_entries", entries, "-of", "csv=p=0", file_url(path)]
    done = run(argv, limits=limits or Limits())
    text = done.stdout.decode("ascii", errors="replace")
    return [line.split(",") for line in text.splitlines() if line.strip()]


def ffmpeg_input(path: str | os.PathLike[str], demuxer: str, **options: Any) -> Any:
    """An ffmpeg-python input node carrying the hardened options; `options` add e.g. `ss` or decoder
    settings but cannot override the hardening."""
    hardened = input_options(demuxer)
    clash = set(hardened) & set(options)
    if clash:
        raise MediaToolError(f"input options {sorted(clash)} may not be overridden")
    return ffmpeg.input(file_url(path), **{"threads": str(THREADS), **options, **hardened})


def _assert_hardened(args: Sequence[str]) -> None:
    """Every `-i` in a compiled command line must carry the options of `input_options`.

    A graph built with plain `ffmpeg.input` would otherwise run with ffmpeg's defaults, i.e. with
    playlist demuxers and network protocols enabled; this makes that mistake fail loudly instead.
    """
    options: dict[str, str] = {}
    for i, arg in enumerate(args):
        if arg == "-i":
            url = args[i + 1] if i + 1 < len(args) else ""
            demuxer = options.get("-f")
            if not (
                url.startswith("file:")
                and demuxer in ALLOWED_DEMUXERS
                and options.get("-format_whitelist") == demuxer
                and options.get("-protocol_whitelist") == "file"
            ):
                raise MediaToolError(f"unhardened ffmpeg input {url!r}; build inputs with sandbox.ffmpeg_input")
            options = {}
        elif arg.startswith("-") and i + 1 < len(args):
            options[arg] = args[i + 1]


def run_ffmpeg(
    outputs: Any,
    *,
    limits: Limits,
    duration: float | None = None,
    progress: ProgressCallback | None = None,
    cancelled: CancelCheck | None = None,
    global_args: Mapping[str, str] | None = None,
) -> Completed:
    """Compile an ffmpeg-python graph (built from `ffmpeg_input` nodes) and run it under `limits`."""
    argv = [binary("ffmpeg"), "-nostdin", "-hide_banner", "-nostats", "-loglevel", "error", "-y"]
    if progress is not None:
        argv += ["-progress", "pipe:1", "-stats_period", "0.5"]
    for key, value in (global_args or {}).items():
        argv += [f"-{key}", value]
    args = ffmpeg.get_args(outputs)
    _assert_hardened(args)
    argv += args
    return run(argv, limits=limits, progress=progress, progress_duration=duration, cancelled=cancelled)
