"""Generated "episodes" with known ground truth, for the recap tests, the benchmark and the portal's demo
(`manage.py seed_demo`).

Every shot is a moving picture of its own (a coloured gradient with shapes drifting across it), so
the only big picture changes are the cuts and dissolves we put in, at frame numbers we know. Frames
are made with numpy and piped to ffmpeg; a variable frame rate file gets explicit timestamps through
an mkvtimestamp_v2 file, so each frame's time is known exactly as well.
"""

from __future__ import annotations

import colorsys
import math
import subprocess
import wave
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class ShotPlan:
    frames: int
    dissolve_in: int = 0  # frames of dissolve from the previous shot (0: hard cut)


@dataclass
class Truth:
    """Where the shots of a generated file begin: frame numbers and their times in seconds."""

    times: list[float]  # presentation time of every frame
    boundaries: list[int] = field(default_factory=list)  # first frame of each new shot (dissolves: first frame past half way)
    kinds: list[str] = field(default_factory=list)  # "cut" or "dissolve", per boundary

    def boundary_times(self) -> list[float]:
        return [self.times[i] for i in self.boundaries]


def _shot_picture(seed: int, width: int, height: int):
    rng = np.random.default_rng(seed)
    hue = rng.random()
    base = np.array(colorsys.hsv_to_rgb(hue, 0.55 + 0.4 * rng.random(), 0.35 + 0.5 * rng.random()))
    other = np.array(colorsys.hsv_to_rgb((hue + 0.3 + 0.4 * rng.random()) % 1, 0.8, 0.9))
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.random() * math.pi
    ramp = (np.cos(angle) * xx / width + np.sin(angle) * yy / height + 1) / 3
    background = (base[None, None, :] * (0.6 + ramp[..., None])).clip(0, 1)
    shapes = []
    for _ in range(4):
        colour = np.array(colorsys.hsv_to_rgb(rng.random(), 0.7 + 0.3 * rng.random(), 0.5 + 0.5 * rng.random()))
        shapes.append(
            (
                rng.random() * width,
                rng.random() * height,
                (rng.random() - 0.5) * 2.5,  # pixels per frame
                (rng.random() - 0.5) * 1.5,
                8 + rng.random() * height / 5,
                colour,
            )
        )
    stripes = (np.sin(xx / (5 + 10 * rng.random()) + yy / (7 + 9 * rng.random())) > 0.6).astype(np.float32)

    def frame(n: int) -> np.ndarray:
        img = background.copy()
        img += 0.25 * stripes[..., None] * other[None, None, :]
        for x0, y0, vx, vy, radius, colour in shapes:
            cx, cy = (x0 + vx * n) % width, (y0 + vy * n) % height
            mask = (xx - cx) ** 2 + (yy - cy) ** 2 < radius**2
            img[mask] = colour
        return img

    return frame


def render_frames(plans: list[ShotPlan], width: int, height: int, seed: int = 1):
    """Yield RGB uint8 frames and return the ground truth (boundary frame numbers) via the list given."""
    pictures = [_shot_picture(seed * 1000 + i, width, height) for i in range(len(plans))]
    boundaries: list[int] = []
    kinds: list[str] = []
    frames: list[np.ndarray] = []
    start = 0
    for i, plan in enumerate(plans):
        if i > 0:
            if plan.dissolve_in:
                # The dissolve occupies the first `dissolve_in` frames of this shot; frame k of it has
                # weight (k + 1) / (dissolve_in + 1) of the new picture.
                d = plan.dissolve_in
                half = next(k for k in range(d) if (k + 1) / (d + 1) >= 0.5)
                boundaries.append(start + half)
                kinds.append("dissolve")
            else:
                boundaries.append(start)
                kinds.append("cut")
        start += plan.frames
    position = 0
    for i, plan in enumerate(plans):
        for n in range(plan.frames):
            img = pictures[i](n)
            if i > 0 and n < plan.dissolve_in:
                weight = (n + 1) / (plan.dissolve_in + 1)
                previous = pictures[i - 1](plans[i - 1].frames + n)
                img = (1 - weight) * previous + weight * img
            frames.append((img.clip(0, 1) * 255).astype(np.uint8))
            position += 1
    return frames, boundaries, kinds


# Frame durations in 1/600 s ticks (1/20, 1/25, 1/30, 1/40 s and back), repeated: a variable frame
# rate that ffmpeg's setpts can reproduce exactly from the frame number alone.
VFR_TICKS = (30, 24, 20, 15, 20, 24, 30, 15)
VFR_TIMEBASE = 600


def vfr_times(count: int) -> list[float]:
    """Presentation times of `count` frames following VFR_TICKS."""
    times, tick = [], 0
    for n in range(count):
        times.append(tick / VFR_TIMEBASE)
        tick += VFR_TICKS[n % len(VFR_TICKS)]
    return times


