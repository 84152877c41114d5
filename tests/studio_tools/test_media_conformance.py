"""Media truth: the probe reports what a file really holds, on the generated matrix and on real footage.

The matrix (media_matrix.py) knows what it encoded; ../shared/media's MANIFEST.json knows what was
counted by decoding every frame. Where ffprobe's header values and the truth differ (an AVI claiming
twice its rate, Matroska without a count, a container longer than its picture), the truth must win.
"""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest

from studio_tools.media import MediaCancelled, MediaRejected, probe, reader
from tests import real_media
from tests.studio_tools import media_matrix


@pytest.mark.parametrize("name", [spec.name for spec in media_matrix.SPECS])
def test_probe_reports_the_truth_of_each_generated_file(matrix, name):
    spec, path = matrix[name]
    info = probe(path).summary()
    assert info["frame_rate"] == spec.rate
    assert info["frame_count"] == spec.frame_count
    assert info["variable_frame_rate"] is spec.variable
    assert info["header_frame_rate"] == spec.header_rate
    assert (info["display_width"], info["display_height"]) == spec.display_size
    assert info["rotation"] == spec.rotation
    assert info["pixel_aspect_ratio"] == spec.pixel_aspect
    assert info["start_timecode"] == spec.start_timecode
    assert info["field_order"] == spec.field_order
    assert info["audio"] is bool(spec.audio)
    expected_duration = float(Fraction(spec.frames) / Fraction(spec.rate))
    assert info["duration"] == pytest.approx(expected_duration, abs=1.5 / float(Fraction(spec.rate)))


def test_audio_tracks_are_described(matrix):
    _spec, mono = matrix["audio_mono.mp4"]
    _spec, surround = matrix["audio_51.mov"]
    assert [t["channels"] for t in probe(mono).summary()["audio_tracks"]] == [1]
    assert [t["channels"] for t in probe(surround).summary()["audio_tracks"]] == [6]


def test_the_prores_file_is_ten_bit_422(matrix):
    _spec, path = matrix["prores_422_10bit.mov"]
    video = probe(path).video
    assert video is not None and video.codec == "prores" and video.bit_depth == 10 and video.pix_fmt == "yuv422p10le"


def test_a_still_has_no_rate_and_one_frame(tmp_path):
    info = probe(media_matrix.still(tmp_path)).summary()
    assert info["kind"] == "still" and info["frame_count"] == 1 and info["frame_rate"] is None


def test_cli_prints_the_top_level_keys(matrix):
    _spec, path = matrix["avi_packed.avi"]
    done = subprocess.run([sys.executable, "-m", "studio_tools", "probe", str(path)], capture_output=True, text=True, check=True)
    printed = json.loads(done.stdout)
    for key in ("frame_rate", "frame_count", "variable_frame_rate", "display_width", "display_height", "rotation"):
        assert key in printed
    assert printed["frame_rate"] == "25/1" and printed["header_frame_rate"] == "50/1" and printed["frame_count"] == 50
    assert printed["pixel_aspect_ratio"] == "1:1" and printed["audio"] is False and printed["start_timecode"] is None


def test_cli_refuses_a_text_file_with_a_reason(tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n" * 10)
    done = subprocess.run([sys.executable, "-m", "studio_tools", "probe", str(text)], capture_output=True, text=True)
    assert done.returncode == 2 and "not media" in done.stderr and not done.stdout


def test_a_cut_short_mp4_with_its_index_in_front_is_rejected_by_the_probe(matrix, tmp_path):
    _spec, path = matrix["r50.mp4"]
    faststart = tmp_path / "faststart.mp4"
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-i",
            str(path),
            "-c",
            "copy",
            "-movflags",
            "+faststart",
            str(faststart),
        ],
        check=True,
    )
    data = faststart.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 2 // 5])
    with pytest.raises(MediaRejected, match="incomplete"):
        probe(cut)


def test_a_video_with_no_decodable_frame_is_rejected(tmp_path):
    # An AVI whose frames are all empty chunks: the header promises frames, no decoder gives one.
    path = tmp_path / "empty.avi"
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=s=64x48:r=25:d=1",
            "-c:v",
            "mpeg4",
            str(path),
        ],
        check=True,
    )
    data = bytearray(path.read_bytes())
    start = data.find(b"movi") + 4
    end = data.find(b"idx1")
    data[start:end] = bytes(end - start)  # the chunks' bytes zeroed: no frame left to decode
    path.write_bytes(bytes(data))
    with pytest.raises(MediaRejected):
        probe(path)


# --- the real footage -----------------------------------------------------------------------------------


