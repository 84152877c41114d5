"""Notes for editors: CSV, OpenTimelineIO markers and a CMX 3600 EDL with locators, at the
version's own timecode. Note text is data everywhere: CSV cells cannot start a formula, EDL
comments stay on one line of plain ASCII-safe text, and nothing is ever interpreted as markup."""

from __future__ import annotations

import csv
import io
import re
import unicodedata

from portal.review.services import frame_count
from studio_tools.media.timecode import Rate, counting, frames_to_timecode, timecode_to_frames

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _rate(version) -> Rate:
    video = (version.media_info or {}).get("video") or {}
    return counting(video.get("frame_rate") or version.asset.project.frame_rate, video.get("start_timecode"))


def _start_frame(version, rate: Rate) -> int:
    start = ((version.media_info or {}).get("video") or {}).get("start_timecode")
    if not start:
        return 0
    try:
        return timecode_to_frames(start, rate)
    except ValueError:
        return 0


def note_timecode(version, frame: int) -> str:
    rate = _rate(version)
    return frames_to_timecode(_start_frame(version, rate) + frame, rate)


def timecode_counter(version):
    """note_timecode for many frames of one version: the rate and the start are read once."""
    rate = _rate(version)
    start = _start_frame(version, rate)
    return lambda frame: frames_to_timecode(start + frame, rate)


def _safe_cell(value) -> str:
    text = "" if value is None else str(value)
    # A cell starting with = + - @ is a formula to spreadsheet programs (CSV injection).
    return "'" + text if text.startswith(_FORMULA_START) else text


def notes_csv(version, notes) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "note",
            "reply_to",
            "frame_start",
            "frame_end",
            "timecode",
            "source",
            "author",
            "status",
            "text",
            "finding",
            "confidence",
        ]
    )
    for note in notes:
        for item in (note, *note.replies.all()):
            status = item.finding_state if item.is_machine else ("resolved" if note.resolved else "open")
            writer.writerow(
                [
                    item.pk,
                    item.parent_id or "",
                    item.frame_start,
                    "" if item.frame_end is None else item.frame_end,
                    note_timecode(version, item.frame_start),
                    item.source,
                    _safe_cell(item.author.email if item.author else "machine"),
                    status,
                    _safe_cell(item.text),
                    _safe_cell(item.finding_type),
                    "" if item.confidence is None else f"{item.confidence:.2f}",
                ]
            )
    return out.getvalue()


def _one_line(text: str, limit: int = 120) -> str:
    """Printable, single-line, ASCII-folded text for EDL comments (CMX 3600 readers are old)."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if c.isprintable() and ord(c) < 128)
    return re.sub(r"\s+", " ", text).strip()[:limit]


def notes_otio(version, notes) -> str:
    import opentimelineio as otio

    rate = _rate(version)
    fps = float(rate.rate)
    start = _start_frame(version, rate)
    total = frame_count(version) or 1
    clip = otio.schema.Clip(
        name=f"{version.asset.name} v{version.number}",
        media_reference=otio.schema.ExternalReference(
            target_url=f"{version.asset.name}",
            available_range=otio.opentime.TimeRange(
                otio.opentime.RationalTime(start, fps), otio.opentime.RationalTime(total, fps)
            ),
        ),
        source_range=otio.opentime.TimeRange(otio.opentime.RationalTime(start, fps), otio.opentime.RationalTime(total, fps)),
    )
    for note in notes:
        duration = (note.frame_end - note.frame_start + 1) if note.frame_end is not None else 1
        marker = otio.schema.Marker(
            name=_one_line(note.text, 60) or "note",
            marked_range=otio.opentime.TimeRange(
                otio.opentime.RationalTime(start + note.frame_start, fps), otio.opentime.RationalTime(duration, fps)
            ),
            color=otio.schema.MarkerColor.YELLOW if note.is_machine else otio.schema.MarkerColor.RED,
            metadata={
                "portal": {
                    "note": note.pk,
                    "source": note.source,
                    "author": note.author.email if note.author else "machine",
                    "text": note.text,
                    "timecode": note_timecode(version, note.frame_start),
                }
            },
        )
        clip.markers.append(marker)
    timeline = otio.schema.Timeline(name=f"{version.asset.project.code} {version.asset.name} v{version.number} notes")
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    track.append(clip)
    timeline.tracks.append(track)
    return otio.adapters.write_to_string(timeline, "otio_json")


def notes_edl(version, notes) -> str:
    """A one-event CMX 3600 EDL of the version, with an Avid-style locator per note."""
    rate = _rate(version)
    start = _start_frame(version, rate)
    total = frame_count(version) or 1
    reel = re.sub(r"[^A-Z0-9_]", "", _one_line(version.asset.name).upper())[:8] or "AX"
    title = _one_line(f"{version.asset.project.code} {version.asset.name} v{version.number} notes", 70)
    src_in, src_out = frames_to_timecode(start, rate), frames_to_timecode(start + total, rate)
    record_start = timecode_to_frames("01:00:00" + (";" if rate.drop_frame else ":") + "00", rate)
    rec_in, rec_out = frames_to_timecode(record_start, rate), frames_to_timecode(record_start + total, rate)
    lines = [
        f"TITLE: {title}",
        f"FCM: {'DROP FRAME' if rate.drop_frame else 'NON-DROP FRAME'}",
        "",
        f"001  {reel:<8} V     C        {src_in} {src_out} {rec_in} {rec_out}",
        f"* FROM CLIP NAME: {_one_line(version.asset.name, 60)}",
    ]
    for note in notes:
        colour = "YELLOW" if note.is_machine else "RED"
        where = frames_to_timecode(record_start + note.frame_start, rate)
        lines.append(f"* LOC: {where} {colour:<7} {_one_line(note.text) or 'note'}")
    return "\r\n".join(lines) + "\r\n"
