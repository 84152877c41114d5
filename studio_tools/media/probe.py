"""`probe(path)`: accept or reject an uploaded file and describe what it holds.

Acceptance is decided in two halves: `formats.check_file` judges the bytes without running anything,
then ffprobe reads the file with the sniffed demuxer forced (see `sandbox`). ffprobe must report that
same format, at least one audio or video stream, sane dimensions and a duration under a day; anything
ffprobe cannot read is refused with a reason, never passed on.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from studio_tools.media import sandbox
from studio_tools.media.errors import MediaRejected
from studio_tools.media.formats import FORMATS, ContainerFormat, check_file

MAX_DIMENSION = 16384
MAX_DURATION_SECONDS = sandbox.MAX_DURATION_SECONDS

Kind = Literal["video", "audio", "still"]


@dataclass(frozen=True)
class VideoInfo:
    index: int  # ffprobe stream index, for -map
    codec: str
    width: int
    height: int
    pixel_aspect: str  # "1:1"; ffprobe's "0:1" (unknown) is reported as square
    pixel_aspect_ratio: float
    display_aspect_ratio: float  # width * pixel aspect / height: what a viewer sees
    frame_rate: str | None  # exact rational, "24000/1001"; None for stills
    fps: float | None
    frame_count: int | None
    start_timecode: str | None
    pix_fmt: str | None
    bit_depth: int | None
    colour_primaries: str | None
    colour_transfer: str | None
    colour_space: str | None
    colour_range: str | None
    field_order: str | None


@dataclass(frozen=True)
class AudioInfo:
    index: int
    codec: str
    channels: int
    channel_layout: str | None
    sample_rate: int
    bit_depth: int | None


@dataclass(frozen=True)
class MediaInfo:
    container: str  # key of formats.FORMATS: "mov", "mxf", "png", ...
    container_label: str  # "QuickTime/MP4"
    demuxer: str  # the demuxer every later ffmpeg run on this file must be forced to
    format_name: str  # as ffprobe reported it
    kind: Kind
    duration: float | None  # seconds; None for stills
    size: int  # bytes
    bit_rate: int | None
    video: VideoInfo | None
    audio_tracks: tuple[AudioInfo, ...]

    @property
    def audio(self) -> AudioInfo | None:
        return self.audio_tracks[0] if self.audio_tracks else None

    @property
    def has_video(self) -> bool:
        return self.video is not None

    @property
    def has_audio(self) -> bool:
        return bool(self.audio_tracks)

    @property
    def container_format(self) -> ContainerFormat:
        return FORMATS[self.container]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; `audio` repeats the first of `audio_tracks` for callers that want one."""
        data = dataclasses.asdict(self)
        data["audio_tracks"] = list(data["audio_tracks"])
        data["audio"] = data["audio_tracks"][0] if self.audio_tracks else None
        return data


def probe(path: str | os.PathLike[str], *, filename: str | None = None, limits: sandbox.Limits | None = None) -> MediaInfo:
    """Accept or reject the local file at `path` and describe it.

    `filename` is the name the user gave the upload; its extension is checked against the contents
    (the local copy's own name is used when it is omitted). Raises `MediaRejected` with a reason for
    the user, `MediaLimitExceeded` (a `MediaRejected`) when ffprobe hits a cap, `MediaToolError` when
    ffprobe is missing or misbehaves.
    """
    path = Path(path)
    fmt = check_file(path, filename)
    try:
        data = sandbox.ffprobe(path, fmt.demuxer, limits=limits)
    except sandbox.ProcessFailed as exc:
        raise MediaRejected(_unreadable_reason(fmt, exc.stderr)) from exc
    return _media_info(fmt, data, path.stat().st_size)


def _unreadable_reason(fmt: ContainerFormat, stderr: str) -> str:
    if "moov atom not found" in stderr:
        return (
            f"This {fmt.label} file is incomplete: its index (the 'moov' atom) is missing, which usually means "
            "the upload or the export was cut short. Upload the complete file."
        )
    return f"This file could not be read as {fmt.label}; it may be truncated or damaged. Export it again and upload that."


