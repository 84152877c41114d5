"""Rendering the recap with ffmpeg: trims, crossfades, narration track, temp VO, music ducking, loudness.

One sandboxed ffmpeg run cuts every moment from its episode (an input per moment, each with an
accurate seek, so no episode is decoded end to end), brings each to the first episode's frame rate,
picture size and square pixels (letterboxed if another episode differs), crossfades picture and
sound, mixes the scratch voice-over and the music (ducked under dialogue and voice-over with a
sidechain compressor), and writes the H.264 picture and a float WAV of the mix.

The mix is then measured (EBU R128 integrated loudness) and given the gain that brings it to the
target, with a limiter holding the true peak under -1 dBTP; the final file is muxed with the picture
copied and AAC sound, then measured again and corrected if it missed by more than 0.4 LU.

The narration subtitle track is muxed from our own SRT. The media sandbox refuses subtitle demuxers
for uploads (they are attack surface); this SRT is written by this tool, so it is read with the srt
demuxer pinned by the same whitelists, in a command run through the sandbox's runner.
"""

from __future__ import annotations

import math
import shutil
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import ffmpeg
import numpy as np

from studio_tools.media import sandbox
from studio_tools.media.sandbox import Limits
from studio_tools.recap import audio

SAMPLE_RATE = 48000
TRUE_PEAK_LIMIT = -1.0  # dBTP
LOUDNESS_TARGETS = {"ebu_r128": -23.0, "atsc_a85": -24.0}
ISO_639_2 = {
    "en": "eng", "fr": "fra", "de": "deu", "es": "spa", "it": "ita", "pt": "por", "nl": "nld", "sv": "swe", "da": "dan",
    "no": "nor", "nb": "nob", "fi": "fin", "pl": "pol", "cs": "ces", "ja": "jpn", "ko": "kor", "zh": "zho", "ru": "rus",
}  # fmt: skip


@dataclass(frozen=True)
class ClipSource:
    path: Path
    demuxer: str
    video_index: int
    audio_index: int | None
    start: float  # seconds from the start of the file: the moment starts at the frame nearest to it
    frames: int  # output frames
    source_rate: Fraction | None = None  # the episode's (nominal) rate: the seek starts half a frame early
    display_size: tuple[int, int] | None = None  # the episode's picture as a viewer sees it (pixel aspect, rotation)
    constant_rate: bool = True  # the probe found the episode's frames evenly spaced


@dataclass(frozen=True)
class Voice:
    path: Path  # WAV
    start: float  # on the recap's timeline
    seconds: float


@dataclass
class RenderPlan:
    clips: list[ClipSource]
    rate: Fraction
    width: int
    height: int
    crossfade_frames: int
    loudness_target: float
    subtitles: Path | None = None
    subtitle_language: str = "und"
    subtitle_title: str = "Narration"
    voices: list[Voice] = field(default_factory=list)
    music: tuple[Path, str, int] | None = None  # path, demuxer, audio stream index
    comment: str = ""


@dataclass
class RenderResult:
    duration: float
    loudness: float
    true_peak: float
    gain_db: float
    passes: int
    seconds: float


def espeak_available() -> str | None:
    return shutil.which("espeak-ng")


def speak(
    texts: list[str], language: str, folder: Path, cancelled: Callable[[], bool] | None = None
) -> list[tuple[Path, float]] | None:
    """Temp voice-over: one WAV per sentence with espeak-ng, or None when it is not installed or has no such voice."""
    binary = espeak_available()
    if binary is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    spoken = []
    for i, text in enumerate(texts):
        source = folder / f"vo-{i:03d}.txt"
        target = folder / f"vo-{i:03d}.wav"
        source.write_text(text, encoding="utf-8")
        try:
            sandbox.run([binary, "-v", language, "-s", "165", "-f", str(source), "-w", str(target)],
                        limits=Limits(wall_seconds=60, cpu_seconds=60), cancelled=cancelled)  # fmt: skip
        except sandbox.ProcessFailed:
            return None  # e.g. no voice for this language: no temp VO rather than a wrong-language one
        with wave.open(str(target), "rb") as w:
            spoken.append((target, w.getnframes() / w.getframerate()))
    return spoken


