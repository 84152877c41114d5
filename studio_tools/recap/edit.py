"""The edit as an editor opens it: OpenTimelineIO (.otio), CMX 3600 EDL, and the narration as SRT.

Each chosen moment is a clip whose source range is in its episode's source timecode (the file's own
start timecode when it has one, otherwise 00:00:00:00) at the episode's own rate (a 23.976 episode's
at 23.976 in a 25 fps recap; a variable-rate episode's at its nominal rate), while the record side is
at the recap's rate, so an editor relinks the EDL to the original episodes and refines it. A
crossfade of x frames is an SMPTE dissolve centred on the cut: the clips' cut ranges are the rendered
ranges less the overlap, the dissolve reveals the handles, and the timeline's length is exactly the
rendered recap's. Narration sentences become markers (EDL LOC lines)
on the clip they start over. Media references name the episode by its uploaded name, never a path.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import srt

from studio_tools.media.timecode import Rate, frames_to_timecode, nearest_frame, timecode_to_frames
from studio_tools.recap.episodes import Episode
from studio_tools.recap.select import Selection
from studio_tools.recap.verify import Sentence

RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange


def timecode_offset(episode: Episode, rate: Rate | None = None) -> int:
    """Frames of the episode's start timecode, counted at its own timecode rate (0 without one)."""
    tc = episode.info.video.start_timecode if episode.info.video else None
    if not tc:
        return 0
    try:
        return timecode_to_frames(tc, rate or episode.timecode.rate)
    except ValueError:
        return 0


