"""The crowd tool on generated plates: textured background, walkers of known count and known mattes.

Quality checks follow the issue: the people counted by the tool's own segmenter double at density 2
(within 20 %), pixels outside the region are unchanged (PSNR >= 45 dB), no copy overlaps an original
person in any frame, the region does not flicker more than the plate does, the same seed gives the
same bytes, and unusable inputs are BadInput with a message a user can act on.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from studio_tools.core import BadInput, BadParams, CallbackProgress, Cancelled, OutputKind, ToolFailed, ToolInput, get, run_tool
from studio_tools.crowd import TOOL, CrowdParams, CrowdSource, PlatePeopleSource
from studio_tools.crowd.analysis import Perspective, detector_confirms, find_people, fit_perspective
from studio_tools.crowd.colour import Yuv, YuvFrame
from studio_tools.crowd.composite import Compositor
from studio_tools.crowd.placement import (
    EDGE_OUT,
    Loop,
    Placement,
    Region,
    _coarsen,
    _meets,
    copy_boxes,
    edges_kept,
    out_of_view,
    plan,
    plan_loop,
    pops,
    spaced,
    through_edge,
)
from studio_tools.crowd.source import SourceTube, Sprite
from studio_tools.crowd.synthetic import Walker, make_scene, textured_background, write_scene
from studio_tools.crowd.tool import count_people, plate_background

SCENE = {"width": 320, "height": 180, "seconds": 3.0, "walkers": 5, "seed": 1, "person_scale": 0.32}
REGION = [[0.1, 0.5], [0.9, 0.5], [0.9, 1.0], [0.1, 1.0]]  # the example: the lower half, inset
PARAMS = {"density": 2, "seed": 7, "region": REGION}


# --- helpers ----------------------------------------------------------------------------------------


def decode(path: Path, pix_fmt: str = "bgr24") -> np.ndarray:
    """All frames of a clip as (n, h, w[, c]) uint8, through plain ffmpeg (independent of the tool's reader)."""
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height", "-of", "json", str(path)],
        capture_output=True,
        check=True,
        text=True,
    )
    stream = json.loads(probe.stdout)["streams"][0]
    w, h = stream["width"], stream["height"]
    raw = subprocess.run(
        # accurate rounding: swscale's fast YUV->RGB path reads about 1.3 levels dark
        ["ffmpeg", "-v", "error", "-nostdin", "-i", str(path), "-vf", "scale=flags=accurate_rnd+full_chroma_int",
         "-f", "rawvideo", "-pix_fmt", pix_fmt, "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    channels = {"bgr24": 3, "bgra": 4, "gray": 1}[pix_fmt]
    frames = np.frombuffer(raw, np.uint8).reshape(-1, h, w, channels)
    return frames[..., 0] if channels == 1 else frames


def stream_info(path: Path) -> dict:
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames", "-show_entries",
         "stream=codec_name,profile,pix_fmt,width,height,nb_read_frames", "-of", "json", str(path)],
        capture_output=True, check=True, text=True,
    )  # fmt: skip
    return json.loads(done.stdout)["streams"][0]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def region_mask(polygon, width: int, height: int) -> np.ndarray:
    return Region(polygon, width, height).mask.astype(bool)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def crowd(plate: Path, workdir: Path, progress=None, **params):
    # the generated figures are blocks and discs the pose model does not take for people: no completeness gate
    params = {"completeness": "off", **params}
    return run_tool("crowd", [ToolInput(plate, "plate", "plate", {"original_name": plate.name})], params, workdir, progress)


# --- fixtures ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scene():
    return make_scene(**SCENE)


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    return tmp_path_factory.mktemp("crowd-media")


@pytest.fixture(scope="module")
def plate(scene, media) -> Path:
    return write_scene(scene, media / "plate.mp4")


@pytest.fixture(scope="module")
def main_run(plate, tmp_path_factory):
    return crowd(plate, tmp_path_factory.mktemp("crowd-main"), **PARAMS)


@pytest.fixture(scope="module")
def decoded(main_run, plate):
    out = main_run.out_dir
    layer = decode(out / "layer.mov", "bgra")
    return {
        "plate": decode(plate),
        "plate_y": decode(plate, "gray"),
        "comp": decode(out / "comp.mov"),
        "comp_y": decode(out / "comp.mov", "gray"),
        "layer": layer,
        "alpha": layer[..., 3],
        "matte": decode(out / "matte.mov", "gray"),
    }


# --- the spec and parameters ------------------------------------------------------------------------


