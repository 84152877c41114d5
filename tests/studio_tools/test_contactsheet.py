from __future__ import annotations

import re
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio_tools.contactsheet import TOOL, ContactSheetParams
from studio_tools.contactsheet import video as video_module
from studio_tools.contactsheet.tool import label_band_height, plan_samples, timecode
from studio_tools.core import BadInput, BadParams, CallbackProgress, Cancelled, OutputKind, ToolInput, get, out_dir, run_tool
from studio_tools.media import probe, reader
from studio_tools.media.timecode import timecode_to_frames
from tests import real_media
from tests.studio_tools import media_matrix


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
    assert report["clip"] == {
        "name": "Take 3.mov",
        "duration": 4.0,
        "width": 320,
        "height": 240,
        "display_width": 320,
        "display_height": 240,
        "rotation": 0,
        "pixel_aspect_ratio": "1:1",
        "frame_rate": "25/1",
        "fps": 25.0,
        "variable_frame_rate": False,
        "frame_count": 100,
        "start_timecode": None,
        "first_frame_timecode": "00:00:00:00",
        "video_codec": "h264",
        "container": "QuickTime/MP4",
    }
    assert report["notes"] == []
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
    real = video_module.read_cells

    def flaky(path, info, frames, size, **kw):
        for frame, image, problem in real(path, info, frames, size, **kw):
            yield (frame, None, "decoder hiccup") if frame > 20 else (frame, image, problem)

    monkeypatch.setattr(video_module, "read_cells", flaky)
    record = run_sheet(ramp_clip, tmp_path / "w", columns=2, rows=1, thumb_width=64)
    first, second = record.result.report["frames"]
    assert first["decoded"] and "problem" not in first
    assert (second["decoded"], second["problem"]) == (False, "decoder hiccup")
    assert record.result.metrics["frames_missing"] == 1

    def broken(path, info, frames, size, **kw):
        return ((f, None, "decoder hiccup") for f in frames)

    monkeypatch.setattr(video_module, "read_cells", broken)
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
        "notes.mov": (_write(tmp_path, "a.mov", b"hello, this is not a video\n" * 10), r": This file is text, not media"),
        "empty.mov": (_write(tmp_path, "b.mov", b""), r": This file is empty \(0 bytes\)"),
    }
    wav = tmp_path / "tone.wav"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=duration=1", str(wav)], check=True, stdin=subprocess.DEVNULL
    )
    cases["song.wav"] = (wav, r" has no video stream \(it is audio\)")
    png = tmp_path / "still.png"
    frame = ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=64x48", "-frames:v", "1", str(png)]
    subprocess.run(frame, check=True, stdin=subprocess.DEVNULL)
    cases["photo.png"] = (png, " is a still image, not a video")

    for shown, (path, reason) in cases.items():
        with pytest.raises(BadInput, match=rf"^{re.escape(shown)}{reason}") as info:
            run_sheet(path, tmp_path / f"w-{shown}", name=shown)
        assert str(tmp_path) not in str(info.value)


def test_sampling_places_cells_at_the_centres_of_equal_parts():
    assert [(s.frame, s.seconds) for s in plan_samples(40, "10/1", 4)] == [(5, 0.5), (15, 1.5), (25, 2.5), (35, 3.5)]
    assert [s.frame for s in plan_samples(100, "30000/1001", 2)] == [25, 75]
    assert plan_samples(100, "30000/1001", 2)[1].seconds == pytest.approx(75 * 1001 / 30000)


def test_sampling_a_clip_shorter_than_the_grid_repeats_frames_within_the_clip():
    assert [s.frame for s in plan_samples(3, "25/1", 6)] == [0, 0, 1, 1, 2, 2]


def test_timecode_labels():
    assert timecode(3725 * 25 + 12, "25/1") == "01:02:05:12"
    assert timecode(47, "24000/1001") == "00:00:01:23"  # counted at the nominal 24
    assert timecode(1800, "30000/1001") == "00:01:00;02"  # 29.97 is drop-frame
    assert timecode(0, "30000/1001", "19:26:48:04") == "19:26:48:04"  # from the clip's own start timecode
    assert timecode(30, "30000/1001", "19:26:48:04") == "19:26:49:04"


def test_read_cells_reads_frames_by_number(ramp_clip):
    info = video_module.probe_clip(ramp_clip, "ramp.mp4")
    got = list(video_module.read_cells(ramp_clip, info, [10, 3, 10, 39, 50], (32, 24)))
    assert [cell[0] for cell in got] == [3, 10, 39, 50]  # one reader: in order
    parallel = sorted(video_module.read_cells(ramp_clip, info, [10, 3, 10, 39, 50], (32, 24), workers=2), key=lambda c: c[0])
    assert [(f, p) for f, _i, p in parallel] == [(f, p) for f, _i, p in got]
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(parallel[:3], got[:3], strict=True))
    assert [(frame, problem) for frame, _image, problem in got] == [
        (3, None),
        (10, None),
        (39, None),
        (50, "no frame at this point of the clip"),
    ]
    for frame, image, _problem in got[:3]:
        assert image.shape == (24, 32, 3) and abs(int(image[12, 16, 0]) - (16 + 5 * frame)) <= 2


def test_params_model_is_the_one_the_tool_receives(ramp_clip, tmp_path):
    record = run_sheet(ramp_clip, tmp_path / "w", columns="2", rows=1, thumb_width=64)
    assert record.params == ContactSheetParams(columns=2, rows=1, thumb_width=64)


# --- conformance: the generated matrix (each frame shows its number as bars) -----------------------------