@pytest.mark.real_media
@pytest.mark.parametrize("name", real_media.video_names())
def test_probe_matches_the_manifest_on_real_footage(name):
    entry = real_media.entry(name)
    info = probe(entry["path"]).summary()
    counted = entry["frame_rate_counted"]
    assert info["frame_count"] == counted["decoded_frames"]
    assert info["variable_frame_rate"] is counted["variable_frame_rate"]
    if not counted["variable_frame_rate"]:
        assert float(Fraction(info["frame_rate"])) == pytest.approx(counted["fps_from_timestamps"], rel=1e-3)
    assert f"{info['width']}x{info['height']}" == entry["resolution"]
    assert info["rotation"] == entry["rotation_deg"]
    par = entry["pixel_aspect_ratio"]
    assert info["pixel_aspect_ratio"] == (par if par not in ("N/A", None) else "1:1")
    assert info["audio"] is entry["audio"]
    expected_tc = entry["start_timecode"][0] if entry["start_timecode"] else None
    assert info["start_timecode"] == expected_tc
    assert info["duration"] == pytest.approx(entry.get("duration_s_from_decoded_frames", entry["duration_s"]), abs=0.05)


# --- the one frame reader -------------------------------------------------------------------------------


def _number(frame, spec: media_matrix.Spec) -> int:
    # The reader turns pictures to display orientation; turning back by the known rotation must give
    # the encoded bars again (a reader that did not turn them would fail here).
    return media_matrix.read_bars(np.rot90(frame.image, k=spec.rotation // 90))


@pytest.mark.parametrize("name", [spec.name for spec in media_matrix.SPECS])
def test_reader_frame_n_is_frame_n_in_display_geometry(matrix, name):
    spec, path = matrix[name]
    info = probe(path)
    expected = media_matrix.timeline(spec)
    stream = reader.read_frames(path, info)
    frames = list(stream)
    assert [_number(f, spec) for f in frames] == expected
    assert [f.index for f in frames] == list(range(len(expected)))
    assert info.video.timeline_frame_count == len(expected)
    assert stream.repeated == len(expected) - spec.frame_count
    width, height = spec.display_size
    assert frames[0].image.shape == (height, width, 3)
    assert frames[-1].time == pytest.approx((len(expected) - 1) / float(Fraction(spec.rate)))
    # Random access lands on the same frames, at the start, inside and at the very end.
    for index in (0, len(expected) // 2, len(expected) - 1):
        assert _number(reader.read_frame(path, info, index), spec) == expected[index]


def test_reader_native_timeline_gives_each_decoded_frame_once(matrix):
    spec, path = matrix["vfr.mkv"]
    frames = list(reader.read_frames(path, probe(path), timeline="native"))
    assert [media_matrix.read_bars(f.image) for f in frames] == [n for n in range(spec.frames) if n not in spec.drop]
    assert frames[8].time == pytest.approx(10 / 25, abs=0.002)  # frame 10 follows 6 after a two-frame gap


def test_reader_can_read_at_a_smaller_size_and_in_other_pixel_formats(matrix):
    spec, path = matrix["anamorphic_16x11.mp4"]
    info = probe(path)
    size = reader.display_size(info.video, max_width=128)
    assert size == (128, 72)
    frame = reader.read_frame(path, info, 7, size=size, pix_fmt="gray")
    assert frame.image.shape == (72, 128) and media_matrix.read_bars(frame.image) == 7


def test_reader_stops_on_cancel(matrix):
    _spec, path = matrix["r50.mp4"]
    stream = reader.read_frames(path, probe(path), cancelled=lambda: True)
    with pytest.raises(MediaCancelled):
        list(stream)


@pytest.mark.real_media
@pytest.mark.parametrize("name", real_media.video_names())
def test_reader_on_real_footage_reads_every_frame_once_and_seeks_to_the_same_frames(name):
    entry = real_media.entry(name)
    path = entry["path"]
    info = probe(path)
    size = reader.display_size(info.video, max_width=96)
    frames = list(reader.read_frames(path, info, size=size, pix_fmt="gray"))
    assert len(frames) == info.video.timeline_frame_count
    assert sum(not f.repeated for f in frames) == entry["frame_rate_counted"]["decoded_frames"]
    for index in (1, len(frames) // 3, len(frames) - 1):
        sought = reader.read_frame(path, info, index, size=size, pix_fmt="gray").image.astype(int)
        assert np.abs(sought - frames[index].image.astype(int)).mean() < 1.0, f"frame {index} by seeking differs"


def test_frame_times_that_go_backwards_are_rejected_with_a_reason(tmp_path):
    # setts moves frames 20-29 back by a second; the muxer clamps them to the time before: ten frames at 0.76 s.
    path = tmp_path / "backwards.mkv"
    subprocess.run(
        [
            "ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=s=64x48:r=25:d=2",
            "-c:v", "libx264", "-bf", "0", "-bsf:v", "setts=ts=if(between(N\\,20\\,29)\\,TS-25*40\\,TS)", str(path),
        ],
        check=True,
    )  # fmt: skip
    with pytest.raises(MediaRejected, match="cannot be put in order"):
        probe(path)


def test_b_frames_in_matroska_and_mxf_are_not_mistaken_for_disorder(tmp_path):
    for name, extra in (("b.mkv", ()), ("b.mxf", ("-f", "mxf"))):
        path = tmp_path / name
        subprocess.run(
            ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=s=64x48:r=25:d=2"]
            + ["-c:v", "libx264", "-bf", "3", *extra, str(path)],
            check=True,
        )
        info = probe(path).summary()
        assert (info["frame_rate"], info["frame_count"], info["variable_frame_rate"]) == ("25/1", 50, False)
