"""Everything the recap learns from one episode's pixels and sound, cached by the file's content.

A second run on the same video (the same sha256), for instance after a reviewer reorders moments,
reads the cached analysis instead of decoding again. The cache lives in `STUDIO_TOOLS_CACHE` or, by
default, in `$XDG_CACHE_HOME/studio_tools` (~/.cache/studio_tools); when that cannot be written it
falls back to a folder beside the run's work folder. Entries are keyed by content hash and by
everything that changes the result (detector version, analysis size, face model), written
atomically, and read back with `allow_pickle=False`; a damaged entry is recomputed, never trusted.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from studio_tools.media import MediaInfo, sandbox
from studio_tools.media.errors import MediaRejected
from studio_tools.media.reader import display_size, read_frames
from studio_tools.media.sandbox import Limits
from studio_tools.recap import audio
from studio_tools.recap.faces import FaceCounter, model_identity
from studio_tools.recap.shots import DETECTOR_VERSION, Boundary, ShotDetector

CACHE_ENV = "STUDIO_TOOLS_CACHE"
ANALYSIS_WIDTH = 256  # PySceneDetect's own default downscale target
ANALYSIS_VERSION = "2"  # 2: frames from the media reader, in display orientation (rotated clips were squeezed)


@dataclass
class Shot:
    index: int
    start: float
    end: float
    start_frame: int
    end_frame: int  # exclusive
    transition_in: str  # "start", "cut" or "dissolve"
    motion: float
    loudness: float  # LUFS, power mean of momentary loudness over the shot
    loudness_peak: float  # LUFS, loudest momentary value in the shot
    faces: float | None  # mean faces per sampled frame; None when not measured
    hist: np.ndarray  # mean colour histogram

    @property
    def duration(self) -> float:
        return self.end - self.start

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "start": round(self.start, 6),
            "end": round(self.end, 6),
            "start_frame": self.start_frame,
            "end_frame": self.end_frame,
            "transition_in": self.transition_in,
            "motion": round(self.motion, 3),
            "loudness_lufs": round(self.loudness, 2),
            "loudness_peak_lufs": round(self.loudness_peak, 2),
            "faces": None if self.faces is None else round(self.faces, 3),
        }


@dataclass
class VideoAnalysis:
    times: np.ndarray  # every decoded frame's time
    end_time: float
    boundaries: list[Boundary]
    shots: list[Shot]
    faces_measured: bool
    has_audio: bool
    decoded_frames: int  # frames decoded in this run (0 when read from the cache)
    decode_seconds: float
    from_cache: bool

    def frame_floor(self, seconds: float) -> float:
        """The time of the frame showing at `seconds` (the last frame starting at or before it)."""
        i = int(np.searchsorted(self.times, seconds + 1e-6, side="right")) - 1
        return float(self.times[max(0, i)])

    def frame_nearest(self, seconds: float) -> float:
        """The frame start closest to `seconds` (or the end of the video)."""
        if seconds >= self.end_time:
            return self.end_time
        i = int(np.searchsorted(self.times, seconds))
        candidates = [self.times[j] for j in (i - 1, i) if 0 <= j < len(self.times)]
        if i >= len(self.times):
            candidates.append(self.end_time)
        return float(min(candidates, key=lambda t: abs(t - seconds)))


def cache_dir(workdir: Path | None = None) -> Path | None:
    """Where analyses are kept, creating it; None when nowhere can be written."""
    configured = os.environ.get(CACHE_ENV, "").strip()
    candidates: list[Path] = []
    if configured:
        candidates.append(Path(configured))
    else:
        xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
        candidates.append((Path(xdg) if xdg else Path.home() / ".cache") / "studio_tools")
        if workdir is not None:
            candidates.append(Path(workdir).resolve().parent / ".studio_tools-cache")
    for folder in candidates:
        try:
            (folder / "recap").mkdir(parents=True, exist_ok=True)
            probe = folder / "recap" / f".probe-{secrets.token_hex(4)}"
            probe.write_bytes(b"")
            probe.unlink()
            return folder / "recap"
        except OSError:
            continue
    return None


def cache_key(sha256: str) -> str:
    settings = f"{ANALYSIS_VERSION}|{DETECTOR_VERSION}|{ANALYSIS_WIDTH}|faces={model_identity()}"
    return f"{sha256}.{hashlib.sha256(settings.encode()).hexdigest()[:12]}"


def analyse(
    path: Path,
    info: MediaInfo,
    sha256: str,
    *,
    cache: Path | None,
    progress: Callable[[float], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> VideoAnalysis:
    """Shots and per-shot signals of one video; from the cache when it has this content."""
    entry = cache / f"{cache_key(sha256)}.npz" if cache is not None else None
    if entry is not None and entry.is_file():
        loaded = _load(entry)
        if loaded is not None:
            return loaded
    assert info.video is not None
    video = info.video
    # In display orientation with square pixels, ANALYSIS_WIDTH wide at most. A constant-rate episode
    # is read on the reader's constant-rate timeline (frame n at exactly n / rate, the grid its edit list
    # counts on, whatever the container's timestamps round to); a variable-rate one as every decoded
    # frame once with its own presentation time (no repeated frames posing as shots without motion).
    width, height = display_size(video, max_width=ANALYSIS_WIDTH)
    detector = ShotDetector(video.fps or 25.0)
    faces = FaceCounter.from_environment(width, height)
    # The reader counts from the first frame; the times kept here count from the container's start,
    # which is what `ffmpeg -ss` (the renderer's seeks) and the audio measurements count from.
    start_time = format_start_time(path, info.demuxer)
    offset = video.first_frame_time - start_time
    duration = float(info.duration or 0.0)
    t0 = time.monotonic()
    count = 0
    frames_in = read_frames(
        path,
        info,
        size=(width, height),
        pix_fmt="bgr24",
        timeline="native" if video.variable_frame_rate else "cfr",
        limits=Limits.for_transcode(duration),
        cancelled=cancelled,
    )
    try:
        for frame in frames_in:
            seconds = frame.time + offset
            detector.feed(seconds, frame.image)
            if faces is not None:
                faces.feed(seconds, frame.image)
            count += 1
            if progress is not None and count % 50 == 0 and duration > 0:
                progress(min(0.95, seconds / duration))
    finally:
        frames_in.close()
    frames = detector.finish()
    decode_seconds = time.monotonic() - t0
    if count == 0:
        raise MediaRejected("No picture could be decoded from this video.")

    if info.audio is not None:
        m_times, m_values = audio.momentary(path, info.demuxer, info.audio.index, duration=duration, cancelled=cancelled)
        m_times = m_times - start_time
    else:
        m_times, m_values = np.zeros(0), np.zeros(0)
    face_times = np.asarray(faces.times if faces else [], dtype=np.float64)
    face_counts = np.asarray(faces.counts if faces else [], dtype=np.float64)

    shots = build_shots(
        frames.times,
        frames.end_time,
        frames.boundaries,
        frames.motion,
        frames.hist_times,
        frames.hists,
        m_times,
        m_values,
        face_times if faces else None,
        face_counts,
    )
    result = VideoAnalysis(
        times=frames.times,
        end_time=frames.end_time,
        boundaries=frames.boundaries,
        shots=shots,
        faces_measured=faces is not None,
        has_audio=info.audio is not None,
        decoded_frames=count,
        decode_seconds=decode_seconds,
        from_cache=False,
    )
    if entry is not None:
        _save(entry, result)
    if progress is not None:
        progress(1.0)
    return result


def format_start_time(path: Path, demuxer: str) -> float:
    """The container's start time in seconds (0 when unknown): what `ffmpeg -ss` counts from."""
    data = sandbox.ffprobe(Path(path), demuxer)
    try:
        value = float((data.get("format") or {}).get("start_time") or 0.0)
    except (TypeError, ValueError):
        return 0.0
    return value if np.isfinite(value) else 0.0


