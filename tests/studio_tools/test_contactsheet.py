from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from PIL import Image

from studio_tools.contactsheet import TOOL, ContactSheetParams
from studio_tools.contactsheet import tool as tool_module
from studio_tools.contactsheet.tool import label_band_height, plan_samples, timecode
from studio_tools.contactsheet.video import VideoInfo, grab_frame, probe_video, video_info_from_probe
from studio_tools.core import BadInput, BadParams, CallbackProgress, Cancelled, OutputKind, ToolInput, get, out_dir, run_tool


def run_sheet(clip: Path, workdir: Path, progress=None, name: str | None = None, **params):
    metadata = {"original_name": name} if name else {}
    return run_tool("contactsheet", [ToolInput(clip, "footage", metadata=metadata)], params, workdir, progress)


def sheet_image(record) -> Image.Image:
    return Image.open(record.output_path(record.result.outputs[0]))


def test_spec():
    spec = get("contactsheet").spec
    assert (spec.name, spec.version, spec.uses_external_ai) == ("contactsheet", "1.0.0", False)
    assert [(s.name, [k.value for k in s.kinds], s.min_count, s.max_count) for s in spec.inputs] == [
        ("clip", ["footage", "plate"], 1, 1)
    ]
    props = spec.params_schema()["properties"]
    bounds = {k: (v.get("minimum"), v.get("maximum"), v["default"]) for k, v in props.items()}
    assert bounds == {
        "columns": (1, 12, 4),
        "rows": (1, 12, 4),
        "thumb_width": (64, 1024, 320),
        "timecodes": (None, None, True),
    }


@pytest.mark.parametrize(
    "params", [{"columns": 0}, {"rows": 13}, {"thumb_width": 63}, {"thumb_width": 1025}, {"timecodes": "maybe"}]
)
def test_params_out_of_range(params):
    with pytest.raises(BadParams):
        TOOL.spec.parse_params(params)


def test_sheet_size_report_and_output(testsrc_clip, tmp_path):
    record = run_sheet(testsrc_clip, tmp_path / "w", name="Take 3.mov", columns=3, rows=2, thumb_width=160)
    band = label_band_height(160)
    (output,) = record.result.outputs
    assert (output.name, output.path, output.kind, output.media_type) == (
        "contactsheet",
        "contactsheet.png",
        OutputKind.IMAGE,
        "image/png",
    )
    image = sheet_image(record)
    assert image.format == "PNG"
    assert image.size == (3 * 160, 2 * (120 + band))

    report = record.result.report
    assert report["clip"] | {"container": None} == {
        "name": "Take 3.mov",
        "duration": 4.0,
        "width": 320,
        "height": 240,
        "display_width": 320,
        "display_height": 240,
        "fps": 25.0,
        "frame_count": 100,
        "video_codec": "h264",
        "container": None,
    }
    assert report["sheet"] == {
        "path": "contactsheet.png",
        "width": 480,
        "height": 2 * (120 + band),
        "columns": 3,
        "rows": 2,
        "thumb_width": 160,
        "thumb_height": 120,
        "timecodes": True,
    }
    # Centres of six equal parts of 100 frames, snapped to frames: 100 * (i + 0.5) / 6.
    frames = report["frames"]
    assert [f["frame"] for f in frames] == [8, 25, 41, 58, 75, 91]
    assert [f["time"] for f in frames] == [0.32, 1.0, 1.64, 2.32, 3.0, 3.64]
    assert [f["timecode"] for f in frames] == [
        "00:00:00:08",
        "00:00:01:00",
        "00:00:01:16",
        "00:00:02:08",
        "00:00:03:00",
        "00:00:03:16",
    ]
    assert [(f["x"], f["y"]) for f in frames] == [
        (0, 0),
        (160, 0),
        (320, 0),
        (0, 120 + band),
        (160, 120 + band),
        (320, 120 + band),
    ]
    assert all(f["decoded"] for f in frames)
    assert record.result.metrics["frames"] == 6 and record.result.metrics["frames_missing"] == 0

    # The label band under the first thumbnail holds light text on the dark background.
    darkest, lightest = image.crop((0, 120, 160, 120 + band)).convert("L").getextrema()
    assert lightest > 200 and darkest < 40