def test_spec_is_registered_with_its_slots_and_schema():
    spec = get("crowd").spec
    assert (spec.name, spec.version, spec.uses_external_ai) == ("crowd", "1.0.0", False)
    assert [(s.name, s.min_count, s.max_count) for s in spec.inputs] == [("plate", 1, 1), ("tiles", 0, 8), ("clean_plate", 0, 1)]
    props = spec.params_schema()["properties"]
    assert set(props) == {
        "region", "density", "min_spacing", "perspective", "horizon", "time_offset", "completeness", "mirror",
        "colour_variation", "grain", "subtractor", "person_check", "output_format", "seed",
    }  # fmt: skip
    assert props["density"]["default"] == 2.0 and props["density"]["exclusiveMinimum"] == 1.0
    assert props["output_format"]["enum"] == ["prores", "png"]
    assert CrowdParams().region is None  # whole frame


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"region": [[0.1, 0.1], [0.9, 0.1]]}, "the region needs at least 3 points, got 2"),
        ({"region": [[0.1, 0.1], [1.2, 0.1], [0.5, 0.9]]}, "region point 2 (1.2, 0.1) is outside the frame"),
        ({"region": [[0.1, 0.1], [0.9, 0.9], [0.9, 0.1], [0.1, 0.9]]}, "the region's edges cross each other"),
        ({"region": [[0.1, 0.1], [0.5, 0.5], [0.9, 0.9]]}, "the region has (almost) no area"),
        ({"region": "lower half"}, "bad parameter region"),
        ({"perspective": "horizon"}, "perspective='horizon' needs the horizon parameter"),
        ({"time_offset": [3, 1]}, "time_offset is [min, max] seconds with 0 <= min <= max"),
        ({"density": 1}, "bad parameter density"),
        ({"colour_variation": 2}, "bad parameter colour_variation"),
    ],
)
def test_bad_params_are_refused_with_a_clear_message(params, message):
    with pytest.raises(BadParams) as caught:
        TOOL.spec.parse_params(params)
    assert message in str(caught.value)
    assert isinstance(caught.value, BadInput)


def test_region_and_horizon_parameters_are_accepted():
    parsed = TOOL.spec.parse_cli_params(
        ["region=[[0.1,0.5],[0.9,0.5],[0.9,1.0],[0.1,1.0]]", "perspective=horizon", "horizon=0.3"]
    )
    assert parsed.region == [(0.1, 0.5), (0.9, 0.5), (0.9, 1.0), (0.1, 1.0)]
    assert parsed.horizon == 0.3


# --- one run on the generated plate: outputs and quality --------------------------------------------


def test_outputs_are_the_comp_proxy_layer_and_matte(main_run, scene):
    outputs = {o.name: o for o in main_run.result.outputs}
    assert [(o.name, o.path, o.kind, o.media_type) for o in main_run.result.outputs] == [
        ("comp", "comp.mov", OutputKind.GENERATED, "video/quicktime"),
        ("comp_proxy", "comp.proxy.mp4", OutputKind.GENERATED, "video/mp4"),
        ("layer", "layer.mov", OutputKind.GENERATED, "video/quicktime"),
        ("matte", "matte.mov", OutputKind.GENERATED, "video/quicktime"),
    ]
    info = {name: stream_info(main_run.output_path(o)) for name, o in outputs.items()}
    assert (info["comp"]["codec_name"], info["comp"]["profile"], info["comp"]["pix_fmt"]) == ("prores", "HQ", "yuv422p10le")
    assert (info["comp_proxy"]["codec_name"], info["comp_proxy"]["pix_fmt"]) == ("h264", "yuv420p")
    assert (info["layer"]["codec_name"], info["layer"]["profile"]) == ("prores", "4444")
    assert info["layer"]["pix_fmt"].startswith("yuva444p")  # the decoder reports 4444 as 12-bit, with alpha
    assert (info["matte"]["codec_name"], info["matte"]["profile"]) == ("prores", "HQ")
    for name in outputs:
        assert int(info[name]["nb_read_frames"]) == scene.frames, name
        assert (info[name]["width"], info[name]["height"]) == (scene.width, scene.height), name


def test_report_says_where_the_people_came_from_and_how_to_rebuild(main_run):
    report = main_run.result.report
    json.dumps(report, allow_nan=False)
    assert report["source"] == {
        "name": "plate_people",
        "description": PlatePeopleSource.description,
        "generative": False,
        "model": None,
        "plates": ["plate.mp4"],
    }
    assert (report["model"], report["provider"], report["seed"]) == (None, None, 7)
    assert report["people_in"]["mean_per_frame"] == 5.0
    assert report["target"]["people_to_add"] == 5
    assert report["target"]["placed"] == 5 and report["warnings"] == []
    assert report["background"]["method"] == "temporal_median"
    assert report["perspective"]["model"] == "linear"
    assert report["perspective"]["horizon_y"] == pytest.approx(0.30, abs=0.04)  # the scene's horizon is at 0.30
    tiles = {t["id"]: t for t in report["tiles"]}
    assert sum(len(t["used_by"]) for t in tiles.values()) == len(report["placements"]) == 5
    for p in report["placements"]:
        tile = tiles[p["tile"]]
        assert p["index"] in tile["used_by"]
        assert 0.0 <= p["anchor"][0] <= 1.0 and 0.5 <= p["anchor"][1] <= 1.0
        assert p["time_offset_frames"] == round(p["time_offset_seconds"] * 25)
        assert 0 <= p["time_offset_seconds"] <= 4.0
        assert set(p) >= {"scale", "mirrored", "colour_shift_lab", "grain_sigma_bgr", "as_shot", "first_frame_box"}
        assert all(abs(v) <= 0.3 * 12 + 1e-9 for v in p["colour_shift_lab"])
    assert 0 < tiles[report["placements"][0]["tile"]]["loop_period_frames"] <= 75
    assert report["person_check"]["tubes_checked"] == 5