def render(
    plan: RenderPlan,
    target: Path,
    scratch: Path,
    *,
    progress: Callable[[float], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> RenderResult:
    import time

    t0 = time.monotonic()
    if not plan.clips:
        raise ValueError("nothing to render")
    scratch.mkdir(parents=True, exist_ok=True)
    rate = plan.rate
    xf = plan.crossfade_frames if len(plan.clips) > 1 else 0
    lengths = [c.frames / rate for c in plan.clips]
    total_frames = sum(c.frames for c in plan.clips) - xf * (len(plan.clips) - 1)
    total = float(Fraction(total_frames) / rate)
    total_samples = int(round(total * SAMPLE_RATE))
    # An episode without sound contributes silence: one silence file, split into as many branches as
    # there are such clips (ffmpeg-python merges identical inputs into one node, and one node feeding
    # several chains needs an explicit split).
    silent = [i for i, c in enumerate(plan.clips) if c.audio_index is None]
    quiet: dict[int, object] = {}
    if silent:
        source = sandbox.ffmpeg_input(_silence(scratch / "silence.wav", max(float(x) for x in lengths) + 2.0), "wav")["0"]
        if len(silent) == 1:
            quiet[silent[0]] = source
        else:
            branches = source.filter_multi_output("asplit", len(silent))
            quiet.update({i: branches.stream(k) for k, i in enumerate(silent)})

    videos, audios = [], []
    for n, (clip, length) in enumerate(zip(plan.clips, lengths, strict=True)):
        read = float(length) + 1.0
        # A moment's start is a frame's time as the analysis printed it (rounded), which may fall a hair
        # after that frame's own timestamp: an exact seek there would drop the frame and start one late.
        # The seek starts half a frame early so the first frame kept is the one nearest to the start; the
        # sound skips that half frame again so it stays with the picture.
        early = min(clip.start, 0.5 / float(clip.source_rate)) if clip.source_rate else 0.0
        if clip.demuxer != "avi":
            lead = 0.0
            inp = sandbox.ffmpeg_input(clip.path, clip.demuxer, ss=f"{clip.start - early:.6f}", t=f"{read + early:.6f}")
            v = inp[str(clip.video_index)].filter("setpts", "PTS-STARTPTS")
        else:
            # An AVI's index need not say truly which chunks are keyframes (packed B-frames, empty chunks
            # of a doubled header rate): a seek then starts on a frame that cannot be decoded alone, and
            # the first frames come out as grey smears; and its last frame carries no time, which the fps
            # filter drops. So it is read from its start, its frames stamped by count at its true rate
            # (its first frame is the container's start), and trimmed to the moment.
            lead = clip.start - early
            inp = sandbox.ffmpeg_input(clip.path, clip.demuxer, t=f"{lead + read + early:.6f}")
            v = inp[str(clip.video_index)]
            if clip.constant_rate and clip.source_rate:
                v = v.filter("setpts", f"N*{clip.source_rate.denominator}/{clip.source_rate.numerator}/TB")
            else:
                v = v.filter("setpts", "PTS-STARTPTS")
            v = v.filter("trim", start=f"{lead:.6f}").filter("setpts", "PTS-STARTPTS")
        v = v.filter("fps", fps=f"{rate.numerator}/{rate.denominator}")
        if clip.display_size:
            v = v.filter("scale", *_fit(clip.display_size, plan.width, plan.height), flags="bicubic")
        else:
            v = v.filter("scale", plan.width, plan.height, force_original_aspect_ratio="decrease", flags="bicubic")
        v = (
            v.filter("pad", plan.width, plan.height, "(ow-iw)/2", "(oh-ih)/2")
            .filter("setsar", 1)
            .filter("format", "yuv420p")
            .filter("tpad", stop=-1, stop_mode="clone")
            .filter("trim", end_frame=clip.frames)
            .filter("setpts", "PTS-STARTPTS")
        )
        samples = int(round(float(length) * SAMPLE_RATE))
        if clip.audio_index is not None:
            a = inp[str(clip.audio_index)].filter("asetpts", "PTS-STARTPTS")
            a = a.filter("atrim", start=f"{lead + early:.6f}") if lead + early > 0 else a
        else:
            a = quiet[n]
        a = (
            a.filter("asetpts", "PTS-STARTPTS")
            .filter("aresample", SAMPLE_RATE)
            .filter("aformat", sample_fmts="fltp", channel_layouts="stereo")
            .filter("apad")
            .filter("atrim", end_sample=samples)
            .filter("asetpts", "PTS-STARTPTS")
        )
        videos.append(v)
        audios.append(a)

    if len(videos) == 1:
        video, program = videos[0], audios[0]
    elif xf == 0:
        joined = ffmpeg.concat(*[s for pair in zip(videos, audios, strict=True) for s in pair], v=1, a=1).node
        video, program = joined[0], joined[1]
    else:
        xd = float(Fraction(xf) / rate)
        video, program = videos[0], audios[0]
        elapsed = float(lengths[0])
        for v, a, length in zip(videos[1:], audios[1:], lengths[1:], strict=True):
            video = ffmpeg.filter([video, v], "xfade", transition="fade", duration=f"{xd:.6f}", offset=f"{elapsed - xd:.6f}")
            program = ffmpeg.filter([program, a], "acrossfade", d=f"{xd:.6f}", c1="tri", c2="tri")
            elapsed += float(length) - xd
    program = program.filter("apad").filter("atrim", end_sample=total_samples)

    mix = _mix(plan, program, total_samples)
    video_tmp = scratch / "picture.mp4"
    mix_tmp = scratch / "mix.wav"
    picture = ffmpeg.output(
        video,
        sandbox.file_url(video_tmp),
        **{
            "c:v": "libx264",
            "preset": "veryfast",
            "crf": "20",
            "pix_fmt": "yuv420p",
            "r": f"{rate.numerator}/{rate.denominator}",
            "threads": str(sandbox.THREADS),
            "f": "mp4",
        },
    )
    sound = ffmpeg.output(mix, sandbox.file_url(mix_tmp), **{"c:a": "pcm_f32le", "ar": str(SAMPLE_RATE), "f": "wav"})
    limits = Limits.for_transcode(total + sum(float(x) for x in lengths), realtime_factor=6.0)

    def step(start: float, span: float) -> Callable[[float], None] | None:
        return None if progress is None else (lambda f: progress(start + span * f))

    sandbox.run_ffmpeg(
        ffmpeg.merge_outputs(picture, sound), limits=limits, duration=total, progress=step(0.0, 0.8), cancelled=cancelled
    )

    measured = audio.measure(mix_tmp, "wav", 0, duration=total, cancelled=cancelled)
    gain = 0.0 if measured.integrated <= audio.SILENCE_LUFS + 1 else plan.loudness_target - measured.integrated
    passes = 0
    final = measured
    for passes in range(1, 4):  # noqa: B007 - the count of passes made is reported
        _mux(plan, video_tmp, mix_tmp, target, gain, limits, cancelled)
        final = audio.measure(target, "mov", 1, duration=total, cancelled=cancelled)
        if final.integrated <= audio.SILENCE_LUFS + 1 or abs(final.integrated - plan.loudness_target) <= 0.4:
            break
        gain += plan.loudness_target - final.integrated
    if progress is not None:
        progress(1.0)
    info = sandbox.ffprobe(target, "mov")
    stream = next(s for s in info["streams"] if s.get("codec_type") == "video")
    duration = float(stream.get("duration") or info["format"]["duration"])
    return RenderResult(duration, final.integrated, final.true_peak, gain, passes, time.monotonic() - t0)


def _fit(display: tuple[int, int], width: int, height: int) -> tuple[int, int]:
    """The size a clip is scaled to: its display picture (square pixels, rotated as shown) fitted into
    the recap's frame, even on both sides; the rest is padded. ffmpeg applies the rotation when it
    decodes, but its aspect-keeping scale would keep the stored pixels' shape, squeezing anamorphic
    pictures, so the size is worked out here from the probe's display size."""
    scale = min(width / display[0], height / display[1])
    return max(2, min(width, round(display[0] * scale / 2) * 2)), max(2, min(height, round(display[1] * scale / 2) * 2))


def _mix(plan: RenderPlan, program, total_samples: int):
    """Programme sound, temp VO and music into one stereo stream; music ducked under speech, speech under VO."""
    voices = []
    for voice in plan.voices:
        delay = int(round(voice.start * 1000))
        v = (
            sandbox.ffmpeg_input(voice.path, "wav")["0"]
            .filter("aresample", SAMPLE_RATE)
            .filter("aformat", sample_fmts="fltp", channel_layouts="stereo")
            .filter("adelay", delays=f"{delay}|{delay}")
        )
        voices.append(v)
    music = None
    if plan.music is not None:
        path, demuxer, index = plan.music
        music = (
            sandbox.ffmpeg_input(path, demuxer, stream_loop="-1")[str(index)]
            .filter("aresample", SAMPLE_RATE)
            .filter("aformat", sample_fmts="fltp", channel_layouts="stereo")
            .filter("atrim", end_sample=total_samples)
            .filter("volume", "-6dB")
        )
    if not voices and music is None:
        return program

    program_split = program.filter_multi_output("asplit", 2) if music is not None else None
    main = program_split.stream(0) if program_split is not None else program
    vo_split = None
    if voices:
        vo = voices[0] if len(voices) == 1 else ffmpeg.filter(voices, "amix", inputs=len(voices), normalize=0, duration="longest")
        vo = vo.filter("apad").filter("atrim", end_sample=total_samples).filter("volume", "3dB")
        vo_split = vo.filter_multi_output("asplit", 3 if music is not None else 2)
        # The programme dips under the voice-over so the temp VO is heard over dialogue.
        main = ffmpeg.filter([main, vo_split.stream(1)], "sidechaincompress", threshold=0.02, ratio=4, attack=20, release=350)
    parts = [main] + ([vo_split.stream(0)] if vo_split is not None else [])
    if music is not None and program_split is not None:
        keys = [program_split.stream(1)] + ([vo_split.stream(2)] if vo_split is not None else [])
        key = keys[0] if len(keys) == 1 else ffmpeg.filter(keys, "amix", inputs=len(keys), normalize=0)
        parts.append(ffmpeg.filter([music, key], "sidechaincompress", threshold=0.015, ratio=8, attack=30, release=500))
    if len(parts) == 1:
        return parts[0]
    return ffmpeg.filter(parts, "amix", inputs=len(parts), normalize=0, duration="first")


def _mux(plan: RenderPlan, video: Path, mix: Path, target: Path, gain: float, limits: Limits, cancelled) -> None:
    argv = [sandbox.binary("ffmpeg"), "-nostdin", "-hide_banner", "-nostats", "-loglevel", "error", "-y"]
    for path, demuxer in ((video, "mov"), (mix, "wav")):
        for key, value in sandbox.input_options(demuxer).items():
            argv += [f"-{key}", value]
        argv += ["-i", sandbox.file_url(path)]
    if plan.subtitles is not None:
        argv += ["-f", "srt", "-format_whitelist", "srt", "-protocol_whitelist", "file", "-i", sandbox.file_url(plan.subtitles)]
    argv += ["-map", "0:v:0", "-map", "1:a:0"]
    if plan.subtitles is not None:
        argv += ["-map", "2:s:0", "-c:s", "mov_text", "-metadata:s:s:0", f"language={plan.subtitle_language}"]
        argv += ["-metadata:s:s:0", f"handler_name={plan.subtitle_title}", "-metadata:s:s:0", f"title={plan.subtitle_title}"]
    sound_title = "Programme sound + TEMP VO (espeak-ng scratch voice)" if plan.voices else "Programme sound"
    limit = 10 ** ((TRUE_PEAK_LIMIT - 0.5) / 20)  # sample peak, half a dB under the true-peak ceiling
    argv += [
        "-c:v", "copy",
        "-filter:a", f"volume={gain:.3f}dB,alimiter=limit={limit:.4f}:level=0:latency=1:attack=5:release=80",
        "-c:a", "aac", "-b:a", "192k", "-ar", str(SAMPLE_RATE),
        "-metadata:s:a:0", f"title={sound_title}",
        "-metadata:s:a:0", f"handler_name={sound_title}",
        "-metadata", f"comment={plan.comment}",
        "-movflags", "+faststart", "-f", "mp4", sandbox.file_url(target),
    ]  # fmt: skip
    sandbox.run(argv, limits=limits, cancelled=cancelled)


def _silence(target: Path, seconds: float) -> Path:
    frames = int(math.ceil(seconds * SAMPLE_RATE))
    with wave.open(str(target), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(np.zeros(frames * 2, dtype="<i2").tobytes())
    return target
