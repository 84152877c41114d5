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
import dataclasses
import math
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import ffmpeg

from studio_tools.media import sandbox
from studio_tools.media.errors import MediaIncomplete, MediaToolError
from studio_tools.media.probe import MediaInfo, _float, _int  # noqa: F401 - one reading of ffprobe numbers
from studio_tools.media.sandbox import CancelCheck, Limits, ProgressCallback

PROXY_LONG_SIDE = 1920
# x264 preset of review proxies. superfast rather than veryfast: roughly twice the speed, quality
# enough for a review copy (bench/ingest_proxy.py --presets compares them on this machine).
PROXY_PRESET = "superfast"
# A source above this (whole-file) bit rate is encoded even when it could be remuxed: a 50 Mbit/s
# camera original is not a review copy that streams.
PROXY_REMUX_MAX_BIT_RATE = 20_000_000
POSTER_LONG_SIDE = 1280
MAX_FILMSTRIP_TILES = 100
_FILMSTRIP_INPUT_THREADS = "2"  # one decoder per tile: keep their threads (and address space) small


@dataclass(frozen=True)
class Filmstrip:
    path: Path
    times: tuple[float, ...]  # seconds from the start of the media, one per tile, left to right
    tile_width: int
    tile_height: int


@dataclass(frozen=True)
class Proxy:
    """What `make_review_proxy` made, read back from the written file (never from the source's claims)."""

    path: Path
    method: str  # "remux" (the source's own H.264/AAC, copied into a faststart MP4), "encode" or "image"
    encode_reasons: tuple[str, ...]  # why the source could not simply be remuxed (empty for a remux)
    frame_rate: str | None  # the proxy's constant rate, e.g. "25/1"; None for audio and stills
    frame_count: int | None
    width: int | None
    height: int | None
    duration: float | None

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        del data["path"]
        data["encode_reasons"] = list(self.encode_reasons)
        return data


def remux_blockers(info: MediaInfo, *, burn_in: str | None = None, long_side: int = PROXY_LONG_SIDE) -> list[str]:
    """Why the source cannot become the proxy by a remux (copying its streams into a faststart MP4);
    empty when it can: H.264 8-bit 4:2:0 with square pixels, no rotation, a constant frame rate
    whose header tells the truth, long side within the proxy limit, in MP4/MOV, with AAC stereo or
    no audio, at a bit rate a browser streams, and nothing to burn in."""
    video = info.video
    if info.kind != "video" or video is None:
        return [f"{info.kind} media"]
    reasons = []
    if info.container != "mov":
        reasons.append(f"container {info.container_label}, not MP4/MOV")
    if video.codec != "h264":
        reasons.append(f"video codec {video.codec}, not H.264")
    if video.pix_fmt != "yuv420p" or (video.bit_depth or 8) != 8:
        reasons.append(f"pixel format {video.pix_fmt}, not 8-bit yuv420p")
    if video.pixel_aspect not in ("1:1", "0:1"):
        reasons.append(f"non-square pixels ({video.pixel_aspect})")
    if video.rotation:
        reasons.append(f"rotated {video.rotation} degrees")
    if video.variable_frame_rate:
        reasons.append("variable frame rate")
    if video.header_frame_rate:
        reasons.append(f"header frame rate {video.header_frame_rate} is not the true {video.frame_rate}")
    if max(video.width, video.height) > long_side:
        reasons.append(f"{video.width}x{video.height} is larger than {long_side} on its long side")
    tracks = info.audio_tracks
    if tracks and (tracks[0].codec != "aac" or tracks[0].channels > 2):
        reasons.append(f"audio {tracks[0].codec} {tracks[0].channels} ch, not AAC mono/stereo")
    elif len(tracks) > 1 and tracks[0].channels == 1 and tracks[1].channels == 1:
        reasons.append("two mono audio tracks to merge")
    if info.bit_rate and info.bit_rate > PROXY_REMUX_MAX_BIT_RATE:
        reasons.append(f"{info.bit_rate / 1e6:.0f} Mbit/s is above {PROXY_REMUX_MAX_BIT_RATE / 1e6:.0f} Mbit/s")
    if burn_in:
        reasons.append("a label is burned into every frame")
    return reasons