def test_people_double_counted_by_the_same_segmenter(main_run, plate, tmp_path):
    background = plate_background(plate, tmp_path)
    before = count_people(plate, tmp_path, background=background)
    after = count_people(main_run.out_dir / "comp.mov", tmp_path, background=background)
    assert before.mean() == pytest.approx(5.0, abs=0.1)
    ratio = after.mean() / before.mean()
    print(f"people per frame: in {before.mean():.2f}, out {after.mean():.2f}, ratio {ratio:.3f}")
    assert abs(ratio - 2.0) <= 0.2 * 2.0


def test_pixels_outside_the_region_are_unchanged(decoded, scene):
    outside = ~region_mask(REGION, scene.width, scene.height)
    y_psnr = psnr(decoded["plate_y"][:, outside], decoded["comp_y"][:, outside])
    rgb_psnr = psnr(decoded["plate"][:, outside], decoded["comp"][:, outside])
    print(f"outside the region: PSNR luma {y_psnr:.2f} dB, RGB {rgb_psnr:.2f} dB (ProRes 422 HQ round trip)")
    assert y_psnr >= 45.0
    assert rgb_psnr >= 45.0
    assert decoded["alpha"][:, outside].max() == 0
    assert decoded["matte"][:, outside].max() <= 3  # lossy ProRes luma rings a little near copies by the edge


def test_no_copy_overlaps_an_original_person_in_any_frame(decoded, scene, main_run):
    overlaps = []
    for t in range(scene.frames):
        original = scene.person_masks(t)
        overlaps.append(int(((decoded["alpha"][t] > 12) & original).sum()))
    assert max(overlaps) == 0, overlaps
    assert main_run.result.metrics["holdout_pixels"] == 0
    # and something was added in every frame
    assert all((decoded["alpha"][t] > 128).sum() > 50 for t in range(scene.frames))


def test_a_bt709_plate_keeps_its_colours_and_tags(plate, media, tmp_path, scene):
    hd = media / "plate709.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-y", "-i", str(plate),
         "-vf", "scale=out_color_matrix=bt709:flags=accurate_rnd+full_chroma_int",
         "-c:v", "libx264", "-crf", "10", "-pix_fmt", "yuv420p",
         "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", str(hd)],
        check=True,
    )  # fmt: skip
    record = crowd(hd, tmp_path, **PARAMS)
    for name in ("comp.mov", "comp.proxy.mp4", "layer.mov"):
        done = subprocess.run(
            ["ffprobe", "-v", "error", "-show_entries", "stream=color_space,color_primaries,color_transfer", "-of", "json",
             str(record.out_dir / name)],
            capture_output=True, check=True, text=True,
        )  # fmt: skip
        tags = json.loads(done.stdout)["streams"][0]
        assert (tags["color_space"], tags["color_primaries"], tags["color_transfer"]) == ("bt709",) * 3, name
    outside = ~region_mask(REGION, scene.width, scene.height)
    before, after = decode(hd)[:, outside], decode(record.out_dir / "comp.mov")[:, outside]
    assert psnr(before, after) >= 45.0
    assert abs(float(after.mean()) - float(before.mean())) < 0.2  # no shift of colour or level


def test_layer_and_matte_rebuild_the_comp(decoded):
    alpha = decoded["alpha"].astype(np.float64)[..., None] / 255.0
    rebuilt = decoded["plate"] * (1 - alpha) + decoded["layer"][..., :3] * alpha
    touched = decoded["alpha"] > 0
    assert touched.any()
    assert np.abs(decoded["matte"].astype(int) - decoded["alpha"].astype(int)).max() <= 4
    quality = psnr(rebuilt[touched], decoded["comp"][touched])
    print(f"comp rebuilt from plate, layer and matte where the layer is: PSNR {quality:.2f} dB")
    assert quality >= 38.0