def _vfr_setpts() -> str:
    period, size = sum(VFR_TICKS), len(VFR_TICKS)
    partial = "+".join(f"gte(mod(N,{size}),{k + 1})*{VFR_TICKS[k]}" for k in range(size - 1))
    return f"settb=1/{VFR_TIMEBASE},setpts='(floor(N/{size})*{period}+{partial})/({VFR_TIMEBASE}*TB)'"


def write_video(
    target: Path,
    frames: list[np.ndarray],
    *,
    fps: int | str = 25,
    vfr: bool = False,
    drop: str | None = None,
    audio: Path | None = None,
    gop: int = 50,
    anamorphic: tuple[int, int, str] | None = None,
    video_delay: float = 0.0,
) -> Path:
    """Encode RGB frames to H.264 (MP4, or MKV by the target's suffix), at a constant `fps` ("24000/1001"
    works too), with the variable rate of `vfr_times`, or at `fps` with the frames that `drop` (an
    ffmpeg expression of the frame number `n`) selects left out, the others keeping their times.
    anamorphic=(width, height, "4/3") stores the picture squeezed to that size with that pixel aspect,
    so it displays as drawn. video_delay starts the picture that many seconds after the sound."""
    height, width = frames[0].shape[:2]
    raw = target.with_suffix(".rgb")
    raw.write_bytes(b"".join(f.tobytes() for f in frames))
    cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
    cmd += ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", str(fps), "-i", str(raw)]
    if audio is not None:
        cmd += ["-i", str(audio)]
    vf = f"{_vfr_setpts()},format=yuv420p" if vfr else "format=yuv420p"
    if anamorphic:
        vf = f"scale={anamorphic[0]}:{anamorphic[1]}:flags=bicubic,setsar={anamorphic[2]},{vf}"
    if drop:
        vf = f"select='not({drop})',{vf}"
    cmd += ["-vf", vf, "-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", "-g", str(gop)]
    if vfr:
        cmd += ["-fps_mode", "vfr", "-enc_time_base", f"1/{VFR_TIMEBASE}", "-video_track_timescale", str(VFR_TIMEBASE)]
    elif drop:
        cmd += ["-fps_mode", "vfr"]
    if audio is not None:
        cmd += ["-c:a", "aac", "-b:a", "96k", "-shortest"]
    encoded = target.with_name(f"encoded-{target.name}") if video_delay else target
    subprocess.run([*cmd, str(encoded)], check=True, stdin=subprocess.DEVNULL)
    raw.unlink()
    if video_delay:  # remuxed with the picture's timestamps moved on (an encode would start them at 0 again)
        remux = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-itsoffset", f"{video_delay:.6f}"]
        remux += ["-i", str(encoded), "-i", str(encoded), "-map", "0:v", "-map", "1:a?", "-c", "copy", str(target)]
        subprocess.run(remux, check=True, stdin=subprocess.DEVNULL)
        encoded.unlink()
    return target