def make_proxy(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    info: MediaInfo,
    *,
    progress: ProgressCallback | None = None,
    cancelled: CancelCheck | None = None,
    limits: Limits | None = None,
    burn_in: str | None = None,
    remux: bool = True,
) -> Path:
    """`make_review_proxy`, returning only the path."""
    return make_review_proxy(
        src, dst, info, progress=progress, cancelled=cancelled, limits=limits, burn_in=burn_in, remux=remux
    ).path


def make_review_proxy(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    info: MediaInfo,
    *,
    progress: ProgressCallback | None = None,
    cancelled: CancelCheck | None = None,
    limits: Limits | None = None,
    burn_in: str | None = None,
    remux: bool = True,
) -> Proxy:
    """A review copy: H.264/AAC MP4 (faststart, long side ≤ 1920, square pixels, display orientation,
    the probe's true frame rate as a constant rate, start timecode) for video; AAC in MP4 for audio
    (name `dst` .m4a if you like); JPEG for stills. `burn_in` writes a label into every frame
    (generated media: "AI-GENERATED - NOT APPROVED").

    A source that is already all that (see `remux_blockers`) is copied into a faststart MP4 instead of
    encoded, unless `remux` is False. The written proxy is read back: one short of the frames (or,
    for audio, the duration) the probe promised raises `MediaIncomplete`, and nothing is left at `dst`.
    """
    if info.kind == "still":
        path = _still_jpeg(src, dst, info, PROXY_LONG_SIDE, progress, cancelled, limits, burn_in=burn_in)
        return Proxy(path, "image", (), None, 1, None, None, None)
    blockers = remux_blockers(info, burn_in=burn_in)
    if remux and not blockers:
        try:
            with _staged(dst, "review copy") as tmp:
                _run(_remux_graph(src, tmp, info), info, progress, cancelled, limits)
                made = _check_proxy(tmp, info, "remux", ())
        except sandbox.ProcessFailed:
            # The source's H.264 did not fit the MP4 muxer as it is (odd bitstream headers): encode.
            blockers = ["the streams could not be copied as they are"]
        else:
            _done(dst, progress)
            return dataclasses.replace(made, path=Path(dst))
    with _staged(dst, "review copy") as tmp:
        _run(_encode_graph(src, tmp, info, burn_in), info, progress, cancelled, limits)
        made = _check_proxy(tmp, info, "encode", tuple(blockers))
    _done(dst, progress)
    return dataclasses.replace(made, path=Path(dst))


def _true_rate(info: MediaInfo) -> Fraction | None:
    video = info.video
    if video is None or not video.frame_rate:
        return None
    try:
        rate = Fraction(video.frame_rate)
    except (ValueError, ZeroDivisionError):
        return None
    return rate if rate > 0 else None


_PROXY_OUT = {
    "f": "mp4",
    "movflags": "+faststart",
    "map_metadata": "-1",  # phone GPS and editor paths stay with the original
    "map_chapters": "-1",
}


def _remux_graph(src: str | os.PathLike[str], tmp: Path, info: MediaInfo) -> Any:
    inp = _input(src, info)
    streams = [inp[str(info.video.index)]]
    if info.audio_tracks:
        streams.append(inp[str(info.audio_tracks[0].index)])
    options: dict[str, Any] = {**_PROXY_OUT, "c": "copy"}
    if info.video.start_timecode:
        options["timecode"] = info.video.start_timecode
    return ffmpeg.output(*streams, sandbox.file_url(tmp), **options)


