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
import statistics
from dataclasses import dataclass
from fractions import Fraction
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
    frame_rate: str | None  # the true rate, measured from timestamps, as an exact rational "24000/1001"; None for stills
    fps: float | None
    frame_count: int | None  # frames a decoder gives, counted where the header cannot be trusted
    start_timecode: str | None
    pix_fmt: str | None
    bit_depth: int | None
    colour_primaries: str | None
    colour_transfer: str | None
    colour_space: str | None
    colour_range: str | None
    field_order: str | None
    # Measured truth (see `_measure`); defaults keep rows stored before these fields readable.
    header_frame_rate: str | None = None  # what the container claims, only where it differs from frame_rate
    variable_frame_rate: bool = False  # frames are not evenly spaced; frame_rate is then the nominal rate
    min_frame_duration: float | None = None  # seconds between two frames, smallest and largest seen
    max_frame_duration: float | None = None
    rotation: int = 0  # degrees clockwise a player turns the picture to show it (0, 90, 180, 270)
    display_width: int = 0  # what a viewer sees: after pixel aspect ratio and rotation
    display_height: int = 0
    duration: float | None = None  # of the picture: frames x frame duration (a container may run longer)
    first_frame_time: float = 0.0  # presentation time of the first frame, seconds, as in the file
    measured_by: str = "container"  # "container" (trusted header), "packets" (demuxed timestamps), "decoded"
    # Frames on the constant-rate timeline at `frame_rate` that the reader, the proxy, the player and
    # notes count on: `frame_count` for a constant rate, more (the gaps held) for a variable one.
    timeline_frame_count: int | None = None


@dataclass(frozen=True)
class SubtitleInfo:
    index: int
    codec: str
    language: str | None


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
    subtitle_tracks: tuple[SubtitleInfo, ...] = ()

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
        data["subtitle_tracks"] = list(data["subtitle_tracks"])
        return data

    def summary(self) -> dict[str, Any]:
        """The facts people and tools ask first, at the top level (`python -m studio_tools probe`),
        then everything else under `detail`."""
        video = self.video
        return {
            "kind": self.kind,
            "container": self.container_label,
            "frame_rate": video.frame_rate if video else None,
            "header_frame_rate": video.header_frame_rate if video else None,
            "frame_count": video.frame_count if video else None,
            "timeline_frame_count": video.timeline_frame_count if video else None,
            "variable_frame_rate": video.variable_frame_rate if video else False,
            "min_frame_duration": video.min_frame_duration if video else None,
            "max_frame_duration": video.max_frame_duration if video else None,
            "width": video.width if video else None,
            "height": video.height if video else None,
            "display_width": video.display_width if video else None,
            "display_height": video.display_height if video else None,
            "rotation": video.rotation if video else 0,
            "pixel_aspect_ratio": video.pixel_aspect if video else None,
            "field_order": video.field_order if video else None,
            "start_timecode": video.start_timecode if video else None,
            "colour": {
                "primaries": video.colour_primaries,
                "transfer": video.colour_transfer,
                "matrix": video.colour_space,
                "range": video.colour_range,
            }
            if video
            else None,
            "audio": self.has_audio,
            "audio_tracks": [dataclasses.asdict(a) for a in self.audio_tracks],
            "subtitle_tracks": [dataclasses.asdict(t) for t in self.subtitle_tracks],
            "duration": video.duration if video and video.duration is not None else self.duration,
            "container_duration": self.duration,
            "measured_by": video.measured_by if video else None,
            "detail": self.to_dict(),
        }


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
    info = _media_info(fmt, data, path.stat().st_size)
    if info.kind == "video" and info.video is not None:
        stream = next(s for s in data["streams"] if s.get("index") == info.video.index)
        info = dataclasses.replace(info, video=_measure(path, fmt, info, stream, limits))
    return info