def test_each_cell_shows_the_frame_its_label_names(ramp_clip, tmp_path):
    # ramp_clip's frame n is a flat grey of 16 + 5n, so a thumbnail's brightness says which frame it is.
    record = run_sheet(ramp_clip, tmp_path / "w", columns=4, rows=4, thumb_width=64, timecodes=False)
    image = sheet_image(record)
    assert image.size == (4 * 64, 4 * 48)  # no label band
    frames = record.result.report["frames"]
    assert [f["frame"] for f in frames] == [int(40 * (i + 0.5) / 16) for i in range(16)]
    for cell in frames:
        grey = image.getpixel((cell["x"] + cell["width"] // 2, cell["y"] + cell["height"] // 2))[0]
        assert abs(grey - (16 + 5 * cell["frame"])) <= 2, cell


def test_anamorphic_clip_gets_display_shaped_thumbnails(make_clip, tmp_path):
    clip = make_clip("anamorphic.mp4", "testsrc2=size=160x120:rate=10:duration=1", "-vf", "setsar=2")
    record = run_sheet(clip, tmp_path / "w", columns=1, rows=1, thumb_width=64, timecodes=False)
    assert record.result.report["clip"]["display_width"] == 320
    assert sheet_image(record).size == (64, 24)


def test_matroska_with_longer_audio_samples_only_the_picture(make_clip, tmp_path):
    clip = make_clip("av.mkv", "testsrc2=size=64x48:rate=10:duration=1", "-f", "lavfi", "-i", "sine=duration=4", "-c:a", "aac")
    record = run_sheet(clip, tmp_path / "w", columns=2, rows=2, thumb_width=64)
    frames = record.result.report["frames"]
    assert all(f["decoded"] for f in frames)
    assert max(f["time"] for f in frames) < 1.05


def test_progress_is_reported_per_frame_and_monotonic(ramp_clip, tmp_path):
    seen = []
    run_sheet(ramp_clip, tmp_path / "w", CallbackProgress(seen.append), columns=3, rows=3, thumb_width=64)
    fractions = [u.fraction for u in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    frame_messages = [u.message for u in seen if u.stage == "frames" and u.message]
    assert frame_messages == [f"{n}/9 frames" for n in range(10)]
    stages = [u.stage for u in seen]
    assert stages.index("probe") < stages.index("frames") < stages.index("compose") < stages.index("done")


def test_cancel_between_frames_stops_without_a_sheet(ramp_clip, tmp_path):
    seen = []
    cancel_after = 3

    def is_cancelled() -> bool:
        return sum(1 for u in seen if u.message and u.message.endswith("frames")) > cancel_after

    with pytest.raises(Cancelled):
        run_sheet(ramp_clip, tmp_path / "w", CallbackProgress(seen.append, is_cancelled), columns=6, rows=6, thumb_width=64)
    assert not (out_dir(tmp_path / "w") / "contactsheet.png").exists()
    assert seen[-1].fraction < 0.5


def test_a_frame_that_cannot_be_decoded_costs_one_cell(ramp_clip, tmp_path, monkeypatch):
    real = tool_module.grab_frame

    def flaky(path, info, seconds, width, height, name, **kw):
        return (None, "decoder hiccup") if seconds > 2 else real(path, info, seconds, width, height, name)

    monkeypatch.setattr(tool_module, "grab_frame", flaky)
    record = run_sheet(ramp_clip, tmp_path / "w", columns=2, rows=1, thumb_width=64)
    first, second = record.result.report["frames"]
    assert first["decoded"] and "problem" not in first
    assert (second["decoded"], second["problem"]) == (False, "decoder hiccup")
    assert record.result.metrics["frames_missing"] == 1

    monkeypatch.setattr(tool_module, "grab_frame", lambda *a, **kw: (None, "decoder hiccup"))
    with pytest.raises(BadInput, match=r"no frame of ramp.mp4 could be decoded \(decoder hiccup\)"):
        run_sheet(ramp_clip, tmp_path / "w2", columns=2, rows=1, thumb_width=64)


def test_oversized_sheet_is_refused_before_decoding(make_clip, tmp_path):
    portrait = make_clip("portrait.mp4", "testsrc2=size=48x160:rate=10:duration=1")
    with pytest.raises(BadInput, match=r"12x12 sheet .* would be 12288x\d+ pixels; use fewer rows or a smaller thumb_width"):
        run_sheet(portrait, tmp_path / "w", columns=12, rows=12, thumb_width=1024)


def _write(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def test_bad_files_are_bad_input_with_the_users_file_name(tmp_path, make_clip):
    cases = {
        "notes.mov": (
            _write(tmp_path, "a.mov", b"hello, this is not a video\n" * 10),
            r"is not a readable video file \(Invalid data",
        ),
        "empty.mov": (_write(tmp_path, "b.mov", b""), r"is empty \(0 bytes\)"),
    }
    wav = tmp_path / "tone.wav"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=duration=1", str(wav)], check=True, stdin=subprocess.DEVNULL
    )
    cases["song.wav"] = (wav, "has no video stream")
    png = tmp_path / "still.png"
    frame = ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=64x48", "-frames:v", "1", str(png)]
    subprocess.run(frame, check=True, stdin=subprocess.DEVNULL)
    cases["photo.png"] = (png, "is a still image, not a video")

    for shown, (path, reason) in cases.items():
        with pytest.raises(BadInput, match=rf"^{shown} {reason}") as info:
            run_sheet(path, tmp_path / f"w-{shown}", name=shown)
        assert str(tmp_path) not in str(info.value)


def test_video_info_decisions():
    base = {"codec_type": "video", "index": 0, "width": 1920, "height": 1080, "duration": "10.0", "avg_frame_rate": "24000/1001"}
    info = video_info_from_probe({"streams": [base], "format": {"format_name": "mov"}}, "a.mov")
    assert (info.display_width, info.display_height, info.frame_count) == (1920, 1080, 239)
    assert info.fps == pytest.approx(23.976, abs=1e-3)

    rotated = {**base, "side_data_list": [{"side_data_type": "Display Matrix", "rotation": -90}]}
    assert video_info_from_probe({"streams": [rotated]}, "a").display_width == 1080
    assert video_info_from_probe({"streams": [{**base, "tags": {"rotate": "270"}}]}, "a").display_height == 1920

    cover = {**base, "disposition": {"attached_pic": 1}}
    bad = {
        "a playlist, not a video file": {"streams": [base], "format": {"format_name": "hls"}},
        "has no video stream": {"streams": [cover, {"codec_type": "audio"}]},
        "has zero length": {"streams": [{**base, "duration": "0.000"}], "format": {"duration": "N/A"}},
        "has no video frames": {"streams": [{**base, "nb_frames": "0"}]},
        "without a picture size": {"streams": [{**base, "width": 0}]},
    }
    for reason, data in bad.items():
        with pytest.raises(BadInput, match=reason):
            video_info_from_probe(data, "a.mov")

    unknown_rate = video_info_from_probe({"streams": [{**base, "avg_frame_rate": "0/0", "r_frame_rate": "0/0"}]}, "a")
    assert (unknown_rate.fps, unknown_rate.frame_count) == (None, None)


def test_sampling_without_a_frame_rate_uses_time_centres():
    info = VideoInfo(0, 64, 48, 64, 48, duration=8.0, fps=None, frame_count=None, codec="x", container="y")
    samples = plan_samples(info, 4)
    assert [(s.seconds, s.frame, s.seek) for s in samples] == [
        (1.0, None, 1.0),
        (3.0, None, 3.0),
        (5.0, None, 5.0),
        (7.0, None, 7.0),
    ]


def test_sampling_a_clip_shorter_than_the_grid_repeats_frames_within_the_clip():
    info = VideoInfo(0, 64, 48, 64, 48, duration=0.12, fps=25.0, frame_count=3, codec="x", container="y")
    assert [s.frame for s in plan_samples(info, 6)] == [0, 0, 1, 1, 2, 2]


def test_timecode_labels():
    assert timecode(3725.48, 3725 * 25 + 12, 25.0) == "01:02:05:12"
    assert timecode(0, 47, 24000 / 1001) == "00:00:01:23"  # counted at the nominal 24
    assert timecode(3725.4816, None, None) == "01:02:05.482"


def test_probe_and_grab_directly(ramp_clip):
    info = probe_video(ramp_clip, "ramp.mp4")
    assert (info.width, info.height, info.fps, info.frame_count, info.codec) == (64, 48, 10.0, 40, "h264")
    pixels, problem = grab_frame(ramp_clip, info, 1.0 - 0.025, 32, 24, "ramp.mp4")
    assert problem is None and len(pixels) == 32 * 24 * 3
    assert abs(pixels[0] - (16 + 5 * 10)) <= 2
    assert grab_frame(ramp_clip, info, 30.0, 32, 24, "ramp.mp4") == (None, "no frame at this time")


def test_params_model_is_the_one_the_tool_receives(ramp_clip, tmp_path):
    record = run_sheet(ramp_clip, tmp_path / "w", columns="2", rows=1, thumb_width=64)
    assert record.params == ContactSheetParams(columns=2, rows=1, thumb_width=64)