def build_shots(
    times: np.ndarray,
    end_time: float,
    boundaries: list[Boundary],
    motion: np.ndarray,
    hist_times: np.ndarray,
    hists: np.ndarray,
    m_times: np.ndarray,
    m_values: np.ndarray,
    face_times: np.ndarray | None,
    face_counts: np.ndarray,
) -> list[Shot]:
    starts = [(0, "start")] + [(b.frame, b.kind) for b in boundaries]
    shots = []
    for i, (first, kind) in enumerate(starts):
        last = starts[i + 1][0] if i + 1 < len(starts) else len(times)
        start = float(times[first])
        end = float(times[last]) if last < len(times) else end_time
        # Motion inside the shot only: the frame-to-frame change at its first frame is the cut itself.
        inner = motion[first + 1 : last] if last - first > 1 else motion[first:last]
        in_shot = (m_times >= start) & (m_times < end)
        # A momentary value describes the 400 ms before its time; include the ones that end inside the shot.
        values = m_values[in_shot]
        hist_mask = (hist_times >= start) & (hist_times < end)
        hist = hists[hist_mask].mean(axis=0) if hist_mask.any() else _nearest_hist(hist_times, hists, start)
        faces = None
        if face_times is not None:
            mask = (face_times >= start) & (face_times < end)
            faces = float(face_counts[mask].mean()) if mask.any() else 0.0
        shots.append(
            Shot(
                index=i,
                start=start,
                end=end,
                start_frame=int(first),
                end_frame=int(last),
                transition_in=kind,
                motion=float(np.mean(inner)) if inner.size else 0.0,
                loudness=audio.mean_loudness(values) if values.size else audio.SILENCE_LUFS,
                loudness_peak=float(values.max()) if values.size else audio.SILENCE_LUFS,
                faces=faces,
                hist=np.asarray(hist, dtype=np.float32),
            )
        )
    return shots