def _unreadable_reason(fmt: ContainerFormat, stderr: str) -> str:
    if "moov atom not found" in stderr:
        return (
            f"This {fmt.label} file is incomplete: its index (the 'moov' atom) is missing, which usually means "
            "the upload or the export was cut short. Upload the complete file."
        )
    return f"This file could not be read as {fmt.label}; it may be truncated or damaged. Export it again."


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
    rotation = _rotation(stream)
    display_width, display_height = max(1, round(width * sar[0] / sar[1])), height
    if rotation in (90, 270):
        display_width, display_height = display_height, display_width
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
        timeline_frame_count=frame_count or None,
        start_timecode=None if still else _timecode(streams, stream, fmt_tags),
        pix_fmt=stream.get("pix_fmt"),
        bit_depth=raw_depth if raw_depth else _bit_depth_from_pix_fmt(stream.get("pix_fmt")),
        colour_primaries=_known(stream.get("color_primaries")),
        colour_transfer=_known(stream.get("color_transfer")),
        colour_space=_known(stream.get("color_space")),
        colour_range=_known(stream.get("color_range")),
        field_order=_known(stream.get("field_order")),
        rotation=rotation,
        display_width=display_width,
        display_height=display_height,
        duration=None if still else duration,
    )


def _rotation(stream: dict[str, Any]) -> int:
    """Clockwise degrees a player turns the stored picture: the display matrix (ffprobe reports it
    counter-clockwise), else the legacy `rotate` tag; snapped to a quarter turn."""
    degrees: float | None = None
    for side in stream.get("side_data_list") or []:
        if isinstance(side, dict) and "rotation" in side and _float(side["rotation"]) is not None:
            degrees = -float(side["rotation"])
    if degrees is None:
        degrees = _float((stream.get("tags") or {}).get("rotate"))
    if not degrees:
        return 0
    return int(round(degrees / 90.0)) % 4 * 90


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
    subtitles = tuple(
        SubtitleInfo(
            index=int(s["index"]),
            codec=str(s.get("codec_name") or "unknown"),
            language=_known((s.get("tags") or {}).get("language")),
        )
        for s in streams
        if s.get("codec_type") == "subtitle"
    )
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
        subtitle_tracks=subtitles,
    )


# --- measured truth ------------------------------------------------------------------------------------
# A header's frame rate and count are claims. AVI stores one chunk per tick of its header rate, so a
# 25 fps stream muxed with a 1/50 time base (or with packed B-frames) claims 50 fps and twice its
# frames; Matroska keeps millisecond timestamps and no count at all; phones write variable rates
# under a constant-looking header. So the rate and count come from the frames' own timestamps:
# demuxed packets where they are presentation times (Matroska, MXF, MP4 that disagrees with itself),
# a decode where only a decoder knows (AVI). A QuickTime/MP4 whose sample table is self-consistent
# is trusted as it stands (its timestamps *are* that table) after a look at its last second, so a
# file cut short is caught here and not in a half-hour encode.

# Rates a camera or an edit really uses; a measurement is snapped to the first that fits it.
_COMMON_RATES = tuple(
    Fraction(r)
    for r in (
        "24000/1001", "24", "25", "30000/1001", "30", "50", "60000/1001", "60", "48", "48000/1001",
        "120000/1001", "120", "100", "96", "72", "15", "12", "10", "8", "6", "5",
    )
)  # fmt: skip


@dataclass(frozen=True)
class Timing:
    rate: Fraction
    frame_count: int
    variable: bool
    min_duration: float | None
    max_duration: float | None
    first_time: float
    duration: float

    @property
    def timeline_frames(self) -> int:
        if not self.variable:
            return self.frame_count
        return max(self.frame_count, int(self.duration * self.rate + Fraction(1, 2)))


