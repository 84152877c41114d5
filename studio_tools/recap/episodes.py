"""The recap's inputs in story order: episodes (each with its subtitles, if any) and a music bed.

Inputs arrive as one ordered list. A subtitle file belongs to the video just before it, the way the
command line reads (`--input ep1.mp4 --input ep1.srt --input ep2.mp4`). A file is taken for subtitles
when its kind says so or when its name ends in .srt/.vtt (the command line defaults every input to
footage); for music when its kind says so or when it has sound but no picture.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from studio_tools.core import BadInput, InputKind, ToolInput, file_sha256
from studio_tools.core.messages import define, message
from studio_tools.media import Cue, MediaInfo, parse_subtitles, probe
from studio_tools.media.errors import MediaRejected
from studio_tools.media.timecode import SourceRate, source_rate
from studio_tools.recap.claims import speaker_and_text

SUBTITLE_SUFFIXES = (".srt", ".vtt")


@dataclass(frozen=True)
class CueRef:
    """A subtitle cue with the id the narration cites it by ("e2c14": episode 2, cue 14)."""

    id: str
    episode: int
    index: int
    start: float
    end: float
    text: str

    def to_dict(self) -> dict:
        speaker, text = speaker_and_text(self.text)
        return {
            "id": self.id,
            "episode": self.episode,
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "speaker": speaker,  # from a "MARTA: ..." label, apart from the words (None when unlabelled)
            "text": text,
        }


@dataclass
class Episode:
    number: int  # 1-based, story order
    video: ToolInput
    info: MediaInfo
    sha256: str
    subtitles: ToolInput | None = None
    cues: list[CueRef] = field(default_factory=list)
    limit: float | None = None  # the spoiler boundary inside this episode (seconds), if any
    # When its first frame shows, in seconds from the container's start (what the analysis' times and
    # the renderer's seeks count from); its timecode counts frames from that first frame.
    picture_start: float = 0.0

    @property
    def name(self) -> str:
        return self.video.display_name

    @property
    def duration(self) -> float:
        """How long the picture lasts: the probe's video duration when it measured one (a Matroska file
        may claim 63 s while its frames span 60 s), else the container's."""
        video = getattr(self.info.video, "duration", None) if self.info.video else None
        return float(video or self.info.duration or 0.0)

    @property
    def timecode(self) -> SourceRate:
        """The rate this episode's timecode counts at (its true rate; the nominal rate when variable)."""
        video = self.info.video
        assert video is not None
        return source_rate(
            video.frame_rate,
            fps=video.fps,
            variable=bool(getattr(video, "variable_frame_rate", False)),
            min_frame_duration=getattr(video, "min_frame_duration", None),
            max_frame_duration=getattr(video, "max_frame_duration", None),
        )

    @property
    def usable_end(self) -> float:
        return min(self.duration, self.limit) if self.limit is not None else self.duration

    def eligible_cues(self) -> list[CueRef]:
        """Cues that end before the spoiler boundary."""
        end = self.usable_end
        return [c for c in self.cues if c.end <= end + 1e-6]


@dataclass(frozen=True)
class Music:
    input: ToolInput
    info: MediaInfo


define("recap.subtitles_first", "{name}: subtitles must follow the episode they belong to")
define("recap.music_silent", "{name} was given as music but has no sound")
define("recap.not_episode", "{name} is a {kind}, not an episode video")
define("recap.no_episode", "the recap needs at least one episode video")


def gather(inputs: list[ToolInput]) -> tuple[list[Episode], Music | None]:
    """Pair subtitles with their videos, probe everything; BadInput with the user's file names."""
    episodes: list[Episode] = []
    music: Music | None = None
    for item in inputs:
        name = item.display_name
        if item.kind == InputKind.SUBTITLES or Path(name).suffix.lower() in SUBTITLE_SUFFIXES:
            if not episodes:
                raise BadInput(message("recap.subtitles_first", name=name))
            episode = episodes[-1]
            if episode.subtitles is not None:
                raise BadInput(f"{name}: {episode.name} already has subtitles ({episode.subtitles.display_name})")
            episode.subtitles = item
            episode.cues = _cues(item, episode.number)
            continue
        try:
            info = probe(item.path, filename=name)
        except MediaRejected as exc:
            raise BadInput(f"{name}: {exc.reason}") from None
        if item.kind == InputKind.MUSIC or (info.kind == "audio" and item.kind != InputKind.SUBTITLES):
            if info.audio is None:
                raise BadInput(message("recap.music_silent", name=name))
            if music is not None:
                raise BadInput(f"only one music bed can be used ({music.input.display_name} and {name} were given)")
            music = Music(item, info)
            continue
        if info.kind != "video" or info.video is None:
            raise BadInput(message("recap.not_episode", name=name, kind=info.kind))
        sha = item.sha256 or file_sha256(item.path)
        episodes.append(Episode(len(episodes) + 1, item, info, sha))
    if not episodes:
        raise BadInput(message("recap.no_episode"))
    return episodes, music


def _cues(item: ToolInput, episode: int) -> list[CueRef]:
    try:
        cues: list[Cue] = parse_subtitles(item.path, filename=item.display_name)
    except MediaRejected as exc:
        raise BadInput(f"{item.display_name}: {exc.reason}") from None
    refs = []
    for cue in sorted(cues, key=lambda c: (c.start, c.index)):
        text = " ".join(cue.text.split())
        if text:
            refs.append(CueRef(f"e{episode}c{cue.index}", episode, cue.index, cue.start, cue.end, text))
    return refs


CUE_ID = re.compile(r"e[1-9]\d{0,2}c\d{1,6}")
_TIMECODE = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{1,2}(?:\.\d+)?)$")


def parse_time(value: str | float | int | None) -> float | None:
    """Seconds from "HH:MM:SS(.mmm)", "MM:SS" or a plain number; None stays None. ValueError otherwise."""
    if value is None:
        return None
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = value.strip()
        if not text:
            return None
        match = _TIMECODE.match(text)
        if match:
            hours = int(match.group(1) or 0)
            seconds = hours * 3600 + int(match.group(2)) * 60 + float(match.group(3))
        else:
            seconds = float(text)
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError("a time must be zero or more seconds")
    return seconds


def apply_spoiler_boundary(episodes: list[Episode], episode: int | None, timecode: float | None) -> list[Episode]:
    """The episodes that may be used: none after `episode`, and nothing after `timecode` inside it."""
    if episode is None:
        return episodes
    if episode > len(episodes):
        raise BadInput(f"spoiler_episode is {episode}, but only {len(episodes)} episode(s) were given")
    kept = episodes[:episode]
    if timecode is not None:
        last = kept[-1]
        if timecode <= 0:
            raise BadInput("spoiler_timecode must be after the start of the episode")
        last.limit = min(timecode, last.duration)
    return kept