def _int(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number


def _float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _rational(value: Any) -> tuple[int, int] | None:
    match = re.fullmatch(r"(\d+)[/:](\d+)", str(value or ""))
    if not match:
        return None
    num, den = int(match[1]), int(match[2])
    return (num, den) if num > 0 and den > 0 else None


_EIGHT_BIT = re.compile(r"yuvj?\d+p|yuva\d+p|nv\d+|yuyv422|uyvy422|gray|pal8|rgb24|bgr24|[a-z0]?rgb[a0]?|[a-z0]?bgr[a0]?")
_PIX_FMT_DEPTH = {"rgb48": 16, "bgr48": 16, "rgba64": 16, "bgra64": 16, "p010": 10, "p016": 16, "xyz12": 12, "x2rgb10": 10}


def _bit_depth_from_pix_fmt(pix_fmt: str | None) -> int | None:
    if not pix_fmt:
        return None
    base = re.sub(r"(le|be)$", "", pix_fmt)
    if base in _PIX_FMT_DEPTH:
        return _PIX_FMT_DEPTH[base]
    match = re.search(r"(?:p|f|gray|ya)(\d+)$", base)
    if match:
        return int(match[1])
    if _EIGHT_BIT.fullmatch(base):
        return 8
    return None


def _timecode(streams: list[dict[str, Any]], video: dict[str, Any] | None, fmt_tags: dict[str, Any]) -> str | None:
    # A QuickTime tmcd track is the authoritative start timecode; MXF puts it in the format tags.
    for stream in streams:
        if stream.get("codec_tag_string") == "tmcd" and (stream.get("tags") or {}).get("timecode"):
            return str(stream["tags"]["timecode"])
    for tags in ((video or {}).get("tags") or {}, fmt_tags):
        if tags.get("timecode"):
            return str(tags["timecode"])
    return None


def _video_info(
    stream: dict[str, Any], still: bool, duration: float | None, streams: list[dict[str, Any]], fmt_tags: dict[str, Any]
) -> VideoInfo:
    width, height = _int(stream.get("width")) or 0, _int(stream.get("height")) or 0
    if width <= 0 or height <= 0:
        raise MediaRejected("This file's picture has no usable size; it may be damaged. Export it again and upload that.")
    if width > MAX_DIMENSION or height > MAX_DIMENSION:
        raise MediaRejected(f"This picture is {width}×{height} pixels; the largest accepted is {MAX_DIMENSION}×{MAX_DIMENSION}.")
    sar = _rational(stream.get("sample_aspect_ratio")) or (1, 1)
    rate = None if still else (_rational(stream.get("avg_frame_rate")) or _rational(stream.get("r_frame_rate")))
    fps = rate[0] / rate[1] if rate else None
    frame_count = 1 if still else _int(stream.get("nb_frames"))
    if not frame_count and fps and duration:
        frame_count = round(duration * fps)
    raw_depth = _int(stream.get("bits_per_raw_sample"))
    return VideoInfo(
        index=int(stream["index"]),
        codec=str(stream.get("codec_name") or "unknown"),
        width=width,
        height=height,
        pixel_aspect=f"{sar[0]}:{sar[1]}",
        pixel_aspect_ratio=sar[0] / sar[1],
        display_aspect_ratio=width * sar[0] / (height * sar[1]),
        frame_rate=f"{rate[0]}/{rate[1]}" if rate else None,
        fps=fps,
        frame_count=frame_count or None,
        start_timecode=None if still else _timecode(streams, stream, fmt_tags),
        pix_fmt=stream.get("pix_fmt"),
        bit_depth=raw_depth if raw_depth else _bit_depth_from_pix_fmt(stream.get("pix_fmt")),
        colour_primaries=_known(stream.get("color_primaries")),
        colour_transfer=_known(stream.get("color_transfer")),
        colour_space=_known(stream.get("color_space")),
        colour_range=_known(stream.get("color_range")),
        field_order=_known(stream.get("field_order")),
    )


def _known(value: Any) -> str | None:
    return None if value in (None, "", "unknown", "reserved", "unspecified") else str(value)


def _audio_info(stream: dict[str, Any]) -> AudioInfo | None:
    channels, rate = _int(stream.get("channels")), _int(stream.get("sample_rate"))
    if not channels or not rate:
        return None  # a track ffprobe could not make sense of; ignored rather than trusted
    depth = _int(stream.get("bits_per_raw_sample")) or _int(stream.get("bits_per_sample"))
    return AudioInfo(
        index=int(stream["index"]),
        codec=str(stream.get("codec_name") or "unknown"),
        channels=channels,
        channel_layout=_known(stream.get("channel_layout")),
        sample_rate=rate,
        bit_depth=depth or None,
    )


def _media_info(fmt: ContainerFormat, data: dict[str, Any], size: int) -> MediaInfo:
    fmt_section = data.get("format") or {}
    format_name = str(fmt_section.get("format_name") or "")
    if format_name != fmt.format_name:
        # Cannot happen with -f forced unless ffmpeg changed under us; refuse rather than guess.
        raise MediaRejected(f"This file could not be read as {fmt.label}; it may be damaged.")
    fmt_tags = fmt_section.get("tags") or {}
    streams = [s for s in data.get("streams") or [] if isinstance(s, dict) and "index" in s]
    pictures = [
        s
        for s in streams
        if s.get("codec_type") == "video" and not (s.get("disposition") or {}).get("attached_pic")  # cover art is not video
    ]
    audio = tuple(a for a in (_audio_info(s) for s in streams if s.get("codec_type") == "audio") if a is not None)

    duration = None if fmt.still else _float(fmt_section.get("duration"))
    if duration is None and not fmt.still and pictures:
        duration = _float(pictures[0].get("duration"))
    if duration is not None and (duration < 0 or duration > MAX_DURATION_SECONDS):
        raise MediaRejected(f"This file claims to last {duration / 3600:.0f} hours; the longest accepted is 24 hours.")

    if fmt.still:
        if not pictures:
            raise MediaRejected(f"This {fmt.label} holds no picture; it may be damaged.")
        kind: Kind = "still"
    elif fmt.audio_only or not pictures:
        if not audio:
            raise MediaRejected("This file holds neither picture nor sound that can be read; it may be damaged.")
        kind = "audio"
    else:
        kind = "video"

    video = _video_info(pictures[0], fmt.still, duration, streams, fmt_tags) if kind != "audio" else None
    if kind == "video" and video is not None and not video.fps:
        raise MediaRejected("This video has no usable frame rate; it may be damaged. Export it again and upload that.")
    return MediaInfo(
        container=fmt.key,
        container_label=fmt.label,
        demuxer=fmt.demuxer,
        format_name=format_name,
        kind=kind,
        duration=duration,
        size=size,
        bit_rate=_int(fmt_section.get("bit_rate")),
        video=video,
        audio_tracks=audio,
    )