def _measure(
    path: Path, fmt: ContainerFormat, info: MediaInfo, stream: dict[str, Any], limits: sandbox.Limits | None
) -> VideoInfo:
    video = info.video
    assert video is not None
    header = _rational(stream.get("r_frame_rate")) or _rational(stream.get("avg_frame_rate"))
    header_avg = _rational(stream.get("avg_frame_rate"))
    header_rate = Fraction(*header) if header else None
    tick = Fraction(*(_rational(stream.get("time_base")) or (1, 1_000_000)))
    nb_frames = _int(stream.get("nb_frames"))
    scan_limits = limits or sandbox.Limits.for_transcode(info.duration, realtime_factor=1.0)

    if fmt.demuxer == "mov" and _mov_trustworthy(header, header_avg, nb_frames, video.duration):
        assert header_rate is not None and nb_frames is not None
        first = _float(stream.get("start_time")) or 0.0
        _check_mov_tail(path, fmt, video, header_rate, nb_frames, first, scan_limits)
        timing = Timing(
            header_rate, nb_frames, False, float(1 / header_rate), float(1 / header_rate), first, float(nb_frames / header_rate)
        )
        how = "container"
    else:
        decode = fmt.demuxer == "avi"
        if decode:
            rows = _scan(path, fmt, video, "frame=best_effort_timestamp_time", scan_limits, decode=True)
            # A decoder's last frames (flushed at the end) and some first ones carry no timestamp; they
            # are frames all the same, placed one step after the frame before.
            stamps = _fill_missing([_float(row[0]) for row in rows if row])
        else:
            rows = _scan(path, fmt, video, "packet=pts_time,dts_time,size", scan_limits, decode=False)
            _check_order(rows)
            stamps = [
                _float(row[0]) if _float(row[0]) is not None else _float(row[1])
                for row in rows
                if len(row) >= 3 and (_int(row[2]) or 0) > 0
            ]
        timing = _timing([t for t in stamps if t is not None], header_rate, tick)
        how = "decoded" if decode else "packets"
        container_start = _float(stream.get("start_time"))
        if decode and container_start is not None:
            # A decoder stamps the first frames of a stream without presentation times (AVI) from the
            # packet that made them come out, a frame or two late; the container knows when it starts.
            timing = dataclasses.replace(timing, first_time=container_start)

    rate = timing.rate
    rate_text = f"{rate.numerator}/{rate.denominator}"
    header_text = f"{header[0]}/{header[1]}" if header else None
    return dataclasses.replace(
        video,
        frame_rate=rate_text,
        fps=float(rate),
        frame_count=timing.frame_count,
        header_frame_rate=header_text if header_rate != rate else None,
        variable_frame_rate=timing.variable,
        min_frame_duration=_round(timing.min_duration),
        max_frame_duration=_round(timing.max_duration),
        duration=_round(timing.duration),
        first_frame_time=_round(timing.first_time) or 0.0,
        measured_by=how,
        timeline_frame_count=timing.timeline_frames,
    )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _mov_trustworthy(
    header: tuple[int, int] | None, avg: tuple[int, int] | None, nb_frames: int | None, duration: float | None
) -> bool:
    """An MP4's own table agrees with itself: one rate everywhere and a count that fills the duration."""
    if not header or not avg or not nb_frames or not duration:
        return False
    if Fraction(*header) != Fraction(*avg):
        return False  # the timestamps are not evenly spaced (a phone's variable rate, an edit)
    return abs(nb_frames - duration * header[0] / header[1]) <= 1.5


def _scan(
    path: Path, fmt: ContainerFormat, video: VideoInfo, entries: str, limits: sandbox.Limits, *, decode: bool
) -> list[list[str]]:
    try:
        return sandbox.ffprobe_csv(path, fmt.demuxer, video.index, entries, limits=limits)
    except sandbox.ProcessFailed as exc:
        what = "decoded" if decode else "read"
        raise MediaRejected(
            f"This video's frames could not be {what} to the end; it may be truncated or damaged. Export it again."
        ) from exc


def _check_mov_tail(
    path: Path, fmt: ContainerFormat, video: VideoInfo, rate: Fraction, nb_frames: int, first: float, limits: sandbox.Limits
) -> None:
    """Read the packets of the last second: an export cut short keeps its whole index at the front
    but not the frames it lists, which only shows when they are read."""
    last_frame = first + float((nb_frames - 1) / rate)
    start = max(0.0, last_frame - 1.0)
    rows = sandbox.ffprobe_csv(
        path, fmt.demuxer, video.index, "packet=pts_time,dts_time,size", limits=limits, extra=("-read_intervals", f"{start:.3f}%")
    )
    times = [t for t in (_float(row[0]) for row in rows if len(row) >= 3 and (_int(row[2]) or 0) > 0) if t is not None]
    if not times or max(times) < last_frame - float(1.5 / rate):
        reached = f"{max(times) - first:.1f} s" if times else "its start"
        raise MediaRejected(
            f"This {fmt.label} file is incomplete: its index lists {nb_frames} frames ({float(nb_frames / rate):.1f} s), "
            f"but its pictures stop at {reached}, which usually means the upload or the export was cut short. "
            "Upload the complete file."
        )