def build_timeline(
    selection: Selection, episodes: list[Episode], sentences: list[Sentence], *, name: str
) -> otio.schema.Timeline:
    """The recap as an OTIO timeline: the track (and transitions) at the recap's rate, each clip's
    source range at its own episode's timecode rate, from the frame the render starts at.

    When an episode's rate differs from the recap's, the render retimes it (frames repeated or left
    out, no speed change), so a clip's source duration is the same span of time at the episode's
    rate, which may be a fraction of a source frame."""
    rate = selection.rate
    record = Rate.parse(rate)
    by_number = {e.number: e for e in episodes}
    xf = selection.crossfade_frames if len(selection.clips) > 1 else 0
    head, tail = xf // 2, xf - xf // 2  # frames of each clip hidden under the dissolve before / after its cut
    timeline = otio.schema.Timeline(name=name, global_start_time=RT(0, rate))
    timeline.metadata["studio_tools"] = {"record_timecode_rate": record.text, "drop_frame": record.drop_frame}
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    timeline.tracks.append(track)
    placed: list[tuple[float, float, otio.schema.Clip, Episode, float]] = []  # cut start/end on the timeline, clip, ...
    position = 0
    for i, chosen in enumerate(selection.clips):
        episode = by_number[chosen.episode]
        source = episode.timecode
        src_rate = float(source.rate.rate)
        offset = timecode_offset(episode, source.rate)
        lead = head if i > 0 else 0
        length = chosen.frames - lead - (tail if i < len(selection.clips) - 1 else 0)
        # The source frame the render starts this moment at, counted from the episode's first frame.
        first = nearest_frame(max(0.0, chosen.start - episode.picture_start), source.rate)
        start = RT(offset + first, src_rate) + RT(lead, rate).rescaled_to(src_rate)
        reference = otio.schema.ExternalReference(
            target_url=episode.name,
            available_range=TR(RT(offset, src_rate), RT(nearest_frame(episode.duration, source.rate), src_rate)),
        )
        reel = f"EP{episode.number:02d}"
        clip = otio.schema.Clip(
            name=f"{reel} {episode.name}",
            media_reference=reference,
            source_range=TR(start, RT(length, rate).rescaled_to(src_rate)),
            metadata={
                "cmx_3600": {"reel": reel},
                "studio_tools": {
                    "episode": episode.number,
                    "source_start_seconds": round(chosen.start, 6),
                    "source_end_seconds": round(chosen.end, 6),
                    "source_timecode_rate": source.rate.text,
                    "source_start_frame": offset + first,
                    "picture_start_seconds": episode.picture_start,
                    "drop_frame": source.rate.drop_frame,
                    "variable_frame_rate": source.variable,
                    **({"timecode_note": source.note} if source.note else {}),
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
        placed.append((position / rate, (position + length) / rate, clip, episode, chosen.start + lead / rate))
        position += length
    for sentence in sentences:
        if not sentence.shipped or sentence.start is None:
            continue
        for start_s, end_s, clip, episode, source_seconds in placed:
            if start_s - 1e-6 <= sentence.start < end_s:
                source = episode.timecode
                since_first_frame = max(0.0, source_seconds + sentence.start - start_s - episode.picture_start)
                at = timecode_offset(episode, source.rate) + nearest_frame(since_first_frame, source.rate)
                marker = otio.schema.Marker(
                    name=("NARRATION: " + _ascii(sentence.text))[:120],
                    marked_range=TR(RT(at, float(source.rate.rate)), RT(1, float(source.rate.rate))),
                    color=otio.schema.MarkerColor.YELLOW,
                    metadata={"studio_tools": {"cues": sentence.cues, "verdict": sentence.verdict}},
                )
                clip.markers.append(marker)
                break
    return timeline


def write_otio(timeline: otio.schema.Timeline, target: Path) -> None:
    otio.adapters.write_to_file(timeline, str(target), adapter_name="otio_json")


@dataclass
class _Event:
    reel: str
    name: str
    url: str
    rate: Rate  # the source's timecode rate
    start_seconds: float  # source time at record_in, from the source's first frame
    first_frame: int  # source frame (timecode offset included) at record_in
    offset: int  # the source's start timecode, in its frames
    record_in: int  # record frames
    record_out: int
    markers: list[tuple[int, str]]  # source frame, comment

    def source_at(self, record: int, record_rate: Rate) -> int:
        """The source frame (timecode offset included) showing at a record frame inside the event."""
        if record == self.record_in:
            return self.first_frame
        seconds = self.start_seconds + float(Fraction(record - self.record_in) / record_rate.rate)
        return self.offset + nearest_frame(seconds, self.rate)


def write_edl(timeline: otio.schema.Timeline, target: Path, rate: float) -> None:
    """CMX 3600 (Avid style, as OTIO's cmx_3600 adapter writes it), with each event's source timecode at
    its own source's rate and the record timecode at the recap's.

    OTIO's adapter writes every timecode of the list at one rate: a 23.976 episode's source timecode in a
    25 fps recap lands frames off, and a rate SMPTE does not name (a variable frame rate's average)
    makes it fail. The lines here are the adapter's, so it (and editors) read them back; a source whose
    rate differs from the record's has source and record durations that differ (the same span of time),
    which the adapter reads with `ignore_timecode_mismatch=True`."""
    record = Rate.parse(rate)
    track = next(t for t in timeline.tracks if t.kind == otio.schema.TrackKind.Video)
    items = list(track)
    events: list[tuple[_Event, int]] = []  # event, dissolve frames before it (0: cut)
    position = 0
    for idx, item in enumerate(items):
        if not isinstance(item, otio.schema.Clip):
            continue
        meta = item.metadata["studio_tools"]
        source = Rate.parse(meta["source_timecode_rate"], drop_frame=meta.get("drop_frame"))
        before = items[idx - 1] if idx > 0 and isinstance(items[idx - 1], otio.schema.Transition) else None
        after = items[idx + 1] if idx + 1 < len(items) and isinstance(items[idx + 1], otio.schema.Transition) else None
        head = _frames(before.in_offset, record) if before else 0
        tail = _frames(after.in_offset, record) if after else 0
        cut = _frames(item.source_range.duration, record)
        # Source time from the episode's first frame (the container may start earlier).
        start_seconds = max(0.0, float(meta["source_start_seconds"]) - float(meta.get("picture_start_seconds") or 0.0))
        offset = int(meta["source_start_frame"]) - nearest_frame(start_seconds, source)
        markers = [(int(round(m.marked_range.start_time.rescaled_to(float(source.rate)).value)), m.name) for m in item.markers]
        event = _Event(
            reel=str(item.metadata["cmx_3600"]["reel"]),
            name=item.name,
            url=getattr(item.media_reference, "target_url", "") or item.name,
            rate=source,
            start_seconds=start_seconds,
            first_frame=int(meta["source_start_frame"]),
            offset=offset,
            record_in=position - head,
            record_out=position + cut - tail,
            markers=markers,
        )
        dissolve = head + (_frames(before.out_offset, record) if before else 0)
        events.append((event, dissolve))
        position += cut
    lines = [f"TITLE: {timeline.name}", f"FCM: {'DROP FRAME' if record.drop_frame else 'NON-DROP FRAME'}", ""]
    previous: _Event | None = None
    for number, (event, dissolve) in enumerate(events, start=1):
        src_in = event.first_frame
        src_out = event.source_at(event.record_out, record)
        rec = (frames_to_timecode(event.record_in, record), frames_to_timecode(event.record_out, record))
        src = (frames_to_timecode(src_in, event.rate), frames_to_timecode(src_out, event.rate))
        comments: list[str] = []
        if dissolve and previous is not None:
            held = frames_to_timecode(previous.source_at(previous.record_out, record), previous.rate)
            lines.append(f"{number:03d}  {previous.reel:8} V     C        {held} {held} {rec[0]} {rec[0]}")
            lines.append(f"{number:03d}  {event.reel:8} V     D {dissolve:03d}    {src[0]} {src[1]} {rec[0]} {rec[1]}")
            comments += _comments(previous, "FROM") + _comments(event, "TO")
        else:
            lines.append(f"{number:03d}  {event.reel:8} V     C        {src[0]} {src[1]} {rec[0]} {rec[1]}")
            comments += _comments(event, "FROM")
        lines += comments
        previous = event
    target.write_text("\n".join(lines) + "\n", encoding="ascii", errors="replace")


def _frames(time: otio.opentime.RationalTime, rate: Rate) -> int:
    return int(round(time.value * float(rate.rate) / time.rate))


def _comments(event: _Event, side: str) -> list[str]:
    lines = [f"* {side} CLIP NAME:  {_ascii(event.name)}", f"* {side} CLIP: {_ascii(event.url)}"]
    for frame, comment in event.markers:
        lines.append(f"* LOC: {frames_to_timecode(frame, event.rate)} YELLOW  {_ascii(comment).upper()}")
    return lines


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
