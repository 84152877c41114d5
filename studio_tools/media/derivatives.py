"""Proxies, posters, filmstrips and waveforms, all made through the hardened runner.

Every function takes the `MediaInfo` that `probe` returned for `src`: its demuxer is forced on the
input again (so the derivative reads the file exactly as it was accepted) and its duration sizes the
caps. Outputs are written to a hidden temporary name beside `dst` and renamed into place only when
ffmpeg succeeded, so a crash, a cap or a cancel never leaves a half-written file under `dst`.

`progress(fraction)` is called with non-decreasing values in [0, 1] and always ends with 1.0;
`cancelled()` is polled about ten times a second and, when it returns True, ffmpeg is killed and
`MediaCancelled` raised.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ffmpeg

from studio_tools.media import sandbox
from studio_tools.media.errors import MediaToolError
from studio_tools.media.probe import MediaInfo
from studio_tools.media.sandbox import CancelCheck, Limits, ProgressCallback

PROXY_LONG_SIDE = 1920
# x264 preset of review proxies. superfast rather than veryfast: roughly twice the speed, quality
# enough for a review copy (bench/ingest_proxy.py --presets compares them on this machine).
PROXY_PRESET = "superfast"
POSTER_LONG_SIDE = 1280
MAX_FILMSTRIP_TILES = 100
_FILMSTRIP_INPUT_THREADS = "2"  # one decoder per tile: keep their threads (and address space) small


@dataclass(frozen=True)
class Filmstrip:
    path: Path
    times: tuple[float, ...]  # seconds from the start of the media, one per tile, left to right
    tile_width: int
    tile_height: int


def make_proxy(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    info: MediaInfo,
    *,
    progress: ProgressCallback | None = None,
    cancelled: CancelCheck | None = None,
    limits: Limits | None = None,
    burn_in: str | None = None,
) -> Path:
    """A review copy: H.264/AAC MP4 (faststart, long side ≤ 1920, square pixels, source frame rate and
    start timecode) for video; AAC in MP4 for audio (name `dst` .m4a if you like); JPEG for stills.
    `burn_in` writes a label into every frame (generated media: "AI-GENERATED - NOT APPROVED")."""
    if info.kind == "still":
        return _still_jpeg(src, dst, info, PROXY_LONG_SIDE, progress, cancelled, limits, burn_in=burn_in)
    inp = _input(src, info)
    streams: list[Any] = []
    options: dict[str, Any] = {
        "f": "mp4",
        "movflags": "+faststart",
        "map_metadata": "-1",  # phone GPS and editor paths stay with the original
        "map_chapters": "-1",
    }
    if info.kind == "video" and info.video is not None:
        video = inp[str(info.video.index)]
        streams.append(_label(_fit(video, PROXY_LONG_SIDE), burn_in).filter("format", "yuv420p"))
        options.update(
            {
                "c:v": "libx264",
                "preset": PROXY_PRESET,
                "crf": "23",
                "profile:v": "high",
                "pix_fmt": "yuv420p",
                "threads": str(sandbox.THREADS),
            }
        )
        if info.video.start_timecode:
            options["timecode"] = info.video.start_timecode
    audio = _proxy_audio(inp, info)
    if audio is not None:
        streams.append(audio)
        options.update({"c:a": "aac", "b:a": "160k", "ar": "48000"})
    if not streams:
        raise ValueError("make_proxy needs media with video or audio")
    with _staged(dst) as tmp:
        out = ffmpeg.output(*streams, sandbox.file_url(tmp), **options)
        _run(out, info, progress, cancelled, limits)
    return _done(dst, progress)


def make_poster(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    info: MediaInfo,
    *,
    at: float = 0.1,
    long_side: int = POSTER_LONG_SIDE,
    progress: ProgressCallback | None = None,
    cancelled: CancelCheck | None = None,
    limits: Limits | None = None,
    burn_in: str | None = None,
) -> Path:
    """A JPEG of the frame `at` (a fraction) of the way in, or of the still itself."""
    if info.kind == "still":
        return _still_jpeg(src, dst, info, long_side, progress, cancelled, limits, burn_in=burn_in)
    _require_video(info, "make_poster")
    seek = max(0.0, (info.duration or 0.0) * at)
    # A declared duration can overstate the last decodable frame; the first frame is the fallback.
    for attempt in (seek, 0.0) if seek else (0.0,):
        try:
            with _staged(dst) as tmp:
                inp = _input(src, info, ss=f"{attempt:.3f}")
                picture = _jpeg_ready(_label(_fit(inp[str(info.video.index)], long_side), burn_in))
                _run(ffmpeg.output(picture, sandbox.file_url(tmp), **_IMAGE_OUT), info, None, cancelled, limits)
            break
        except _NoOutput:
            continue
    else:
        raise MediaToolError("ffmpeg produced no poster frame")
    return _done(dst, progress)


def make_filmstrip(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    info: MediaInfo,
    count: int = 10,
    height: int = 90,
    *,
    progress: ProgressCallback | None = None,
    cancelled: CancelCheck | None = None,
    limits: Limits | None = None,
) -> Filmstrip:
    """A horizontal sprite of `count` evenly spaced frames, each `height` pixels tall and as wide as
    the display aspect makes it (rounded to even). `dst` ending in .png gives PNG, otherwise JPEG.

    Each tile is read by its own input with a fast seek, so a two-hour film costs `count` short
    decodes rather than one full one.
    """
    _require_video(info, "make_filmstrip")
    if not 1 <= count <= MAX_FILMSTRIP_TILES:
        raise ValueError(f"count must be between 1 and {MAX_FILMSTRIP_TILES}")
    if not 2 <= height <= 2160:
        raise ValueError("height must be between 2 and 2160")
    duration = info.duration or ((info.video.frame_count or 0) / info.video.fps if info.video.fps else 0.0)
    if duration <= 0:
        raise MediaToolError("cannot place filmstrip tiles: the media has no known duration")
    tile_height = height - height % 2
    tile_width = max(2, round(tile_height * info.video.display_aspect_ratio / 2) * 2)
    times = tuple(round(duration * (i + 0.5) / count, 3) for i in range(count))
    tiles = [
        _input(src, info, ss=f"{t:.3f}", threads=_FILMSTRIP_INPUT_THREADS)[str(info.video.index)]
        .filter("scale", tile_width, tile_height)
        .filter("setsar", 1)
        for t in times
    ]
    strip = tiles[0] if count == 1 else ffmpeg.filter(tiles, "hstack", inputs=count)
    png = Path(dst).suffix.lower() == ".png"
    with _staged(dst) as tmp:
        strip = strip if png else _jpeg_ready(strip)
        out = ffmpeg.output(strip, sandbox.file_url(tmp), **(_PNG_OUT if png else _IMAGE_OUT))
        _run(out, info, None, cancelled, limits)
    return Filmstrip(_done(dst, progress), times, tile_width, tile_height)


def make_waveform(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    info: MediaInfo,
    *,
    width: int = 1800,
    height: int = 140,
    colour: str = "0x5ab4f0",
    progress: ProgressCallback | None = None,
    cancelled: CancelCheck | None = None,
    limits: Limits | None = None,
) -> Path:
    """A transparent PNG of the first audio track's waveform (channels mixed). Only for media with
    audio; raises ValueError otherwise."""
    if info.audio is None:
        raise ValueError("make_waveform needs media with audio")
    if not (16 <= width <= 8192 and 16 <= height <= 2048):
        raise ValueError("waveform size out of range")
    inp = _input(src, info)
    # showwavespic emits its single picture at the very end, so a second, null output of the same
    # decoded audio is what makes -progress advance while the file is read.
    split = inp[str(info.audio.index)].filter_multi_output("asplit", 2)
    picture, tap = split.stream(0), split.stream(1)
    picture = picture.filter("showwavespic", s=f"{width}x{height}", colors=colour, split_channels=0)
    with _staged(dst) as tmp:
        image = ffmpeg.output(picture, sandbox.file_url(tmp), **_PNG_OUT)
        meter = ffmpeg.output(tap, "-", f="null", **{"c:a": "pcm_s16le"})
        _run(ffmpeg.merge_outputs(image, meter), info, progress, cancelled, limits)
    return _done(dst, progress)


_IMAGE_OUT = {"f": "image2", "update": "1", "frames:v": "1", "c:v": "mjpeg", "q:v": "3"}
_PNG_OUT = {"f": "image2", "update": "1", "frames:v": "1", "c:v": "png"}


def _input(src: str | os.PathLike[str], info: MediaInfo, **options: Any) -> Any:
    if info.container == "exr":
        # EXR holds scene-linear light; without a transfer curve every derivative would look dark.
        options.setdefault("apply_trc", "iec61966_2_1")
    return sandbox.ffmpeg_input(src, info.demuxer, **options)


def _require_video(info: MediaInfo, what: str) -> None:
    if info.kind != "video" or info.video is None:
        raise ValueError(f"{what} needs moving video; this media is {info.kind}")


def _fit(stream: Any, long_side: int) -> Any:
    """Scale to square pixels with the long side at most `long_side`, never up, both sides even.

    Written as expressions over the filter's own input so it stays right when ffmpeg auto-rotates
    a phone clip before it reaches the scaler.
    """
    factor = f"min(1,{long_side}/max(iw*sar,ih))"
    return stream.filter(
        "scale",
        w=f"max(2,2*trunc({factor}*iw*sar/2))",
        h=f"max(2,2*trunc({factor}*ih/2))",
        flags="bicubic",
    ).filter("setsar", 1)


_LABEL_FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
)


def _label(stream: Any, text: str | None) -> Any:
    """Burn `text` into the picture: white on a dark box in the top right corner, sized to the frame.

    The corner rather than a band across the bottom: the bottom of a plate is where the nearest
    people stand, and that is what a reviewer of a crowd comp or a recap needs to see."""
    if not text:
        return stream
    font = next((f for f in _LABEL_FONTS if os.path.exists(f)), None)
    options: dict[str, Any] = {"fontfile": font} if font else {"font": "Sans"}
    return stream.filter(
        "drawtext",
        text=text,
        fontcolor="white",
        fontsize="max(12,h/24)",
        box=1,
        boxcolor="black@0.65",
        boxborderw=8,
        x="w-text_w-max(10,w/60)",
        y="max(10,h/40)",
        **options,
    )


def _jpeg_ready(stream: Any) -> Any:
    # The mjpeg encoder takes full-range YUV only; converting here keeps 16-bit and RGB sources working.
    return stream.filter("format", "yuvj420p")


def _proxy_audio(inp: Any, info: MediaInfo) -> Any | None:
    tracks = info.audio_tracks
    if not tracks:
        return None
    first = inp[str(tracks[0].index)]
    if tracks[0].channels == 1 and len(tracks) > 1 and tracks[1].channels == 1:
        # MXF and broadcast MOV carry one mono track per channel; tracks 1 and 2 are left and right.
        return ffmpeg.filter([first, inp[str(tracks[1].index)]], "amerge", inputs=2)
    if tracks[0].channels > 2:
        # Browsers play stereo AAC everywhere; surround is for the original, not the review copy.
        return first.filter("aformat", channel_layouts="stereo")
    return first


def _still_jpeg(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    info: MediaInfo,
    long_side: int,
    progress: ProgressCallback | None,
    cancelled: CancelCheck | None,
    limits: Limits | None,
    *,
    burn_in: str | None = None,
) -> Path:
    if info.video is None:
        raise ValueError("a still needs a picture")
    with _staged(dst) as tmp:
        inp = _input(src, info)
        picture = _label(_fit(inp[str(info.video.index)], long_side), burn_in)
        out = ffmpeg.output(_jpeg_ready(picture), sandbox.file_url(tmp), **_IMAGE_OUT)
        _run(out, info, None, cancelled, limits)
    return _done(dst, progress)


def _run(
    out: Any, info: MediaInfo, progress: ProgressCallback | None, cancelled: CancelCheck | None, limits: Limits | None
) -> None:
    sandbox.run_ffmpeg(
        out,
        limits=limits or Limits.for_transcode(info.duration),
        duration=info.duration,
        progress=progress,
        cancelled=cancelled,
    )


class _NoOutput(MediaToolError):
    """ffmpeg exited 0 without writing anything (e.g. a seek past the last frame)."""


@contextlib.contextmanager
def _staged(dst: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary path beside `dst`, renamed onto it if the block succeeds and left a non-empty file;
    removed in every case, so `dst` is either the complete new output or untouched."""
    final = Path(dst)
    tmp = final.with_name(f".{final.name}.{secrets.token_hex(6)}.part")
    try:
        yield tmp
        if not tmp.exists() or tmp.stat().st_size == 0:
            raise _NoOutput(f"ffmpeg reported success but wrote no {final.suffix or 'output'} file")
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


def _done(dst: str | os.PathLike[str], progress: ProgressCallback | None) -> Path:
    if progress is not None:
        progress(1.0)
    return Path(dst)
