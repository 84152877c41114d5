"""Probing a clip and grabbing single frames with ffprobe/ffmpeg.

Every call passes `-protocol_whitelist file` and an absolute path, so an uploaded file can never
make ffmpeg open a URL, a device or another protocol, and a name starting with '-' is never read
as an option. Playlists are refused outright: they are "files" that point at other files.
Subprocesses get a timeout and no stdin, because a worker must not hang on a hostile file.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import ffmpeg

from studio_tools.core import BadInput, ToolFailed

PROBE_TIMEOUT = 60.0
FRAME_TIMEOUT = 120.0
_STOP_POLL = 0.2  # how often a running ffmpeg looks at its stop flag
_QUIET = ("-hide_banner", "-loglevel", "error")
_PLAYLIST_FORMATS = {"hls", "applehttp", "concat", "ffconcat"}
_NOT_VIDEO_FORMATS = {"image2", "image2pipe", "tty", "lavfi"}


@dataclass(frozen=True)
class VideoInfo:
    stream_index: int
    width: int
    height: int
    display_width: int  # after sample aspect ratio and rotation: what a viewer sees
    display_height: int
    duration: float
    fps: float | None
    frame_count: int | None
    codec: str
    container: str


def probe_video(path: Path, display_name: str, *, timeout: float = PROBE_TIMEOUT) -> VideoInfo:
    """Describe the first real video stream of `path`; BadInput, worded for the user, if there is none."""
    try:
        size = path.stat().st_size
    except OSError:
        raise BadInput(f"{display_name} is missing or unreadable") from None
    if size == 0:
        raise BadInput(f"{display_name} is empty (0 bytes)")
    args = ["ffprobe", *_QUIET, "-protocol_whitelist", "file", "-show_format", "-show_streams", "-of", "json"]
    proc = _run([*args, str(path.resolve())], timeout, "ffprobe", display_name)
    if proc.returncode != 0:
        reason = _last_error_line(proc.stderr, path, display_name) or "unknown format"
        raise BadInput(f"{display_name} is not a readable video file ({reason})")
    try:
        data = json.loads(proc.stdout or b"{}")
    except json.JSONDecodeError as exc:
        raise ToolFailed(f"ffprobe printed something that is not JSON for {display_name}") from exc
    return video_info_from_probe(data, display_name)


def video_info_from_probe(data: dict[str, Any], display_name: str) -> VideoInfo:
    """The decisions about an ffprobe result, apart from running ffprobe, so they can be tested on any input."""
    fmt = data.get("format") or {}
    formats = set(str(fmt.get("format_name", "")).split(","))
    if formats & _PLAYLIST_FORMATS:
        raise BadInput(f"{display_name} is a playlist, not a video file")
    streams = [
        s
        for s in data.get("streams") or []
        if s.get("codec_type") == "video" and not (s.get("disposition") or {}).get("attached_pic")
    ]
    if not streams:
        raise BadInput(f"{display_name} has no video stream")
    if formats & _NOT_VIDEO_FORMATS or any(f.endswith("_pipe") for f in formats):
        raise BadInput(f"{display_name} is a still image, not a video")
    stream = streams[0]
    width, height = _int(stream.get("width")), _int(stream.get("height"))
    if not width or not height:
        raise BadInput(f"{display_name} has a video stream without a picture size")
    # Matroska keeps a stream's length in a tag; the container's length may be the (longer) audio's.
    duration = _float(stream.get("duration")) or _tag_duration(stream.get("tags")) or _float(fmt.get("duration"))
    if not duration or duration <= 0:
        raise BadInput(f"{display_name} has zero length")
    fps = _rate(stream.get("avg_frame_rate")) or _rate(stream.get("r_frame_rate"))
    frame_count = _int(stream.get("nb_frames"))
    if frame_count is None and fps:
        frame_count = max(1, int(duration * fps))
    if frame_count == 0:
        raise BadInput(f"{display_name} has no video frames")
    display_width, display_height = display_size(stream)
    return VideoInfo(
        stream_index=int(stream.get("index", 0)),
        width=width,
        height=height,
        display_width=display_width,
        display_height=display_height,
        duration=duration,
        fps=fps,
        frame_count=frame_count,
        codec=str(stream.get("codec_name", "")),
        container=str(fmt.get("format_name", "")),
    )


def display_size(stream: dict[str, Any]) -> tuple[int, int]:
    """Picture size as shown: anamorphic pixels stretched, phone-style rotation applied.

    ffmpeg applies both when decoding (it autorotates), so thumbnails must be sized from this, not
    from the stored width and height.
    """
    width, height = int(stream["width"]), int(stream["height"])
    sar = _rate(stream.get("sample_aspect_ratio"), sep=":")
    if sar:
        width = max(1, round(width * sar))
    rotation = 0.0
    for side in stream.get("side_data_list") or []:
        if "rotation" in side:
            rotation = _float(side["rotation"]) or 0.0
    if not rotation:
        rotation = _float((stream.get("tags") or {}).get("rotate")) or 0.0
    if round(abs(rotation)) % 180 == 90:
        width, height = height, width
    return width, height


def grab_frame(
    path: Path,
    info: VideoInfo,
    seconds: float,
    width: int,
    height: int,
    display_name: str,
    *,
    timeout: float = FRAME_TIMEOUT,
    stop: threading.Event | None = None,
) -> tuple[bytes | None, str | None]:
    """One RGB24 frame at `seconds`, scaled to width x height: (pixels, None) or (None, why not).

    A frame that cannot be decoded is not an exception: one damaged spot in a long take should cost
    one cell of the sheet, not the whole sheet. Setting `stop` kills the ffmpeg at once (the run was
    cancelled) and gives (None, "stopped").
    """
    stream = ffmpeg.input(str(path.resolve()), ss=f"{max(0.0, seconds):.6f}", protocol_whitelist="file").output(
        "pipe:",
        map=f"0:{info.stream_index}",
        vframes=1,
        format="rawvideo",
        pix_fmt="rgb24",
        vf=f"scale={width}:{height}:flags=area",
    )
    proc = _run(["ffmpeg", "-nostdin", *_QUIET, *stream.get_args()], timeout, "ffmpeg", display_name, stop=stop)
    if proc is None:
        return None, "stopped"
    expected = width * height * 3
    if proc.returncode != 0:
        return None, _last_error_line(proc.stderr, path, display_name) or f"ffmpeg exited with {proc.returncode}"
    if not proc.stdout:
        return None, "no frame at this time"
    if len(proc.stdout) < expected:
        return None, f"short frame ({len(proc.stdout)} of {expected} bytes)"
    return proc.stdout[:expected], None


def _run(
    args: list[str], timeout: float, program: str, display_name: str, *, stop: threading.Event | None = None
) -> subprocess.CompletedProcess[bytes] | None:
    """Run to the end and capture both outputs; None when `stop` was set first (the process is killed)."""
    try:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except FileNotFoundError as exc:
        raise ToolFailed(f"{program} is not installed") from exc
    deadline = time.monotonic() + timeout
    with proc:
        while True:
            try:
                out, err = proc.communicate(timeout=min(_STOP_POLL, max(0.0, deadline - time.monotonic())))
                return subprocess.CompletedProcess(args, proc.returncode, out, err)
            except subprocess.TimeoutExpired:
                if stop is not None and stop.is_set():
                    proc.kill()
                    proc.communicate()
                    return None
                if time.monotonic() >= deadline:
                    proc.kill()
                    proc.communicate()
                    raise ToolFailed(f"{program} took longer than {timeout:.0f}s on {display_name}") from None


def _last_error_line(stderr: bytes | None, path: Path, display_name: str) -> str:
    """ffmpeg's last complaint, with the local path replaced by the user's file name."""
    text = (stderr or b"").decode("utf-8", errors="replace")
    for local in {str(path.resolve()), str(path)}:
        text = text.replace(local, display_name)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return ""
    return lines[-1].removeprefix(f"{display_name}: ")[:200]


def _tag_duration(tags: Any) -> float | None:
    """Matroska's "HH:MM:SS.nnnnnnnnn" DURATION tag in seconds."""
    value = (tags or {}).get("DURATION") if isinstance(tags, dict) else None
    if not isinstance(value, str):
        return None
    parts = value.strip().split(":")
    if len(parts) != 3:
        return None
    try:
        return int(parts[0]) * 3600 + int(parts[1]) * 60 + float(parts[2])
    except ValueError:
        return None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number and number not in (float("inf"), float("-inf")) else None


def _rate(value: Any, sep: str = "/") -> float | None:
    """ "30000/1001" -> 29.97; "0/0", "N/A" and missing -> None."""
    if not isinstance(value, str) or sep not in value:
        return None
    num, _, den = value.partition(sep)
    try:
        ratio = Fraction(int(num), int(den))
    except (ValueError, ZeroDivisionError):
        return None
    return float(ratio) if ratio > 0 else None