def _nearest_hist(hist_times: np.ndarray, hists: np.ndarray, at: float) -> np.ndarray:
    if len(hist_times) == 0:
        return np.zeros(hists.shape[1] if hists.ndim == 2 else 64, np.float32)
    return hists[int(np.argmin(np.abs(hist_times - at)))]


def _save(entry: Path, result: VideoAnalysis) -> None:
    meta = {
        "version": ANALYSIS_VERSION,
        "end_time": result.end_time,
        "faces_measured": result.faces_measured,
        "has_audio": result.has_audio,
        "boundaries": [[b.frame, b.time, b.kind, b.length] for b in result.boundaries],
        "shots": [
            [s.start_frame, s.end_frame, s.start, s.end, s.transition_in, s.motion, s.loudness, s.loudness_peak, s.faces]
            for s in result.shots
        ],
    }
    tmp = entry.with_name(f".{entry.name}.{secrets.token_hex(4)}.part")
    try:
        with open(tmp, "wb") as fh:
            np.savez(
                fh,
                times=result.times,
                hists=np.stack([s.hist for s in result.shots]) if result.shots else np.zeros((0, 64), np.float32),
                meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
            )
        os.replace(tmp, entry)
    except OSError:
        tmp.unlink(missing_ok=True)  # a cache that cannot be written costs a decode next time, nothing more


def _load(entry: Path) -> VideoAnalysis | None:
    try:
        with np.load(entry, allow_pickle=False) as data:
            times = np.asarray(data["times"], dtype=np.float64)
            hists = np.asarray(data["hists"], dtype=np.float32)
            meta = json.loads(bytes(data["meta"]).decode())
        if meta.get("version") != ANALYSIS_VERSION:
            return None
        boundaries = [Boundary(int(f), float(t), str(k), int(n)) for f, t, k, n in meta["boundaries"]]
        shots = []
        for i, (row, hist) in enumerate(zip(meta["shots"], hists, strict=True)):
            first, last, start, end, kind, motion, loud, peak, faces = row
            shots.append(
                Shot(
                    i,
                    float(start),
                    float(end),
                    int(first),
                    int(last),
                    str(kind),
                    float(motion),
                    float(loud),
                    float(peak),
                    None if faces is None else float(faces),
                    hist,
                )
            )
        if not shots or len(times) == 0:
            return None
        return VideoAnalysis(
            times=times,
            end_time=float(meta["end_time"]),
            boundaries=boundaries,
            shots=shots,
            faces_measured=bool(meta["faces_measured"]),
            has_audio=bool(meta["has_audio"]),
            decoded_frames=0,
            decode_seconds=0.0,
            from_cache=True,
        )
    except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError):
        return None
