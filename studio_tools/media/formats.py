"""What we accept, decided from the bytes before any ffmpeg code sees the file.

The rules, in the order `check_file` applies them (each failure is a `MediaRejected` whose reason a
user can act on):

1. The file is a regular, non-empty file.
2. Its magic bytes name one of the allowed formats (`FORMATS`). Text is never media: HLS playlists,
   ffconcat lists, subtitles, web pages and other text get a reason saying what they are. The sniffed
   format, not the name, later decides which ffmpeg demuxer is forced, so nothing is reinterpreted.
3. The name's extension must belong to the sniffed format (".mov" holding a PNG is refused). A name
   without an extension is judged on content alone; an extension we do not know (".html", ".svg",
   ".exe", ".m3u8") is refused, because the name travels with downloads and decides which program a
   recipient's machine opens the file with.
4. No web content hides in the file: the first and last 64 KiB of every file, and the whole of any
   still image, must not contain HTML/script markers; a PNG must end at its IEND chunk (only NUL
   padding may follow). These are the polyglot carriers: bytes that a browser or another parser would
   read as a page.
5. An AVI must not carry GAB2 chunks: embedded subtitle documents are how CVE-2017-9993 smuggled an
   HLS playlist into ffmpeg. Subtitles are accepted as separate .srt/.vtt files instead.

Rule 4 scans whole stills only. The whole-file markers are specific enough that random compressed
bytes match one only a few times per terabyte, so a real plate is almost never refused by accident;
reading every multi-gigabyte video end to end would cost a full pass for little, since a video's start
and end are where browsers and polyglot parsers look. Short markers such as `<svg` are only looked for
in the head and tail windows for the same reason.
"""

from __future__ import annotations

import re
import stat
import struct
from dataclasses import dataclass
from pathlib import Path

from studio_tools.media.errors import MediaRejected

HEAD_BYTES = 64 * 1024
TAIL_BYTES = 64 * 1024
_SCAN_CHUNK = 4 * 1024 * 1024


@dataclass(frozen=True)
class ContainerFormat:
    key: str
    label: str
    demuxer: str  # forced with -f and the only entry of -format_whitelist
    format_name: str  # what ffprobe must report back for that demuxer
    extensions: frozenset[str]
    still: bool = False
    audio_only: bool = False


def _fmt(key, label, demuxer, format_name, exts, **kw) -> ContainerFormat:
    return ContainerFormat(key, label, demuxer, format_name, frozenset(exts.split()), **kw)


FORMATS: dict[str, ContainerFormat] = {
    f.key: f
    for f in (
        _fmt("mov", "QuickTime/MP4", "mov", "mov,mp4,m4a,3gp,3g2,mj2", "mov qt mp4 m4v m4a 3gp 3g2"),
        _fmt("mxf", "MXF", "mxf", "mxf", "mxf"),
        _fmt("matroska", "Matroska/WebM", "matroska", "matroska,webm", "mkv mka webm"),
        _fmt("avi", "AVI", "avi", "avi", "avi"),
        _fmt("wav", "WAV", "wav", "wav", "wav wave bwf", audio_only=True),
        _fmt("aiff", "AIFF", "aiff", "aiff", "aif aiff aifc", audio_only=True),
        _fmt("mp3", "MP3", "mp3", "mp3", "mp3", audio_only=True),
        _fmt("png", "PNG image", "png_pipe", "png_pipe", "png", still=True),
        _fmt("jpeg", "JPEG image", "jpeg_pipe", "jpeg_pipe", "jpg jpeg jpe", still=True),
        _fmt("tiff", "TIFF image", "tiff_pipe", "tiff_pipe", "tif tiff", still=True),
        _fmt("exr", "OpenEXR image", "exr_pipe", "exr_pipe", "exr", still=True),
        _fmt("dpx", "DPX image", "dpx_pipe", "dpx_pipe", "dpx", still=True),
    )
}
ALLOWED_DEMUXERS = frozenset(f.demuxer for f in FORMATS.values())
_EXTENSION_OWNER = {ext: f for f in FORMATS.values() for ext in f.extensions}

ACCEPTED_SUMMARY = "QuickTime/MP4, MXF, Matroska/WebM, AVI, WAV, AIFF, MP3, PNG, JPEG, TIFF, OpenEXR or DPX"

# ISO-BMFF boxes a QuickTime/MP4 file may legitimately start with.
_BMFF_FIRST_BOXES = {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot"}
# ISO-BMFF brands that are stills or camera raw, which the mov demuxer would half-read.
_BMFF_NOT_MOVIES = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"mif1", b"msf1", b"avif", b"avis", b"crx "}
_MXF_HEADER_PARTITION = bytes.fromhex("060e2b34020501010d01020101 02".replace(" ", ""))
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# Markers of active web content. Each needs a following delimiter so that random compressed bytes
# essentially never match (see the module notes); `<svg` is short, so only head and tail windows use it.
_ACTIVE_WHOLE = re.compile(rb"<(?:html|body|script|iframe|object|embed)[\s/>]|<!doctype\s+html|<\?php\s", re.IGNORECASE)
_ACTIVE_WINDOW = re.compile(_ACTIVE_WHOLE.pattern + rb"|<svg[\s/>]", re.IGNORECASE)
_LONGEST_MARKER = 16