def test_region_flicker_is_bounded(decoded, scene):
    """Copies loop with a crossfade, so the region's brightness steps no more than the plate's own, and the
    still background between people does not shimmer more than it does in the plate."""
    inside = region_mask(REGION, scene.width, scene.height)

    def max_step(frames):
        means = frames[:, inside].astype(np.float64).mean(axis=1)
        return float(np.abs(np.diff(means)).max())

    step_in, step_out = max_step(decoded["plate_y"]), max_step(decoded["comp_y"])
    people = np.stack([scene.person_masks(t) for t in range(scene.frames)]) | (decoded["alpha"] > 0)
    people = np.stack([cv2.dilate(p.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0 for p in people])
    still = inside & ~people[1:] & ~people[:-1]
    shimmer_in = float(np.abs(np.diff(decoded["plate_y"].astype(np.int16), axis=0))[still].mean())
    shimmer_out = float(np.abs(np.diff(decoded["comp_y"].astype(np.int16), axis=0))[still].mean())
    print(f"region luma max step: plate {step_in:.3f}, comp {step_out:.3f}")
    print(f"still background shimmer: plate {shimmer_in:.3f}, comp {shimmer_out:.3f}")
    assert step_out <= step_in + 0.5
    assert shimmer_out <= shimmer_in + 0.5


def test_same_seed_gives_the_same_bytes_and_another_seed_does_not(main_run, plate, tmp_path):
    again = crowd(plate, tmp_path / "again", **PARAMS)
    for output in main_run.result.outputs:
        assert sha256(again.output_path(output)) == sha256(main_run.output_path(output)), output.name
    assert again.result.report == main_run.result.report
    other = crowd(plate, tmp_path / "other", **{**PARAMS, "seed": 8, "output_format": "png", "person_check": "off"})
    assert other.result.report["placements"] != main_run.result.report["placements"]
    assert other.result.report["person_check"] | {"detector": None} == {
        "mode": "off",
        "detector": None,
        "detector_available": True,
        "tubes_checked": 0,
        "tubes_confirmed": 0,
        "ran": False,
        "note": None,
    }
    # the PNG layer: one RGBA frame per plate frame, in a zip, and the same matte format as always
    import zipfile

    (layer,) = [o for o in other.result.outputs if o.name == "layer"]
    assert (layer.path, layer.media_type) == ("layer.zip", "application/zip")
    with zipfile.ZipFile(other.output_path(layer)) as archive:
        names = archive.namelist()
        assert names == [f"layer_{i:06d}.png" for i in range(75)]
        first = cv2.imdecode(np.frombuffer(archive.read(names[10]), np.uint8), cv2.IMREAD_UNCHANGED)
    assert first.shape == (180, 320, 4) and first[..., 3].max() > 200
    matte = decode(other.out_dir / "matte.mov", "gray")
    assert np.abs(matte[10].astype(int) - first[..., 3].astype(int)).max() <= 4


# --- inputs the tool must refuse --------------------------------------------------------------------


def test_a_plate_without_people_is_bad_input(media, tmp_path):
    empty = write_scene(make_scene(**{**SCENE, "walkers": 0}), media / "empty street.mp4")
    with pytest.raises(BadInput, match=r"^no people were found in empty street\.mp4: "):
        crowd(empty, tmp_path)


def test_a_still_image_is_bad_input(scene, media, tmp_path):
    still = write_scene(scene, media / "frame.png", still=True)
    with pytest.raises(BadInput, match=r"^frame\.png is a still image; the crowd tool needs a moving, locked-off plate"):
        crowd(still, tmp_path)


def test_a_text_file_is_bad_input(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("five extras, moved twice\n")
    with pytest.raises(BadInput, match=r"^notes\.txt: "):
        crowd(text, tmp_path / "w")


def test_a_plate_too_short_to_loop_is_bad_input(media, tmp_path):
    short = write_scene(make_scene(**{**SCENE, "seconds": 1.0}), media / "short.mp4")
    with pytest.raises(BadInput, match=r"^short\.mp4 is 25 frames long; the crowd tool needs at least 40 frames"):
        crowd(short, tmp_path)


def test_no_room_in_the_region_is_bad_input(plate, tmp_path):
    tiny = [[0.45, 0.9], [0.55, 0.9], [0.55, 1.0], [0.45, 1.0]]
    with pytest.raises(BadInput, match=r"^no copy fits in the region \(from the \d+ whole people of the plate\): of \d+ tries"):
        crowd(plate, tmp_path, region=tiny)


def test_a_crowded_region_is_filled_as_far_as_it_goes(plate, tmp_path):
    region = [[0.55, 0.55], [0.95, 0.55], [0.95, 1.0], [0.55, 1.0]]
    record = crowd(plate, tmp_path, density=8, seed=3, region=region, subtractor="knn")
    assert record.result.report["segmentation"]["subtractor"] == "knn"
    assert record.result.report["people_in"]["mean_per_frame"] == pytest.approx(5.0, abs=0.05)
    target = record.result.report["target"]
    assert target["people_to_add"] == 35
    assert record.result.metrics["people_added"] == target["placed"] >= 1
    summary = record.result.report["placement_summary"]
    assert summary["asked_per_frame"] == 35 and summary["on_screen_per_frame"] < 0.8 * 35
    assert record.result.report["warnings"] == [
        f"placed {summary['on_screen_per_frame']:.1f} of the 35 people asked for per frame: no more room in the region "
        "without overlaps at this spacing; enlarge the region, lower min_spacing or lower the density"
    ]
    assert record.result.report["summary_lines"][-1] == record.result.report["warnings"][0][0].upper() + (
        record.result.report["warnings"][0][1:] + "."
    )


def test_cancel_stops_the_run(plate, tmp_path):
    def is_cancelled() -> bool:
        return progress.stage == "composite"

    progress = CallbackProgress(lambda update: None, is_cancelled)
    with pytest.raises(Cancelled):
        crowd(plate, tmp_path, progress, **PARAMS)
    assert not (tmp_path / "crowd-scratch").exists()


# --- tiles and a clean plate ------------------------------------------------------------------------


def test_tile_plate_and_clean_plate(scene, media, tmp_path):
    """A second take with the extras moved (to the right) and a clean plate of the same camera."""
    left = make_scene(**{**SCENE, "walkers": 2, "span": (0.0, 0.45)})
    right = make_scene(**{**SCENE, "walkers": 2, "span": (0.55, 1.0)})
    plate_path = write_scene(left, media / "take1.mp4")
    tile_path = write_scene(right, media / "take2.mp4")
    clean_path = media / "clean.png"
    cv2.imwrite(str(clean_path), left.background)
    inputs = [
        ToolInput(plate_path, "plate", "plate", {"original_name": "take1.mp4"}),
        ToolInput(tile_path, "plate", "tiles", {"original_name": "take2.mp4"}),
        ToolInput(clean_path, "still", "clean_plate", {"original_name": "clean.png"}),
    ]
    record = run_tool("crowd", inputs, {"density": 2, "seed": 3, "person_check": "require", "completeness": "off"}, tmp_path)
    report = record.result.report
    assert report["person_check"]["tubes_checked"] == report["person_check"]["tubes_confirmed"] == 4
    assert all(tile["detector_confirmed"] for tile in report["tiles"])
    assert report["background"] == {
        "method": "clean_plate",
        "clean_plate": "clean.png",
        "grain_sigma_bgr": report["background"]["grain_sigma_bgr"],
    }
    assert report["source"]["plates"] == ["take1.mp4", "take2.mp4"]
    assert report["tile_plates"] == ["take2.mp4"]
    tiles = {t["id"]: t for t in report["tiles"]}
    from_tile = [p for p in report["placements"] if tiles[p["tile"]]["plate"] == "take2.mp4"]
    assert from_tile, report["placements"]
    # the classic move: the tile's people where they were filmed, nothing else changed
    assert all(p["as_shot"] and p["scale"] == 1.0 and not p["mirrored"] for p in from_tile)
    assert report["target"]["placed"] == report["target"]["people_to_add"] == 2
    counts = count_people(record.out_dir / "comp.mov", tmp_path, background=cv2.resize(left.background, (320, 180)))
    assert counts.mean() == pytest.approx(4.0, abs=0.4)


def test_a_clean_plate_of_another_set_is_bad_input(plate, media, tmp_path):
    elsewhere = media / "elsewhere.png"
    cv2.imwrite(str(elsewhere), textured_background(320, 180, 54, seed=9))
    inputs = [
        ToolInput(plate, "plate", "plate"),
        ToolInput(elsewhere, "still", "clean_plate", {"original_name": "elsewhere.png"}),
    ]
    with pytest.raises(BadInput, match=r"^the clean plate does not match plate\.mp4 \(typical difference \d+ levels"):
        run_tool("crowd", inputs, {}, tmp_path)


def test_tile_plate_of_another_size_is_bad_input(plate, media, tmp_path):
    other = write_scene(make_scene(**{**SCENE, "width": 160, "height": 90}), media / "small.mp4")
    inputs = [ToolInput(plate, "plate", "plate"), ToolInput(other, "plate", "tiles", {"original_name": "small.mp4"})]
    with pytest.raises(BadInput, match=r"^tile plate small\.mp4 is 160x90 but plate\.mp4 is 320x180"):
        run_tool("crowd", inputs, {}, tmp_path)


# --- the pieces -------------------------------------------------------------------------------------


def test_people_are_found_one_blob_each(scene):
    for t in (0, 30, 60):
        mask = scene.render(t)[1]
        people = find_people((mask >= 128).astype(np.uint8) * 255, t, 6)
        assert len(people) == 5
        assert all(not p.clipped and p.height > p.width for p in people)
    # two people side by side in one blob are split at the thinnest column; a person is about 12 x 40 here
    mask = np.zeros((60, 160), np.uint8)
    for x in (60, 90, 120):
        cv2.rectangle(mask, (x, 10), (x + 11, 50), 255, -1)
    cv2.rectangle(mask, (10, 10), (21, 50), 255, -1)
    cv2.rectangle(mask, (22, 12), (33, 50), 255, -1)
    cv2.rectangle(mask, (40, 30), (43, 50), 255, -1)  # a thin post stays one thing
    found = find_people(mask, 0, 6)
    assert [(p.x0, p.x1) for p in found] == [(10, 22), (22, 34), (40, 44), (60, 72), (90, 102), (120, 132)]


def test_the_person_detector_check():
    """OpenCV's HOG people detector confirms a drawn figure and not bare background."""
    figure = make_scene(640, 360, walkers=1, seed=4, grain=0)
    frame, matte = figure.render(0)
    ys, xs = np.nonzero(matte >= 128)
    assert detector_confirms(frame, (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1))
    background = textured_background(640, 360, 108, 4)
    assert not detector_confirms(background, (300, 150, 340, 260))


def test_require_without_the_detector_is_an_operator_problem(plate, tmp_path, monkeypatch):
    from studio_tools.crowd import analysis

    monkeypatch.setattr(analysis, "detector_available", lambda: False)
    with pytest.raises(ToolFailed, match=r"^person_check=require needs OpenCV's HOG person detector"):
        crowd(plate, tmp_path, person_check="require")


def test_perspective_fit_and_the_horizon():
    horizon, k = 54.0, 0.4
    tubes = [[(y, k * (y - horizon))] * 10 for y in (100.0, 120.0, 150.0, 170.0)]
    fitted = fit_perspective(tubes, 180, "auto", None)
    assert fitted.model == "linear" and fitted.horizon_y == pytest.approx(horizon, abs=0.5)
    assert fitted.scale(100, 150) == pytest.approx((150 - horizon) / (100 - horizon))
    assert fitted.scale(100, 40) is None  # above the horizon
    flat = fit_perspective([[(150.0, 40.0)] * 10, [(152.0, 41.0)] * 10], 180, "auto", None)
    assert flat.model == "constant" and flat.scale(150, 100) == 1.0
    given = fit_perspective([], 180, "horizon", 0.25)
    assert given.scale(90, 135) == pytest.approx((135 - 45) / (90 - 45))
    assert fit_perspective([], 180, "none", None).scale(10, 170) == 1.0


def _tube(boxes, tube_id="t", plate_index=0) -> SourceTube:
    return SourceTube(tube_id, "plate.mp4", plate_index, 0, np.asarray(boxes, np.float64), True)


def test_loops_cut_where_they_come_back_and_walkers_play_once():
    # a pacer: x goes 0..20..0 over 40 frames, tube of 70 frames: loops, cut where it is back at the start
    xs = [20 - abs(20 - (i % 40)) for i in range(70)]
    tube = _tube([[x, 50, x + 10, 80] for x in xs])
    loop = plan_loop(tube)
    assert loop.repeat and loop.period == 40  # back at the start after a there-and-back
    for t in range(120):
        ((k, w),) = loop.shown(t, 13)  # one body at a time, never two dissolved
        assert w == 1.0 and 0 <= k < tube.length
    assert Loop(10, 8).shown(8, 0) == [(0, 1.0)]
    # a walker never comes back: plays its take once, and is off screen before and after it
    walker = _tube([[5 * i, 50, 5 * i + 10, 80] for i in range(30)])
    once = plan_loop(walker)
    assert not once.repeat and once.period == 30
    assert once.shown(-4, 3) == [] and once.shown(0, 3) == [(3, 1.0)] and once.shown(27, 3) == []
    assert list(once.frames(5, 27)) == [27, 28, 29, -1, -1]


def test_plan_places_copies_apart_from_originals_and_each_other():
    frames = 50
    tubes = [
        _tube([[100 + 4 * i, 100, 120 + 4 * i, 160] for i in range(frames)], "a"),  # walking right
        _tube([[500 - 4 * i, 120, 530 - 4 * i, 200] for i in range(frames)], "b"),  # walking left
        _tube([[300, 120, 330, 200]] * frames, "c"),  # standing
    ]
    originals = [
        np.array([[100 + 4 * t, 100, 120 + 4 * t, 160], [500 - 4 * t, 120, 530 - 4 * t, 200]], np.float64) for t in range(frames)
    ]
    perspective = Perspective("none", "constant", 0.0, 1.0, None, "")
    args = dict(wanted=3, spacing=0.2, min_height=10, offsets=(0.0, 1.0), mirror=True, colour_variation=0.5, seed=1)
    result = plan(tubes, originals, frames, 25.0, Region(None, 640, 360), perspective, **args)
    assert len(result.placements) >= 3 and result.mean_on_screen >= 0.8 * 3
    boxes = [copy_boxes(p.tube, p.loop, p.anchor, p.scale, p.mirrored, p.offset, frames) for p in result.placements]
    for i, a in enumerate(boxes):
        assert not _meets(spaced(a, 0.2)[:, None, :], spaced(np.stack(originals), 0.2)).any()
        for b in boxes[i + 1 :]:
            assert not _meets(spaced(a, 0.2), spaced(b, 0.2)).any()
    # no source person more than MAX_REUSE times, and the standing one never twice on screen at once
    by_tube = {}
    for p, box in zip(result.placements, boxes, strict=True):
        by_tube.setdefault(p.tube.id, []).append(box[:, 3] > box[:, 1])
    assert all(len(on) <= 3 for on in by_tube.values())
    assert max(np.sum(by_tube.get("c", [np.zeros(frames, bool)]), axis=0)) <= 1
    again = plan(tubes, originals, frames, 25.0, Region(None, 640, 360), perspective, **args)
    assert [(p.tube.id, p.anchor, p.offset, p.mirrored, p.colour) for p in again.placements] == [
        (p.tube.id, p.anchor, p.offset, p.mirrored, p.colour) for p in result.placements
    ]


def test_copies_played_once_come_and_go_only_out_of_view_or_outside_the_shot():
    """A walker copied once walks in from the frame edge or out to it (or is there at the shot's start or end): it
    never appears or vanishes in view."""
    frames, width, height = 120, 640, 360
    tubes = [
        _tube([[60 + 5 * i, 150, 80 + 5 * i, 210] for i in range(80)], "right"),  # walks right, 80 frames
        _tube([[560 - 4 * i, 170, 584 - 4 * i, 242] for i in range(90)], "left"),  # walks left, 90 frames
    ]
    originals = [np.zeros((0, 4)) for _ in range(frames)]
    perspective = Perspective("none", "constant", 0.0, 1.0, None, "")
    args = dict(wanted=3, spacing=0.2, min_height=10, offsets=(0.0, 1.0), mirror=True, colour_variation=0.0, seed=3)
    result = plan(tubes, originals, frames, 25.0, Region(None, width, height), perspective, **args)
    assert result.mean_on_screen >= 0.8 * 3 and result.rejected_popping > 0
    entering = 0
    for p in result.placements:
        boxes = copy_boxes(p.tube, p.loop, p.anchor, p.scale, p.mirrored, p.offset, frames)
        assert pops(p.loop, boxes, frames, width, height) == 0
        on = np.flatnonzero(boxes[:, 2] > boxes[:, 0])
        for end in (on[0], on[-1]):
            if 0 < end < frames - 1:
                assert out_of_view(boxes[end : end + 1], width, height)[0] >= EDGE_OUT
                entering += 1
    assert entering > 0  # copies do come and go in the shot: at the edge
    # the check itself: a walker that starts in the middle of the frame mid-shot pops
    loop = plan_loop(tubes[0])
    popping = copy_boxes(tubes[0], loop, (320.0, 210.0), 1.0, False, -10, frames)
    assert pops(loop, popping, frames, width, height) >= 1


def test_the_pops_measure_tells_a_copy_appearing_in_view_from_one_walking_in():
    from studio_tools.crowd import measure

    frames, height, width = 12, 120, 160
    alpha = np.zeros((frames, height, width), np.uint8)
    for t in range(2, frames):
        x = -20 + 6 * (t - 2)  # comes on at frame 2 walking in from the left edge: not a pop
        alpha[t, 40:100, max(0, x) : max(0, x + 24)] = 255
    alpha[4:8, 30:90, 110:130] = 255  # on at frame 4 and off after frame 7, in the middle of the picture: two pops
    heights = measure.people.HeightModel(0.0, 60.0, 10, "constant")
    found = measure.measure(alpha, heights, 10)
    assert found.pops == 2 and found.pop_frames == (4, 7)
    assert found.comings_and_goings == 3 and found.pop_share == pytest.approx(2 / 3)


def test_a_person_walking_in_from_the_edge_is_copied_walking_in_from_the_same_edge():
    """The tube keeps the frames where the person is cut by the left edge; a copy shows that cut only on the frame's
    own left edge (its right edge when mirrored), never in the middle of the picture."""
    width, height, frames = 320, 180, 40
    boxes = [[0, 60, 4 + 3 * i, 120] for i in range(5)] + [[3 * i, 60, 3 * i + 20, 120] for i in range(5, 30)]
    edges = np.array([[True, False, False, False]] * 5 + [[False] * 4] * 25)
    tube = SourceTube("w", "plate.mp4", 0, 0, np.asarray(boxes, np.float64), True, edges)
    assert (
        tube.cut[:5].all()
        and not tube.cut[5:].any()
        and tube.reference[0] == pytest.approx(np.mean([3 * i + 10 for i in range(5, 30)]))
    )
    loop = plan_loop(tube)
    assert not loop.repeat  # a walk-in plays once
    for mirrored in (False, True):
        ax, _depth = through_edge(tube, 1.0, mirrored, 0, width)
        shown = loop.frames(frames, -12)  # comes on at output frame 12, still on when the shot ends
        placed = copy_boxes(tube, loop, (ax, 150.0), 1.0, mirrored, -12, frames)
        assert edges_kept(tube, shown, placed, mirrored, width, height)
        assert pops(loop, placed, frames, width, height, tube.cut[np.maximum(shown, 0)] & (shown >= 0)) == 0
        moved = copy_boxes(tube, loop, (ax + (40 if not mirrored else -40), 150.0), 1.0, mirrored, -12, frames)
        assert not edges_kept(tube, shown, moved, mirrored, width, height)  # cut off in the middle of the picture
        early = copy_boxes(tube, loop, (ax, 150.0), 1.0, mirrored, -6, frames)  # its take ends at frame 35, in view
        shown_early = loop.frames(frames, -6)
        assert pops(loop, early, frames, width, height, tube.cut[np.maximum(shown_early, 0)] & (shown_early >= 0)) == 1


def test_a_shortfall_from_copies_only_at_the_shot_ends_is_told_apart():
    from studio_tools.crowd.tool import _ends_only

    assert _ends_only(np.array([2.0] * 25 + [0.0] * 50 + [2.0] * 25))
    assert not _ends_only(np.full(100, 1.0)) and not _ends_only(np.array([0.0] * 25 + [1.0] * 50 + [0.0] * 25))


def test_long_plates_are_checked_on_conservative_unions_of_frames():
    rng = np.random.default_rng(0)
    corner = rng.uniform(0, 100, (6, 1000, 2))
    boxes = np.concatenate([corner, corner + rng.uniform(1, 10, (6, 1000, 2))], axis=-1)
    coarse = _coarsen(boxes, 300)
    assert coarse.shape == (6, 300, 4)
    for i in range(6):
        for j in range(6):
            if _meets(boxes[i], boxes[j]).any():  # never a conflict missed
                assert _meets(coarse[i], coarse[j]).any()


class _OneSprite:
    """A CrowdSource of one person: a 10x20 red block with a soft edge, standing at (100, 100)."""

    name, description, generative = "test", "a red block", False

    def __init__(self):
        alpha = np.zeros((24, 14), np.uint8)
        alpha[2:22, 2:12] = 255
        self._sprite = Sprite(np.full((24, 14, 3), (0, 0, 255), np.uint8), alpha, 93, 80)
        self._tube = _tube([[95, 82, 105, 102]] * 10)

    def tubes(self):
        return [self._tube]

    def prepare(self, tube_ids, progress, check):
        pass

    def sprite(self, tube_id, k):
        return self._sprite

    def report(self):
        return {"name": self.name}


def test_a_new_crowd_source_plugs_in_and_untouched_pixels_stay_exact():
    source = _OneSprite()
    assert isinstance(source, CrowdSource)
    tube = source.tubes()[0]
    placement = Placement(0, tube, (50.0, 150.0), 1.0, True, 0, (0.0, 0.0, 0.0), False, Loop(10, 10, 0))
    compositor = Compositor(source, [placement], Region(None, 200, 200), 200, 200, np.array([1.0, 1.0, 1.0]), True, 5)
    compositor.prepare()
    rng = np.random.default_rng(0)
    plate = YuvFrame.from_buffer(rng.integers(64, 941, 2 * 200 * 200).astype(np.uint16), 200, 200)
    comp, layer, stats = compositor.render(0, YuvFrame.from_buffer(plate.data.copy(), 200, 200))
    touched = layer[..., 3] > 0
    ys, xs = np.nonzero(touched)
    # the block covers source pixels x 95..104, y 82..101, feet at (100, 102): mirrored about them onto (50, 150)
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (45, 54, 130, 149)
    # the plate's own YUV is left exactly as it was wherever no copy is (chroma: per pair of columns)
    assert np.array_equal(comp.y[~touched], plate.y[~touched])
    pairs = touched[:, 0::2] | touched[:, 1::2]
    assert np.array_equal(comp.u[~pairs], plate.u[~pairs]) and np.array_equal(comp.v[~pairs], plate.v[~pairs])
    solid = layer[..., 3] == 255
    assert solid.sum() > 150
    inner = cv2.erode(solid.astype(np.uint8), np.ones((1, 5), np.uint8)) > 0  # away from chroma shared with the noise around
    drawn = np.clip(Yuv().patch_to_bgr(comp, 0, 0, 200, 200)[inner], 0, 255)
    assert np.abs(drawn - [0, 0, 255]).mean(axis=0).max() <= 6  # red, plus grain and a little chroma from the noise around
    assert stats.patches == 1 and stats.holdout_pixels == 0


def test_yuv_conversion_round_trips():
    yuv = Yuv("bt709")
    bgr = np.random.default_rng(1).uniform(0, 255, (16, 16, 3)).astype(np.float32)
    back = yuv.to_bgr(*yuv.from_bgr(bgr))
    assert np.abs(back - bgr).max() < 1e-3
    grey = Yuv().from_bgr(np.full((2, 2, 3), 255.0, np.float32))
    assert [float(c[0, 0]) for c in grey] == pytest.approx([940.0, 512.0, 512.0], abs=1e-3)  # limited range white


def test_the_scene_knows_its_people():
    scene = make_scene(**SCENE)
    assert len(scene.walkers) == 5 and all(isinstance(w, Walker) for w in scene.walkers)
    for t in range(0, scene.frames, 10):
        masks = scene.person_masks(t)
        n, _labels = cv2.connectedComponents(masks.astype(np.uint8))
        assert n - 1 == 5