def _check_order(rows: list[list[str]]) -> None:
    """Packets in file order: decode times must move forward and no two pictures may share a time.
    A file that breaks this plays frames in an order nobody chose; refusing it beats guessing."""
    seen: set[float] = set()
    last_dts: float | None = None
    for row in rows:
        if len(row) < 3 or (_int(row[2]) or 0) <= 0:
            continue
        pts, dts = _float(row[0]), _float(row[1])
        if dts is not None:
            if last_dts is not None and dts < last_dts:
                raise MediaRejected(
                    f"This video's frame times go backwards at {dts:.3f} s, so its frames cannot be put in order; "
                    "it may be damaged or badly joined. Export it again."
                )
            last_dts = dts
        if pts is not None:
            if round(pts, 6) in seen:
                raise MediaRejected(
                    f"Several frames of this video share the time {pts:.3f} s (its timestamps go backwards or stand "
                    "still), so they cannot be put in order; it may be damaged or badly joined. Export it again."
                )
            seen.add(round(pts, 6))


def _fill_missing(stamps: list[float | None]) -> list[float]:
    known = [t for t in stamps if t is not None]
    if len(known) < 2:
        return known
    step = statistics.median(b - a for a, b in zip(known, known[1:], strict=False))
    filled: list[float] = []
    first_known = next(i for i, t in enumerate(stamps) if t is not None)
    for i, t in enumerate(stamps):
        if t is not None:
            filled.append(t)
        elif filled:
            filled.append(filled[-1] + step)
        else:
            filled.append(known[0] - step * (first_known - i))
    return filled


def _timing(stamps: list[float], header_rate: Fraction | None, tick: Fraction) -> Timing:
    """Rate, count and regularity from presentation times (any order; duplicates are one frame)."""
    times = sorted(set(round(t, 6) for t in stamps))
    if not times:
        raise MediaRejected(
            "This video holds no frame that can be decoded; it may be damaged or empty. Export it again and upload that."
        )
    if len(times) == 1:
        if header_rate is None:
            raise MediaRejected("This video has a single frame and no frame rate; upload it as a still image instead.")
        return Timing(header_rate, 1, False, None, None, times[0], float(1 / header_rate))
    deltas = [b - a for a, b in zip(times, times[1:], strict=False)]
    span = times[-1] - times[0]
    if span <= 0 or span > MAX_DURATION_SECONDS:
        raise MediaRejected(
            "This video's frame times make no sense (they do not move forward); it may be damaged. Export it again."
        )
    tick_s = float(tick)
    # Timestamps are rounded to the time base: deltas of one rate may differ by one tick (33/34 ms).
    slack = tick_s + 2e-6
    variable = max(deltas) - min(deltas) > slack
    mean = span / len(deltas)
    typical = statistics.median(deltas)
    candidates = [c for c in (header_rate, *_COMMON_RATES) if c is not None]
    rate: Fraction | None = None
    if variable:
        # The nominal rate: the one the typical step belongs to.
        rate = next((c for c in candidates if abs(float(1 / c) - typical) <= slack), None)
        if rate is None:
            rate = Fraction(1 / typical).limit_denominator(1001)
    else:
        # The mean step is exact to within one tick spread over the whole span (plus a capture's jitter).
        allowed = slack / len(deltas) + 1e-4 * mean
        rate = next((c for c in candidates if abs(float(1 / c) - mean) <= allowed), None)
        if rate is None:
            rate = Fraction(1 / mean).limit_denominator(1001)
    if rate <= 0 or rate > 1000:
        raise MediaRejected(
            "This video's frame rate cannot be determined from its frames; it may be damaged. Export it again and upload that."
        )
    duration = span + (typical if variable else float(1 / rate))
    return Timing(rate, len(times), variable, min(deltas), max(deltas), times[0], duration)
