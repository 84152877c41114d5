"""Subtitle parsing (never through ffmpeg) and content hashing."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from studio_tools.media import Cue, MediaRejected, parse_subtitles, sha256_file
from studio_tools.media.subtitles import MAX_SUBTITLE_BYTES


def write(folder: Path, name: str, data: str | bytes) -> Path:
    path = folder / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def reason(path: Path, **kwargs) -> str:
    with pytest.raises(MediaRejected) as caught:
        parse_subtitles(path, **kwargs)
    return caught.value.reason


GOOD_SRT = (
    "1\r\n00:00:01,000 --> 00:00:02,500\r\n<i>Hello</i>\r\nworld\r\n\r\n2\r\n00:01:03,250 --> 00:01:04,000\r\n{\\an8}Bye\r\n"
)
GOOD_VTT = (
    "WEBVTT - reel 1\n\nNOTE written by hand\n\n"
    "00:00:01.000 --> 00:00:02.500 align:start\n<v Roger>Hello</v>\n\n"
    "intro-2\n01:00:03.000 --> 01:00:04.000\nBye\n"
)


def test_srt(tmp_path):
    cues = parse_subtitles(write(tmp_path, "reel1.srt", "\ufeff" + GOOD_SRT))
    assert cues == [Cue(1, 1.0, 2.5, "Hello\nworld"), Cue(2, 63.25, 64.0, "Bye")]
    assert cues[0].to_dict() == {"index": 1, "start": 1.0, "end": 2.5, "text": "Hello\nworld"}


def test_srt_in_windows_1252(tmp_path):
    cues = parse_subtitles(write(tmp_path, "old.srt", "1\n00:00:01,000 --> 00:00:02,000\nCafé crème\n".encode("cp1252")))
    assert cues[0].text == "Café crème"


def test_vtt(tmp_path):
    cues = parse_subtitles(write(tmp_path, "reel1.vtt", GOOD_VTT))
    assert cues == [Cue(1, 1.0, 2.5, "Hello"), Cue(2, 3603.0, 3604.0, "Bye")]


def test_the_users_filename_picks_the_parser(tmp_path):
    stored = write(tmp_path, "upload-7f3a", GOOD_VTT)
    assert len(parse_subtitles(stored, filename="Reel 1.VTT")) == 2
    assert "are accepted as .srt or .vtt" in reason(stored, filename="reel1.ass")
    assert "are accepted as .srt or .vtt" in reason(stored)


def test_malformed_srt_names_line_and_cue(tmp_path):
    bad = "1\n00:00:01,000 --> 00:00:02,500\nHello\n\n2\n00:00:0x,000 --> 00:00:04,000\nBye\n"
    assert "line 5 (cue 2)" in reason(write(tmp_path, "bad.srt", bad))
    assert "line 1 (cue 1)" in reason(write(tmp_path, "arrow.srt", "1\n00:00:01,000 -> 00:00:02,500\nHello\n"))


def test_srt_cue_ending_before_it_starts(tmp_path):
    assert "Cue 1 of this subtitle file ends before it starts" in reason(
        write(tmp_path, "back.srt", "1\n00:00:05,000 --> 00:00:02,000\nHello\n")
    )


def test_malformed_vtt(tmp_path):
    assert "must start with the line “WEBVTT”" in reason(write(tmp_path, "a.vtt", "00:00:01.000 --> 00:00:02.000\nHi\n"))
    bad_time = "WEBVTT\n\n00:00:01.000 --> 00:00:02.500\nHi\n\n00:00:0x.000 --> 00:00:04.000\nBye\n"
    assert "line 6 (cue 2): timings" in reason(write(tmp_path, "b.vtt", bad_time))
    no_gap = "WEBVTT\n\n00:00:01.000 --> 00:00:02.500\nHi\n00:00:03.000 --> 00:00:04.000\nBye\n"
    assert "line 5 (cue 2): a cue needs a blank line" in reason(write(tmp_path, "c.vtt", no_gap))


def test_empty_binary_and_oversized_files(tmp_path):
    assert "empty" in reason(write(tmp_path, "e.srt", b""))
    assert "not text" in reason(write(tmp_path, "b.srt", b"1\x00\x00\x00binary"))
    assert "no cues" in reason(write(tmp_path, "n.vtt", "WEBVTT\n\nNOTE nothing here\n"))
    big = write(tmp_path, "big.srt", b"")
    with big.open("wb") as f:
        f.truncate(MAX_SUBTITLE_BYTES + 1)
    assert "the largest accepted is 5 MiB" in reason(big)


def test_sha256_file_matches_hashlib_across_chunk_boundaries(tmp_path):
    data = os.urandom(3 * 1024 + 17)
    path = write(tmp_path, "blob.bin", data)
    expected = hashlib.sha256(data).hexdigest()
    assert sha256_file(path) == expected
    assert sha256_file(path, chunk=1000) == expected
    assert sha256_file(write(tmp_path, "empty", b"")) == hashlib.sha256(b"").hexdigest()
    with pytest.raises(ValueError):
        sha256_file(path, chunk=0)
