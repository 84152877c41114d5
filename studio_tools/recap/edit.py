"""The edit as an editor opens it: OpenTimelineIO (.otio), CMX 3600 EDL, and the narration as SRT.

Each chosen moment is a clip whose source range is in its episode's source timecode (the file's own
start timecode when it has one, otherwise 00:00:00:00), so an editor relinks the EDL to the original
episodes and refines it. A crossfade of x frames is an SMPTE dissolve centred on the cut: the clips'
cut ranges are the rendered ranges less the overlap, the dissolve reveals the handles, and the
timeline's length is exactly the rendered recap's. Narration sentences become markers (EDL LOC lines)
on the clip they start over. Media references name the episode by its uploaded name, never a path.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import opentimelineio as otio
import srt

from studio_tools.recap.episodes import Episode
from studio_tools.recap.select import Selection
from studio_tools.recap.verify import Sentence

RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange


def timecode_offset(episode: Episode, rate: float) -> int:
    """Frames of the episode's start timecode at `rate` (0 without one)."""
    tc = episode.info.video.start_timecode if episode.info.video else None
    if not tc:
        return 0
    try:
        return int(otio.opentime.from_timecode(tc.replace(";", ":"), rate).value)
    except (ValueError, RuntimeError):
        return 0


def build_timeline(
    selection: Selection, episodes: list[Episode], sentences: list[Sentence], *, name: str
) -> otio.schema.Timeline:
    rate = selection.rate
    by_number = {e.number: e for e in episodes}
    xf = selection.crossfade_frames if len(selection.clips) > 1 else 0
    head, tail = xf // 2, xf - xf // 2  # frames of each clip hidden under the dissolve before / after its cut
    timeline = otio.schema.Timeline(name=name, global_start_time=RT(0, rate))
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    timeline.tracks.append(track)
    placed: list[tuple[float, float, otio.schema.Clip, int]] = []  # timeline start/end of each cut, clip, source start frame
    position = 0
    for i, chosen in enumerate(selection.clips):
        episode = by_number[chosen.episode]
        offset = timecode_offset(episode, rate)
        first = int(round(chosen.start * rate)) + (head if i > 0 else 0)
        length = chosen.frames - (head if i > 0 else 0) - (tail if i < len(selection.clips) - 1 else 0)
        reference = otio.schema.ExternalReference(
            target_url=episode.name,
            available_range=TR(RT(offset, rate), RT(int(round(episode.duration * rate)), rate)),
        )
        reel = f"EP{episode.number:02d}"
        clip = otio.schema.Clip(
            name=f"{reel} {episode.name}",
            media_reference=reference,
            source_range=TR(RT(offset + first, rate), RT(length, rate)),
            metadata={
                "cmx_3600": {"reel": reel},
                "studio_tools": {
                    "episode": episode.number,
                    "source_start_seconds": round(chosen.start, 6),
                    "source_end_seconds": round(chosen.end, 6),
                    "score": round(chosen.candidate.score, 4),
                    "reasons": chosen.candidate.reasons + chosen.notes,
                    "cues": chosen.candidate.cues,
                },
            },
        )
        if i > 0 and xf:
            track.append(
                otio.schema.Transition(
                    name="Dissolve",
                    transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
                    in_offset=RT(head, rate),
                    out_offset=RT(tail, rate),
                )
            )
        track.append(clip)
        placed.append((position / rate, (position + length) / rate, clip, offset + first))
        position += length
    for sentence in sentences:
        if not sentence.shipped or sentence.start is None:
            continue
        for start, end, clip, source_first in placed:
            if start - 1e-6 <= sentence.start < end:
                at = source_first + int(round((sentence.start - start) * rate))
                marker = otio.schema.Marker(
                    name=("NARRATION: " + _ascii(sentence.text))[:120],
                    marked_range=TR(RT(at, rate), RT(1, rate)),
                    color=otio.schema.MarkerColor.YELLOW,
                    metadata={"studio_tools": {"cues": sentence.cues, "verdict": sentence.verdict}},
                )
                clip.markers.append(marker)
                break
    return timeline


def write_otio(timeline: otio.schema.Timeline, target: Path) -> None:
    otio.adapters.write_to_file(timeline, str(target), adapter_name="otio_json")


def write_edl(timeline: otio.schema.Timeline, target: Path, rate: float) -> None:
    text = otio.adapters.write_to_string(timeline, adapter_name="cmx_3600", rate=rate, style="avid", reelname_len=8)
    target.write_text(text, encoding="ascii", errors="replace")


def write_srt(sentences: list[Sentence], target: Path) -> int:
    """The shipped sentences as SRT, in order; returns how many."""
    subs = []
    for sentence in sentences:
        if not sentence.shipped or sentence.start is None or sentence.end is None:
            continue
        subs.append(
            srt.Subtitle(
                index=len(subs) + 1,
                start=timedelta(seconds=round(sentence.start, 3)),
                end=timedelta(seconds=round(sentence.end, 3)),
                content=sentence.text,
            )
        )
    target.write_text(srt.compose(subs, reindex=False), encoding="utf-8")
    return len(subs)


def _ascii(text: str) -> str:
    """EDL comments are ASCII: typographic quotes and dashes become their plain forms, anything else '?'."""
    table = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'", "–": "-", "—": "-", "…": "..."})
    return text.translate(table).encode("ascii", "replace").decode("ascii")