def _reject_text(head: bytes) -> None:
    """Raise with a reason naming the kind of text, if `head` looks like text at all."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = head[2:].decode("utf-16-le" if head[0] == 0xFF else "utf-16-be", errors="ignore")
    elif b"\x00" in head:
        return
    else:
        text = head.decode("utf-8", errors="replace")
        printable = sum(ch.isprintable() or ch in "\r\n\t\f" for ch in text)
        if printable < 0.9 * max(1, len(text)):
            return
    stripped = text.lstrip("\ufeff \t\r\n")
    lowered = stripped[:4096].lower()
    if stripped.startswith("#EXTM3U") or "#ext-x-" in lowered or "#extinf" in lowered:
        raise MediaRejected("This file is an HLS playlist, not media; upload the media files themselves.")
    if lowered.startswith("ffconcat version") or re.match(r"(?:#[^\n]*\n|\s)*file\s+\S", lowered):
        raise MediaRejected("This file is an ffmpeg concat list, not media; upload the media files themselves.")
    if lowered.startswith("webvtt") or re.search(r"\d\d:\d\d:\d\d[,.]\d{3}\s*-->", lowered[:1024]):
        raise MediaRejected("This file is a subtitle document, not media; upload it as subtitles (.srt or .vtt).")
    if lowered.startswith("<") and re.search(r"<(?:!doctype\s+html|html[\s>])", lowered):
        raise MediaRejected("This file is a web page, not media.")
    if lowered.startswith("<"):
        raise MediaRejected("This file is an XML or SVG document, not media.")
    raise MediaRejected("This file is text, not media. Accepted formats: " + ACCEPTED_SUMMARY + ".")


def _mp3_frame_at(data: bytes, pos: int) -> bool:
    if len(data) < pos + 4:
        return False
    b0, b1, b2 = data[pos], data[pos + 1], data[pos + 2]
    # Frame sync, a defined MPEG version and Layer III: that is what "MP3" means; ADTS AAC and
    # Layer I/II share the sync word and are not on the list.
    return (
        b0 == 0xFF
        and (b1 & 0xE0) == 0xE0
        and ((b1 >> 3) & 3) != 1
        and ((b1 >> 1) & 3) == 1
        and (b2 >> 4) not in (0, 15)
        and ((b2 >> 2) & 3) != 3
    )


def _sniff_mp3(path: Path, head: bytes) -> bool:
    if head.startswith(b"ID3") and len(head) >= 10:
        size = (head[6] & 0x7F) << 21 | (head[7] & 0x7F) << 14 | (head[8] & 0x7F) << 7 | (head[9] & 0x7F)
        start = 10 + size + (10 if head[5] & 0x10 else 0)
        if start + 4 > len(head):
            with path.open("rb") as f:
                f.seek(start)
                return _mp3_frame_at(f.read(4), 0)
        return _mp3_frame_at(head, start)
    return _mp3_frame_at(head, 0)


def _bmff_box_size_ok(head: bytes, size: int) -> bool:
    # Text such as "The free ..." has a box type at offset 4 too; its "size" is then absurd.
    box_size = struct.unpack(">I", head[:4])[0]
    return box_size in (0, 1) or 8 <= box_size <= size


def sniff(path: Path, head: bytes, size: int) -> ContainerFormat:
    """The allowed format `head` (the file's first bytes) belongs to, or `MediaRejected`."""
    if head[4:8] in _BMFF_FIRST_BOXES and _bmff_box_size_ok(head, size):
        if head[4:8] == b"ftyp" and head[8:12] in _BMFF_NOT_MOVIES:
            raise MediaRejected("HEIF/AVIF images and camera raw files are not accepted; export a PNG, TIFF, EXR or DPX.")
        return FORMATS["mov"]
    if _MXF_HEADER_PARTITION in head:  # SMPTE 377 allows a run-in of up to 64 KiB before the header
        return FORMATS["mxf"]
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return FORMATS["matroska"]
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return FORMATS["avi"]
    if head[:4] in (b"RIFF", b"RF64", b"BW64") and head[8:12] == b"WAVE":
        return FORMATS["wav"]
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return FORMATS["aiff"]
    if head.startswith(_PNG_SIGNATURE):
        return FORMATS["png"]
    if head.startswith(b"\xff\xd8\xff"):
        return FORMATS["jpeg"]
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return FORMATS["tiff"]
    if head.startswith(b"\x76\x2f\x31\x01"):
        return FORMATS["exr"]
    if head[:4] in (b"SDPX", b"XPDS"):
        return FORMATS["dpx"]
    if _sniff_mp3(path, head):
        return FORMATS["mp3"]
    _reject_text(head)
    raise MediaRejected("This file's format is not accepted. Accepted formats: " + ACCEPTED_SUMMARY + ".")


def check_extension(fmt: ContainerFormat, filename: str) -> None:
    suffix = Path(filename).suffix.lower().lstrip(".")
    if not suffix or suffix in fmt.extensions:
        return
    owner = _EXTENSION_OWNER.get(suffix)
    if owner is None:
        raise MediaRejected(
            f"Files ending in “.{suffix}” are not accepted; this file's contents are {_a(fmt.label)}, "
            f"so name it with {_ext_list(fmt)}."
        )
    raise MediaRejected(
        f"This file is named “.{suffix}” but its contents are {_a(fmt.label)}; rename it with {_ext_list(fmt)} "
        "or upload the file you meant to send."
    )


def _a(label: str) -> str:
    return ("an " if label[0] in "AEIOU" else "a ") + label


def _ext_list(fmt: ContainerFormat) -> str:
    exts = sorted(fmt.extensions)
    return " or ".join(f".{e}" for e in exts[:3])


def _scan(path: Path, pattern: re.Pattern[bytes], start: int = 0, end: int | None = None) -> bool:
    """Does `pattern` occur in path[start:end]? Chunks overlap so a marker split across reads is found."""
    with path.open("rb") as f:
        f.seek(start)
        remaining = None if end is None else end - start
        carry = b""
        while remaining is None or remaining > 0:
            block = f.read(_SCAN_CHUNK if remaining is None else min(_SCAN_CHUNK, remaining))
            if not block:
                return False
            if remaining is not None:
                remaining -= len(block)
            window = carry + block
            if pattern.search(window):
                return True
            carry = window[-_LONGEST_MARKER:]
    return False


def check_active_content(path: Path, fmt: ContainerFormat, size: int) -> None:
    head_end = min(size, HEAD_BYTES)
    found = _scan(path, _ACTIVE_WINDOW, 0, head_end) or _scan(path, _ACTIVE_WINDOW, max(0, size - TAIL_BYTES), size)
    if not found and fmt.still:
        found = _scan(path, _ACTIVE_WHOLE)
    if found:
        raise MediaRejected(
            f"This file looks like {_a(fmt.label)} but also contains web-page code (HTML or script); "
            "files that are two things at once are not accepted. Export the media again and upload that."
        )
    if fmt.key == "png":
        _check_png_structure(path, size)


def _check_png_structure(path: Path, size: int) -> None:
    with path.open("rb") as f:
        pos = len(_PNG_SIGNATURE)
        while True:
            f.seek(pos)
            header = f.read(8)
            if len(header) < 8:
                raise MediaRejected("This PNG image is truncated or damaged (it has no end chunk); export it again.")
            length, ctype = struct.unpack(">I4s", header)
            pos += 12 + length
            if pos > size:
                raise MediaRejected("This PNG image is truncated or damaged; export it again.")
            if ctype == b"IEND":
                break
        trailing = size - pos
        if trailing:
            f.seek(pos)
            extra = f.read(min(trailing, 1024 * 1024))
            if trailing > len(extra) or extra.strip(b"\x00"):
                raise MediaRejected(
                    "This PNG image has other data appended after its end; files that are two things at once "
                    "are not accepted. Export the image again and upload that."
                )


def check_avi(path: Path) -> None:
    # A GAB2 chunk is an embedded subtitle *file* that the avi demuxer hands to a nested demuxer.
    if _scan(path, re.compile(rb"GAB2\x00")):
        if _scan(path, re.compile(rb"#EXTM3U|#EXT-X-|ffconcat version", re.IGNORECASE)):
            raise MediaRejected(
                "This AVI file carries an embedded playlist that points at other files; it cannot be accepted. "
                "Export the video again without embedded subtitles."
            )
        raise MediaRejected(
            "This AVI file carries embedded subtitle documents, which are not accepted; export it without them "
            "and upload the subtitles as a separate .srt or .vtt file."
        )


def check_file(path: Path, filename: str | None = None) -> ContainerFormat:
    """Apply rules 1–5 of the module notes; return the format whose demuxer ffprobe must be forced to."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise MediaRejected("The uploaded file is missing; upload it again.") from None
    if not stat.S_ISREG(st.st_mode):
        raise MediaRejected("This upload is not a regular file.")
    if st.st_size == 0:
        raise MediaRejected("This file is empty (0 bytes); upload it again.")
    with path.open("rb") as f:
        head = f.read(HEAD_BYTES)
    fmt = sniff(path, head, st.st_size)
    check_extension(fmt, filename if filename is not None else path.name)
    check_active_content(path, fmt, st.st_size)
    if fmt.key == "avi":
        check_avi(path)
    return fmt
