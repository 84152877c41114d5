"""The crowd tool's outputs keep the plate's true rate, frame count, duration and display geometry.

Plates whose headers lie (an AVI with packed B-frames claiming 50 fps for 25 fps frames) or whose
pictures are stored turned (rotation metadata) are generated here; the real footage is a 10 fps AVI.
Outputs are probed with the media probe and decoded with the media reader, so a comp that plays at
double speed, is shorter than its plate or comes out sideways fails.
"""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from studio_tools.core import ToolInput, run_tool
from studio_tools.crowd.synthetic import Scene, make_scene
from studio_tools.media import probe, reader
from tests import real_media

REGION = [[0.1, 0.5], [0.9, 0.5], [0.9, 1.0], [0.1, 1.0]]
PARAMS = {"density": 2, "seed": 7, "region": REGION, "person_check": "off"}
OUTPUTS = ("comp.mov", "comp.proxy.mp4", "layer.mov", "matte.mov")


def crowd(plate: Path, workdir: Path, **params):
    # the generated figures are blocks and discs the pose model does not take for people: no completeness gate
    params = {"completeness": "off", **params}
    return run_tool("crowd", [ToolInput(plate, "plate", "plate", {"original_name": plate.name})], params, workdir)


def encode(frames, path: Path, rate: int, codec: list[str], remux: list[str] | None = None) -> Path:
    """Raw BGR frames to a file with ffmpeg (optionally stream-copied again with `remux` options)."""
    height, width = frames[0].shape[:2]
    first = path.with_name("pass1_" + path.name) if remux else path
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24",
         "-s", f"{width}x{height}", "-framerate", str(rate), "-i", "pipe:", *codec, str(first)],
        input=b"".join(np.ascontiguousarray(f).tobytes() for f in frames),
        check=True,
    )  # fmt: skip
    if remux:
        subprocess.run(
            ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(first), "-c", "copy", *remux, str(path)], check=True
        )
        first.unlink()
    return path


def rendered(scene: Scene) -> list[np.ndarray]:
    return [scene.render(t)[0] for t in range(scene.frames)]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def outside(region, width: int, height: int) -> np.ndarray:
    """Rows of the picture above the region (the region is the lower half, inset)."""
    top = int(min(y for _x, y in region) * height)
    return np.s_[: max(1, top - 2), :]


def assert_keeps_the_plates_timing(record, plate: Path) -> None:
    truth = probe(plate).video
    for name in OUTPUTS:
        out = probe(record.out_dir / name).video
        assert out.frame_rate == truth.frame_rate, name
        assert out.frame_count == truth.timeline_frame_count, name
        assert out.duration == pytest.approx(truth.timeline_frame_count / Fraction(truth.frame_rate), abs=1e-3), name
        if name != "comp.proxy.mp4":
            assert (out.display_width, out.display_height) == (truth.display_width, truth.display_height), name
            assert (out.rotation, out.pixel_aspect) == (0, "1:1"), name
    assert record.result.metrics["frames"] == truth.timeline_frame_count


@pytest.fixture(scope="module")
def scene():
    return make_scene(320, 180, seconds=3.0, walkers=5, seed=1, person_scale=0.32)