def _encode_graph(src: str | os.PathLike[str], tmp: Path, info: MediaInfo, burn_in: str | None) -> Any:
    inp = _input(src, info)
    streams: list[Any] = []
    options: dict[str, Any] = dict(_PROXY_OUT)
    if info.kind == "video" and info.video is not None:
        video = inp[str(info.video.index)]
        rate = _true_rate(info)
        if rate is not None:
            if not info.video.variable_frame_rate:
                # A constant-rate source: frame N is at first + N / rate, whatever its stamps say (an AVI
                # with packed B-frames stamps them at the header's double rate and leaves the last
                # unstamped, which the fps filter alone would drop).
                first = f"{info.video.first_frame_time:.6f}"
                video = video.filter("setpts", f"({first}+N*{rate.denominator}/{rate.numerator})/TB")
            # The probe's measured rate, not the header's: a constant-rate timeline (frames of a
            # variable-rate source repeated or dropped to it), so frame N of the proxy is at N / rate.
            video = video.filter("fps", fps=f"{rate.numerator}/{rate.denominator}")
        # ffmpeg turns the picture upright (autorotate) before the scaler; _fit squares the pixels.
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
        if rate is not None:
            options["r"] = f"{rate.numerator}/{rate.denominator}"
            # The fps filter already made the timeline constant; the muxer must not pad the gap before
            # a late first frame (B-frame delay) with copies of it, or the proxy gains frames.
            options["fps_mode"] = "passthrough"
        if info.video.start_timecode:
            options["timecode"] = info.video.start_timecode
    audio = _proxy_audio(inp, info)
    if audio is not None:
        streams.append(audio)
        options.update({"c:a": "aac", "b:a": "160k", "ar": "48000"})
    if not streams:
        raise ValueError("make_proxy needs media with video or audio")
    return ffmpeg.output(*streams, sandbox.file_url(tmp), **options)