MATRIX = ("rot90.mp4", "rot270.mp4", "anamorphic_16x11.mp4", "avi_packed.avi", "vfr.mkv", "vfr.mp4", "r2997df.mov")


@pytest.mark.parametrize("name", MATRIX)
def test_cells_show_the_frames_they_name_in_display_geometry(matrix, name, tmp_path):
    spec, path = matrix[name]
    record = run_sheet(path, tmp_path / "w", columns=4, rows=3, thumb_width=96, timecodes=False)
    report = record.result.report
    timeline = media_matrix.timeline(spec)
    clip = report["clip"]
    assert (clip["display_width"], clip["display_height"]) == spec.display_size
    assert (clip["frame_rate"], clip["frame_count"], clip["rotation"]) == (spec.rate, len(timeline), spec.rotation)
    # Cells keep the shape a viewer sees: rotated clips stand upright, anamorphic ones are unsqueezed.
    width, height = spec.display_size
    assert report["sheet"]["thumb_height"] == round(96 * height / width)
    image = np.asarray(sheet_image(record).convert("RGB"))
    rate = Fraction(spec.rate)
    for cell in report["frames"]:
        assert cell["decoded"], cell
        assert cell["frame"] == min(len(timeline) - 1, int(len(timeline) * (cell["index"] + 0.5) / 12))
        assert cell["time"] == pytest.approx(float(cell["frame"] / rate), abs=1e-6)
        pixels = image[cell["y"] : cell["y"] + cell["height"], cell["x"] : cell["x"] + cell["width"]]
        shown = media_matrix.read_bars(np.rot90(pixels, k=spec.rotation // 90))  # turned back to the stored bars
        assert shown == timeline[cell["frame"]], cell
    assert ("variable frame rate" in " ".join(report["notes"])) is spec.variable
    assert report["warnings"] == report["notes"]  # every frame decoded: the notes are the warnings


def test_labels_are_timecode_at_the_true_rate_from_the_start_timecode(matrix, tmp_path):
    spec, path = matrix["r2997df.mov"]  # 29.97 drop-frame, starting at 01:00:00;00
    record = run_sheet(path, tmp_path / "w", columns=2, rows=1, thumb_width=96)
    assert [(f["frame"], f["timecode"]) for f in record.result.report["frames"]] == [(15, "01:00:00;15"), (45, "01:00:01;15")]
    spec, path = matrix["avi_packed.avi"]  # the header says 50 fps; the frames are 25 fps
    record = run_sheet(path, tmp_path / "w2", columns=2, rows=1, thumb_width=96)
    assert [(f["frame"], f["timecode"]) for f in record.result.report["frames"]] == [(12, "00:00:00:12"), (37, "00:00:01:12")]
    assert record.result.report["clip"]["fps"] == 25.0


# --- real footage ----------------------------------------------------------------------------------------


@pytest.mark.real_media
@pytest.mark.parametrize(
    "name",
    [
        "A16",  # AVI at 10 fps, 795 frames
        "A14",  # 720x478 at 8:9 pixels (PAL DVD): shown 638x478
        "A04",  # variable frame rate Matroska
        "A09",  # GoPro at 29.97 with a start timecode of 19:26:48:04
    ],
)
def test_contact_sheet_on_real_footage(name, tmp_path):
    entry = real_media.entry(name)
    record = run_sheet(entry["path"], tmp_path / "w", name=entry["name"], columns=4, rows=4, thumb_width=160)
    report = record.result.report
    clip = report["clip"]
    info = probe(entry["path"])
    video = info.video
    assert clip["frame_count"] == video.timeline_frame_count
    assert clip["start_timecode"] == (entry["start_timecode"][0] if entry["start_timecode"] else None)
    assert clip["variable_frame_rate"] is entry["frame_rate_counted"]["variable_frame_rate"]
    assert (clip["display_width"], clip["display_height"]) == (video.display_width, video.display_height)
    assert report["sheet"]["thumb_height"] == round(160 * video.display_height / video.display_width)
    assert all(f["decoded"] for f in report["frames"]) and record.result.metrics["frames_missing"] == 0

    # Labels count from the clip's own start timecode at its true rate.
    def frames(label: str) -> int:  # drop-frame only when written with ';' (GoPro's 29.97 is non-drop)
        return timecode_to_frames(label, video.frame_rate, drop_frame=";" in label)

    start = frames(clip["first_frame_timecode"])
    for cell in report["frames"]:
        assert frames(cell["timecode"]) == start + cell["frame"], cell
    # Each cell is the frame its label names: the same picture as that frame read on its own.
    image = np.asarray(sheet_image(record).convert("RGB")).astype(int)
    for cell in report["frames"][::5]:
        alone = reader.read_frame(entry["path"], info, cell["frame"], size=(cell["width"], cell["height"]), pix_fmt="rgb24")
        shown = image[cell["y"] : cell["y"] + cell["height"], cell["x"] : cell["x"] + cell["width"]]
        assert np.abs(shown - alone.image.astype(int)).mean() < 2.0, cell


@pytest.mark.real_media
def test_gopro_sheet_counts_from_the_cameras_start_timecode(tmp_path):
    entry = real_media.entry("A09")
    record = run_sheet(entry["path"], tmp_path / "w", name=entry["name"], columns=4, rows=4, thumb_width=96)
    report = record.result.report
    assert report["clip"]["first_frame_timecode"] == "19:26:48:04"  # the camera's tmcd, frame 0
    first = report["frames"][0]
    assert (first["frame"], first["timecode"]) == (11, "19:26:48:15")  # 362 frames: the first cell is frame 11