def test_a_packed_avi_that_claims_50_fps_gives_a_25_fps_comp_as_long_as_the_plate(scene, tmp_path):
    # as the conformance matrix's avi_packed.avi: MPEG-4 with B-frames packed into an AVI, timed in 1/50 s
    plate = encode(
        rendered(scene), tmp_path / "packed.avi", scene.fps, ["-c:v", "mpeg4", "-bf", "2", "-q:v", "2", "-enc_time_base", "1/50"]
    )
    info = probe(plate)
    assert (info.video.frame_rate, info.video.header_frame_rate, info.video.frame_count) == ("25/1", "50/1", scene.frames)
    record = crowd(plate, tmp_path / "run", **PARAMS)
    assert_keeps_the_plates_timing(record, plate)
    comp = probe(record.out_dir / "comp.mov")
    assert (comp.video.frame_count, comp.video.duration) == (75, pytest.approx(3.0, abs=1e-3))
    # frame t of the comp is frame t of the plate (no frame doubled or skipped): above the region they are the same picture
    plate_frames = [f.image for f in reader.read_frames(plate, info)]
    comp_frames = [f.image for f in reader.read_frames(record.out_dir / "comp.mov", comp)]
    keep = outside(REGION, 320, 180)
    for t in range(scene.frames):
        same = psnr(comp_frames[t][keep], plate_frames[t][keep])
        others = [psnr(comp_frames[t][keep], plate_frames[u][keep]) for u in (t - 1, t + 1) if 0 <= u < scene.frames]
        assert same > 40 and all(same > o + 3 for o in others), (t, same, others)


def test_a_rotated_plate_comes_out_upright(scene, tmp_path):
    # a shot stored on its side (turned 90 degrees counterclockwise, as a phone held the other way stores it) with
    # metadata telling players to turn it back
    truth = rendered(scene)
    plate = encode(
        [np.rot90(f, k=1) for f in truth],
        tmp_path / "turned.mp4",
        scene.fps,
        ["-c:v", "libx264", "-preset", "veryfast", "-crf", "10", "-pix_fmt", "yuv420p"],
        remux=["-metadata:s:v:0", "rotate=270"],
    )
    info = probe(plate)
    assert (info.video.width, info.video.height, info.video.rotation) == (180, 320, 90)
    record = crowd(plate, tmp_path / "run", **PARAMS)
    assert_keeps_the_plates_timing(record, plate)
    comp = probe(record.out_dir / "comp.mov")
    assert (comp.video.width, comp.video.height) == (320, 180)
    frames = [f.image for f in reader.read_frames(record.out_dir / "comp.mov", comp)]
    keep = outside(REGION, 320, 180)
    for t in (0, len(truth) // 2, len(truth) - 1):
        assert psnr(frames[t][keep], truth[t][keep]) > 35, t  # upright, where no copy is drawn: the plate as shot


def test_a_variable_rate_plate_gives_a_constant_rate_comp_as_long_as_the_plate(scene, tmp_path):
    # frames left out, as a phone drops them under load: the gaps are filled by repeating the frame before
    dropped = {7, 8, 20, 31, 32, 33, 45}
    keep = "+".join(f"eq(n\\,{n})" for n in sorted(dropped))
    plate = encode(
        rendered(scene),
        tmp_path / "vfr.mkv",
        scene.fps,
        ["-vf", f"select=not({keep})", "-fps_mode", "vfr", "-c:v", "libx264", "-crf", "10", "-pix_fmt", "yuv420p"],
    )
    info = probe(plate)
    assert info.video.variable_frame_rate and info.video.frame_count == scene.frames - len(dropped)
    record = crowd(plate, tmp_path / "run", **PARAMS)
    assert_keeps_the_plates_timing(record, plate)
    comp = probe(record.out_dir / "comp.mov").video
    assert (comp.frame_count, comp.variable_frame_rate, comp.duration) == (75, False, pytest.approx(3.0, abs=1e-3))


@pytest.mark.real_media
def test_real_10_fps_avi_plate_keeps_its_rate_and_length(tmp_path):
    entry = real_media.entry("A16")
    plate = entry["path"]
    info = probe(plate)
    assert (info.video.frame_rate, info.video.frame_count) == ("10/1", entry["frame_rate_counted"]["decoded_frames"])
    record = crowd(plate, tmp_path / "run", density=1.5, seed=1, person_check="off")
    assert_keeps_the_plates_timing(record, plate)
    comp = probe(record.out_dir / "comp.mov")
    assert (comp.video.frame_rate, comp.video.frame_count) == ("10/1", 795)
    assert comp.video.duration == pytest.approx(79.5, abs=1e-3)
    assert (comp.video.display_width, comp.video.display_height) == (480, 360)