def _check_proxy(path: Path, info: MediaInfo, method: str, reasons: tuple[str, ...]) -> Proxy:
    """Read the written proxy back; raise MediaIncomplete when it is short of what the probe promised."""
    if not path.exists() or path.stat().st_size == 0:
        raise _NoOutput(
            "The converter finished without writing any of the review copy: no picture or sound of this file "
            "could be decoded. It may be truncated or damaged; export it again and upload that."
        )
    data = sandbox.ffprobe(path, "mov")
    streams = data.get("streams") or []
    video = next((s for s in streams if s.get("codec_type") == "video"), None)
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    duration = _float((data.get("format") or {}).get("duration"))
    if info.kind == "video" and info.video is not None:
        if video is None:
            raise MediaIncomplete(
                "No picture of this video could be decoded into the review copy; it may be truncated or damaged. "
                "Export it again and upload that."
            )
        frames = _int(video.get("nb_frames")) or 0
        rate = _true_rate(info)
        expected = _promised_frames(info, rate)
        if expected and rate is not None:
            slack = max(2, min(expected // 100, math.ceil(2 * rate)))
            if frames < expected - slack:
                raise MediaIncomplete(_short_reason(info, expected, frames, float(frames / rate)))
        return Proxy(
            path,
            method,
            reasons,
            f"{rate.numerator}/{rate.denominator}" if rate is not None and method == "encode" else video.get("avg_frame_rate"),
            frames or None,
            _int(video.get("width")),
            _int(video.get("height")),
            duration,
        )
    if audio is None:
        raise MediaIncomplete("No sound of this file could be decoded into the review copy; it may be truncated or damaged.")
    promised = info.duration or 0.0
    got = _float(audio.get("duration")) or duration or 0.0
    if promised and got < promised - max(0.5, promised / 100):
        raise MediaIncomplete(
            f"This file ends early: it says it lasts {promised:.1f} s, but only {got:.1f} s of it could be decoded. "
            "The upload or the export was probably cut short; upload the complete file."
        )
    return Proxy(path, method, reasons, None, None, None, None, duration)


def _promised_frames(info: MediaInfo, rate: Fraction | None) -> int | None:
    """Frames the proxy must hold: the decodable frame count, or for a variable-rate source the
    frames of its constant-rate timeline (drops held, doubles dropped)."""
    video = info.video
    if video.frame_count:
        return video.timeline_frame_count
    seconds = video.duration or info.duration
    return round(seconds * rate) if seconds and rate else None


def _short_reason(info: MediaInfo, expected: int, frames: int, seconds: float) -> str:
    promised = info.video.duration or info.duration or expected / float(_true_rate(info) or 1)
    return (
        f"This file ends early: it says it holds {expected} frames ({promised:.1f} s), but only {frames} "
        f"({seconds:.1f} s) could be decoded. The upload or the export was probably cut short; upload the complete file."
    )


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
            with _staged(dst, "poster") as tmp:
                inp = _input(src, info, ss=f"{attempt:.3f}")
                picture = _jpeg_ready(_label(_fit(inp[str(info.video.index)], long_side), burn_in))
                _run(ffmpeg.output(picture, sandbox.file_url(tmp), **_IMAGE_OUT), info, None, cancelled, limits)
            break
        except _NoOutput:
            continue
    else:
        raise MediaIncomplete(
            "No frame of this video could be decoded for its poster, not even the first: it is probably truncated "
            "or damaged. Export it again and upload that."
        )
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
    video = info.video
    # Tiles are as the picture is shown: after pixel aspect and rotation (ffmpeg turns it upright).
    aspect = video.display_width / video.display_height if video.display_width and video.display_height else None
    tile_width = max(2, round(tile_height * (aspect or video.display_aspect_ratio) / 2) * 2)
    times = tuple(round(duration * (i + 0.5) / count, 3) for i in range(count))
    tiles = [
        _input(src, info, ss=f"{t:.3f}", threads=_FILMSTRIP_INPUT_THREADS)[str(info.video.index)]
        .filter("scale", tile_width, tile_height)
        .filter("setsar", 1)
        for t in times
    ]
    strip = tiles[0] if count == 1 else ffmpeg.filter(tiles, "hstack", inputs=count)
    png = Path(dst).suffix.lower() == ".png"
    try:
        with _staged(dst, "filmstrip") as tmp:
            strip = strip if png else _jpeg_ready(strip)
            out = ffmpeg.output(strip, sandbox.file_url(tmp), **(_PNG_OUT if png else _IMAGE_OUT))
            _run(out, info, None, cancelled, limits)
    except _NoOutput as exc:
        # A tile past the last decodable frame gives hstack nothing: the file is shorter than it says.
        raise MediaIncomplete(
            f"This file ends early: it says it lasts {duration:.1f} s, but no picture could be decoded at "
            f"{times[-1]:.1f} s for the filmstrip. The upload or the export was probably cut short; "
            "upload the complete file."
        ) from exc
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
    with _staged(dst, "audio waveform") as tmp:
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
    with _staged(dst, "picture") as tmp:
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


class _NoOutput(MediaIncomplete):
    """ffmpeg exited 0 without writing anything (e.g. a seek past the last frame)."""


@contextlib.contextmanager
def _staged(dst: str | os.PathLike[str], what: str = "output") -> Iterator[Path]:
    """A temporary path beside `dst`, renamed onto it if the block succeeds and left a non-empty file;
    removed in every case, so `dst` is either the complete new output or untouched. An empty or
    missing output is `_NoOutput`, a rejection naming `what` was being made."""
    final = Path(dst)
    tmp = final.with_name(f".{final.name}.{secrets.token_hex(6)}.part")
    try:
        yield tmp
        if not tmp.exists() or tmp.stat().st_size == 0:
            raise _NoOutput(
                f"The converter finished without writing the {what}: nothing of this file could be decoded for it. "
                "It may be truncated or damaged; export it again and upload that."
            )
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


def _done(dst: str | os.PathLike[str], progress: ProgressCallback | None) -> Path:
    if progress is not None:
        progress(1.0)
    return Path(dst)