def write_audio(target: Path, seconds: float, speech: list[tuple[float, float]], *, seed: int = 3, rate: int = 48000) -> Path:
    """Stereo WAV: a quiet tone bed, louder "speech" (amplitude-modulated noise) during the given spans."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    signal = 0.02 * np.sin(2 * np.pi * 220 * t)
    for start, end in speech:
        a, b = int(start * rate), min(n, int(end * rate))
        if b <= a:
            continue
        noise = rng.normal(0, 1, b - a)
        envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * t[a:b])
        voiced = np.sin(2 * np.pi * (150 + 30 * rng.random()) * t[a:b]) * 0.6 + 0.15 * noise
        signal[a:b] += 0.25 * envelope * voiced
    pcm = (np.clip(signal, -1, 1) * 32767).astype("<i2")
    stereo = np.repeat(pcm[:, None], 2, axis=1)
    with wave.open(str(target), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(stereo.tobytes())
    return target


def srt_time(seconds: float) -> str:
    ms = round(seconds * 1000)
    hh, rem = divmod(ms, 3_600_000)
    mm, rem = divmod(rem, 60_000)
    ss, ms = divmod(rem, 1000)
    return f"{hh:02d}:{mm:02d}:{ss:02d},{ms:03d}"


def write_srt(target: Path, cues: list[tuple[float, float, str]]) -> Path:
    blocks = [f"{i}\n{srt_time(a)} --> {srt_time(b)}\n{text}\n" for i, (a, b, text) in enumerate(cues, start=1)]
    target.write_text("\n".join(blocks), encoding="utf-8")
    return target


# Dialogue for two short generated episodes: recurring names (Mara, Tobias, Velmont), a place
# (Harwick), a year (1987) and a rare object (the ledger), so salience and the verifier have
# something real to work on.
EPISODE_LINES = [
    [
        "Mara, the ledger is gone from the vault.",
        "Who else knew the combination?",
        "Only Tobias and the old caretaker.",
        "Then we go to Harwick tonight.",
        "Velmont will be waiting for us there.",
        "I swore in 1987 that I would never go back.",
        "You will go back for the ledger.",
        "Fine. But we do this my way.",
        "The train leaves at midnight.",
        "Bring the map and nothing else.",
    ],
    [
        "Harwick looks smaller than I remember.",
        "Tobias has been lying to us since the start.",
        "He hid the ledger in the chapel.",
        "Velmont knows we are here.",
        "Mara, get to the bell tower now.",
        "The ledger names everyone who was paid.",
        "If it burns, the truth burns with it.",
        "Tobias is on the roof with a lantern.",
        "Give me the ledger and nobody gets hurt.",
        "It was never yours to take, Velmont.",
    ],
]


def episode_cues(index: int, seconds: float, *, first: float = 2.0, every: float = 4.0, length: float = 2.4):
    lines = EPISODE_LINES[index % len(EPISODE_LINES)]
    cues = []
    t = first
    for line in lines:
        if t + length > seconds - 0.5:
            break
        cues.append((round(t, 3), round(t + length, 3), line))
        t += every
    return cues


def episode_plans(seconds: float, fps: int, seed: int) -> list[ShotPlan]:
    """Shots of 1.5-5 s, about one in four entered by a dissolve, filling `seconds`."""
    rng = np.random.default_rng(seed)
    plans, total = [], 0
    wanted = int(round(seconds * fps))
    while total < wanted:
        frames = int(rng.integers(int(1.5 * fps), int(5 * fps)))
        frames = min(frames, wanted - total) if wanted - total >= int(1.5 * fps) else frames
        dissolve = int(rng.integers(6, 14)) if plans and rng.random() < 0.25 else 0
        plans.append(ShotPlan(frames, dissolve))
        total += frames
    return plans


# The frame number, stamped into the picture as a bar code so a test can read which source frame it
# sees: FRAMECODE_BITS blocks of FRAMECODE_BLOCK pixels along the top-left edge, white for 1, most
# significant bit first, on a black band.
FRAMECODE_BITS = 12
FRAMECODE_BLOCK = 12


def stamp_frame_number(frame: np.ndarray, number: int) -> np.ndarray:
    b = FRAMECODE_BLOCK
    frame[: b + 4, : FRAMECODE_BITS * b + 4] = 0
    for bit in range(FRAMECODE_BITS):
        if number >> (FRAMECODE_BITS - 1 - bit) & 1:
            frame[2 : b + 2, 2 + bit * b + 2 : 2 + (bit + 1) * b - 2] = 255
    return frame


def read_frame_number(gray: np.ndarray) -> int:
    """The stamped number of a decoded frame (8-bit luma plane of the stamped size)."""
    b = FRAMECODE_BLOCK
    number = 0
    for bit in range(FRAMECODE_BITS):
        centre = gray[2 + b // 2 - 2 : 2 + b // 2 + 2, 2 + bit * b + b // 2 - 2 : 2 + bit * b + b // 2 + 2]
        number = number << 1 | int(centre.mean() > 128)
    return number


def make_episode(
    folder: Path,
    index: int,
    *,
    seconds: float = 45.0,
    fps: int | str = 25,
    size: tuple[int, int] = (320, 180),
    audio: bool = True,
    framecode: bool = False,
    drop: str | None = None,
    suffix: str = ".mp4",
    name: str | None = None,
    anamorphic: tuple[int, int, str] | None = None,
    video_delay: float = 0.0,
) -> tuple[Path, Path]:
    """An episode (H.264, with AAC "speech" under its subtitle cues unless audio=False) and its SRT.

    fps may be a rational ("24000/1001"); framecode stamps each frame's number (see stamp_frame_number);
    drop leaves out the frames it selects (a variable frame rate on the `fps` grid); anamorphic stores
    the picture squeezed and video_delay starts it after the sound (see write_video)."""
    folder.mkdir(parents=True, exist_ok=True)
    rate = float(Fraction(str(fps)))
    plans = episode_plans(seconds, round(rate), seed=100 + index)
    frames, _, _ = render_frames(plans, *size, seed=10 + index)
    if framecode:
        frames = [stamp_frame_number(f, n) for n, f in enumerate(frames)]
    stem = name or f"ep{index + 1}"
    cues = episode_cues(index, len(frames) / rate)
    wav = None
    if audio:
        wav = write_audio(folder / f"{stem}.wav", len(frames) / rate, [(a, b) for a, b, _ in cues], seed=index)
    video = write_video(
        folder / f"{stem}{suffix}", frames, fps=fps, audio=wav, drop=drop, anamorphic=anamorphic, video_delay=video_delay
    )
    if wav is not None:
        wav.unlink()
    return video, write_srt(folder / f"{stem}.srt", cues)
