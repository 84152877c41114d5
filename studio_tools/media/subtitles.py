"""Subtitle files (.srt, .vtt), parsed in Python and never by ffmpeg.

ffmpeg's subtitle demuxers are part of the attack surface we fence off elsewhere, and a parser error
from them says nothing a user can act on. Here a malformed file is refused with the line and cue
number at fault.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import srt
import webvtt
from webvtt.errors import MalformedCaptionError, MalformedFileError

from studio_tools.media.errors import MediaRejected

MAX_SUBTITLE_BYTES = 5 * 1024 * 1024  # a feature film's subtitles are a few hundred KiB
MAX_CUES = 100_000

# <i>, <b>, <font ...> and ASS overrides such as {\\an8}: styling, not text (webvtt-py strips its own tags).
_SRT_MARKUP = re.compile(r"</?[a-zA-Z][^>]*>|\{\\[^}]*\}")
_VTT_TIMING = re.compile(r"^\s*(?:\d{2,}:)?\d{2}:\d{2}\.\d{3}\s*-->\s*(?:\d{2,}:)?\d{2}:\d{2}\.\d{3}(?:\s|$)")


@dataclass(frozen=True)
class Cue:
    index: int  # 1-based position in the file
    start: float  # seconds
    end: float
    text: str  # without styling markup; lines joined with "\n"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_subtitles(path: str | os.PathLike[str], *, filename: str | None = None) -> list[Cue]:
    """Cues of an .srt or .vtt file; which parser is used follows the extension of `filename` (the
    user's name for the upload, defaulting to the local file's). Raises `MediaRejected`."""
    path = Path(path)
    suffix = Path(filename if filename is not None else path.name).suffix.lower()
    if suffix not in (".srt", ".vtt"):
        raise MediaRejected("Subtitles are accepted as .srt or .vtt files.")
    size = path.stat().st_size
    if size == 0:
        raise MediaRejected("This subtitle file is empty.")
    if size > MAX_SUBTITLE_BYTES:
        raise MediaRejected(
            f"This subtitle file is {size / 1024 / 1024:.1f} MiB; the largest accepted is "
            f"{MAX_SUBTITLE_BYTES // 1024 // 1024} MiB."
        )
    text = _decode(path.read_bytes())
    cues = _parse_srt(text) if suffix == ".srt" else _parse_vtt(text)
    if not cues:
        raise MediaRejected("This subtitle file contains no cues.")
    if len(cues) > MAX_CUES:
        raise MediaRejected(f"This subtitle file has {len(cues)} cues; the most accepted is {MAX_CUES}.")
    for cue in cues:
        if cue.end < cue.start:
            raise MediaRejected(f"Cue {cue.index} of this subtitle file ends before it starts.")
    return cues


def _decode(raw: bytes) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            raise MediaRejected("This subtitle file is not valid UTF-16 text.") from None
    if b"\x00" in raw:
        raise MediaRejected("This subtitle file is not text.")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        # Older subtitle tools write Windows-1252; accepting it beats asking a partner to re-encode.
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        raise MediaRejected("This subtitle file is not UTF-8 (or Windows-1252) text; save it as UTF-8.") from None


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _parse_srt(text: str) -> list[Cue]:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    cues: list[Cue] = []
    try:
        for number, sub in enumerate(srt.parse(text), start=1):
            cues.append(Cue(number, sub.start.total_seconds(), sub.end.total_seconds(), _SRT_MARKUP.sub("", sub.content)))
            if len(cues) > MAX_CUES:
                break
    except srt.SRTParseError as exc:
        line = _line_of(text, exc.expected_start + len(exc.unmatched_content) - len(exc.unmatched_content.lstrip()))
        raise MediaRejected(
            f"This SRT file is malformed at line {line} (cue {len(cues) + 1}): expected a cue number followed by "
            "a timing line such as “00:00:01,000 --> 00:00:02,500”."
        ) from None
    except (srt.TimestampParseError, ValueError) as exc:
        raise MediaRejected(f"This SRT file has an invalid timestamp in cue {len(cues) + 1}: {exc}") from None
    return cues


def _parse_vtt(text: str) -> list[Cue]:
    try:
        document = webvtt.from_string(text, strict=True)
    except MalformedFileError:
        raise MediaRejected("This is not a WebVTT file: it must start with the line “WEBVTT”.") from None
    except MalformedCaptionError:
        raise MediaRejected(_locate_vtt_error(text)) from None
    return [
        Cue(number, c.start_time.in_milliseconds() / 1000, c.end_time.in_milliseconds() / 1000, c.text)
        for number, c in enumerate(document.captions, start=1)
    ]


def _locate_vtt_error(text: str) -> str:
    """webvtt-py reports the bad block but no position; find the first timing line it would refuse."""
    cue = 0
    in_cue = False
    for line_number, line in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), start=1):
        if not line:
            in_cue = False
            continue
        if "-->" not in line:
            continue
        cue += 1
        if not _VTT_TIMING.match(line):
            return (
                f"This WebVTT file is malformed at line {line_number} (cue {cue}): timings must look like "
                "“00:00:01.000 --> 00:00:02.500”."
            )
        if in_cue:
            return f"This WebVTT file is malformed at line {line_number} (cue {cue}): a cue needs a blank line before it."
        in_cue = True
    return "This WebVTT file has a malformed cue."
