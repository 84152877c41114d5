"""Every tool on every video file it accepts: no crash, and outputs that keep the source's truth.

Tools: every tool of the registry that takes video (contact sheet, continuity, crowd, recap), run
through the driver the command line and the portal use (`run_tool`), with the cheapest parameters that
still go through each tool's whole path. Files: the generated conformance matrix (media_matrix.SPECS:
rates from 23.976 to 59.94, variable rate, a packed AVI that claims twice its rate, rotation, non-square
pixels, interlaced, audio layouts, 10-bit ProRes) and, marked `real_media`, the real footage.

What a user would notice is asserted: video outputs (crowd comp, proxy, layer and matte; the recap)
probed with the media probe have the true frame rate (the recap: the rate its report says it renders
at, its first episode's), the crowd's the plate's whole constant-rate timeline, and all of them square
pixels, no rotation flag and the display geometry (a rot90 source gives portrait outputs, a 16:11
anamorphic one outputs at its display aspect). Image outputs (contact sheet cells, continuity
pictures) show the named frame at its display aspect: on the matrix the bar-coded frame numbers are
read back from the outputs, turned back by the source's rotation, so a picture upside down, sideways
or of another frame fails, not only a wrong size.

The crowd tool copies the plate's own people, so the bar pictures give it nothing to copy (it refuses
them: "no people were found" / "none could be followed", its documented input). It runs on plates of
every matrix spec that show walking people instead (same encoder, rate, rotation, pixel aspect, frame
drops, field order and audio as the spec, made once per module). Real footage: the crowd tool is
covered by the matrix and by test_crowd_media.py's real AVI plate only (a real plate costs 10-30 s and
most of these files are not locked-off plates: the tool refuses them, as it documents).
"""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from studio_tools.core import BadInput, ToolInput, run_tool
from studio_tools.crowd.synthetic import make_scene
from studio_tools.media import probe, reader
from tests import real_media
from tests.studio_tools import media_matrix

NAMES = [spec.name for spec in media_matrix.SPECS]

SHEET = {"columns": 2, "rows": 2, "thumb_width": 64}
CONTINUITY = {"analysis_width": 320, "edge_frames": 1, "keyframes": 0}
# The recap's shortest target is 30 s; a clip shorter than that gives a recap as long as its moments.
RECAP = {
    "target_seconds": 30,
    "narration": False,
    "temp_vo": False,
    "reuse_analysis": False,  # no cache outside the test's folders; every run analyses its episode
    "min_clip_seconds": 0.5,
    "max_clip_seconds": 2.0,
    "crossfade_seconds": 0.25,
}
CROWD_REGION = [[0.1, 0.5], [0.9, 0.5], [0.9, 1.0], [0.1, 1.0]]  # copies go low; the top rows stay the plate's
# the generated walkers are not people to the pose model: no completeness gate
CROWD = {"density": 1.5, "seed": 1, "person_check": "off", "completeness": "off", "region": CROWD_REGION}
CROWD_OUTPUTS = ("comp.mov", "comp.proxy.mp4", "layer.mov", "matte.mov")
# One line inside the shortest clip of the matrix (1 s): a moment that holds it whole can always be cut.
CUE = "1\n00:00:00,200 --> 00:00:00,900\nHello there.\n"


def footage(path: Path, slot: str | None = None) -> ToolInput:
    return ToolInput(path, "plate" if slot == "plate" else "footage", slot, {"original_name": path.name})


def subtitles(folder: Path) -> Path:
    path = folder / "cues.srt"
    if not path.exists():
        path.write_text(CUE)
    return path


def assert_square_display(video, width: int, height: int, name: str, *, exact: bool = True) -> None:
    """Square pixels, no rotation flag, `width` x `height` (to the pixel an even size rounds to), or with
    exact=False the same aspect at any size (a proxy may be smaller)."""
    assert (video.rotation, video.pixel_aspect) == (0, "1:1"), name
    if exact:
        assert abs(video.display_width - width) <= 1 and abs(video.display_height - height) <= 1, (
            name,
            (video.display_width, video.display_height),
            (width, height),
        )
    else:
        # the same shape, to a pixel of rounding on either side
        assert abs(video.display_width * height - video.display_height * width) <= width + height, name


def upright_number(image: np.ndarray, spec: media_matrix.Spec) -> int:
    """The frame number a display-oriented picture of a matrix file shows (turned back to the bars)."""
    return media_matrix.read_bars(np.rot90(image, k=spec.rotation // 90))


def find(picture: np.ndarray, template: np.ndarray) -> tuple[float, tuple[int, int]]:
    """Where `template` sits in `picture` (RGB): (mean absolute difference there, top-left x, y)."""
    scores = cv2.matchTemplate(picture.astype(np.float32), template.astype(np.float32), cv2.TM_SQDIFF)
    _low, _high, (x, y), _ = cv2.minMaxLoc(scores)
    h, w = template.shape[:2]
    return float(np.abs(picture[y : y + h, x : x + w].astype(int) - template.astype(int)).mean()), (x, y)


# --- contact sheet ------------------------------------------------------------------------------------


def run_sheet(path: Path, workdir: Path):
    record = run_tool("contactsheet", [footage(path)], SHEET, workdir)
    info = probe(path)
    video = info.video
    sheet = np.asarray(Image.open(record.out_dir / "contactsheet.png").convert("RGB"))
    cells = record.result.report["frames"]
    assert len(cells) == 4 and all(c["decoded"] for c in cells)
    for cell in cells:
        # the cell has the display aspect: its height is the width times display height / display width
        assert cell["height"] == round(cell["width"] * video.display_height / video.display_width), cell
    return record, info, sheet, cells


def cell_pixels(sheet: np.ndarray, cell: dict) -> np.ndarray:
    return sheet[cell["y"] : cell["y"] + cell["height"], cell["x"] : cell["x"] + cell["width"]]


@pytest.mark.parametrize("name", NAMES)
def test_contact_sheet_on_every_matrix_file(matrix, name, tmp_path):
    spec, path = matrix[name]
    _record, _info, sheet, cells = run_sheet(path, tmp_path / "run")
    timeline = media_matrix.timeline(spec)
    assert [upright_number(cell_pixels(sheet, c), spec) for c in cells] == [timeline[c["frame"]] for c in cells]


@pytest.mark.real_media
@pytest.mark.parametrize("name", real_media.video_names())
def test_contact_sheet_on_real_footage(name, tmp_path):
    path = real_media.entry(name)["path"]
    _record, info, sheet, cells = run_sheet(path, tmp_path / "run")
    last = cells[-1]  # the last cell is the one nearest the end of the file, where a wrong count shows first
    expected = reader.read_frame(path, info, last["frame"], size=(last["width"], last["height"]), pix_fmt="rgb24").image
    assert np.abs(cell_pixels(sheet, last).astype(int) - expected.astype(int)).mean() < 3.0


# --- continuity ---------------------------------------------------------------------------------------


def run_continuity(paths: tuple[Path, Path], workdir: Path):
    """Two shots in cut order; the pair picture must show the outgoing shot's last frame and the incoming
    shot's first frame, each at its display aspect, as the frame reader gives them upright."""
    record = run_tool("continuity", [footage(p) for p in paths], CONTINUITY, workdir)
    report = record.result.report
    (pair,) = report["pairs"]
    picture = np.asarray(Image.open(record.out_dir / pair["image"]).convert("RGB"))
    found = []
    for shot, role in zip(report["shots"], ("outgoing", "incoming"), strict=True):
        info = probe(paths[shot["order"]])
        width, height = shot["analysis_size"]
        assert width / height == pytest.approx(info.video.display_width / info.video.display_height, abs=2 / height), shot
        frame = pair[role]["frame"]
        expected = reader.read_frame(paths[shot["order"]], info, frame, size=(width, height), pix_fmt="rgb24").image
        difference, (x, y) = find(picture, expected)
        assert difference < 12.0, (role, shot["name"], frame, difference)  # the boxes of findings are drawn over it
        found.append((frame, picture[y : y + height, x : x + width]))
    return record, found


def _pairs(names: list[str]) -> list[tuple[str, str]]:
    """Consecutive names two by two (the last with the first when the count is odd): each file is a shot
    once, beside a file of another geometry or rate."""
    padded = names + names[:1] if len(names) % 2 else names
    return list(zip(padded[0::2], padded[1::2], strict=True))


def _ids(pairs: list[tuple[str, str]]) -> list[str]:
    return [f"{a}+{b}" for a, b in pairs]


@pytest.mark.parametrize(("first", "second"), _pairs(NAMES), ids=_ids(_pairs(NAMES)))
def test_continuity_on_every_matrix_file(matrix, first, second, tmp_path):
    specs = (matrix[first][0], matrix[second][0])
    _record, found = run_continuity((matrix[first][1], matrix[second][1]), tmp_path / "run")
    for spec, (frame, pixels) in zip(specs, found, strict=True):
        assert upright_number(pixels, spec) == media_matrix.timeline(spec)[frame], spec.name


@pytest.mark.real_media
@pytest.mark.parametrize(("first", "second"), _pairs(real_media.video_names()), ids=_ids(_pairs(real_media.video_names())))
def test_continuity_on_real_footage(first, second, tmp_path):
    run_continuity((real_media.entry(first)["path"], real_media.entry(second)["path"]), tmp_path / "run")


# --- recap --------------------------------------------------------------------------------------------


def run_recap(video: Path, srt: Path, workdir: Path, **params):
    """The recap of one episode: recap.mp4 at the rate the report says it renders at (the episode's true
    rate; a variable-rate episode's nominal rate), as many frames as the report's selection, at the
    episode's display geometry with square pixels."""
    record = run_tool("recap", [footage(video), ToolInput(srt, "subtitles")], {**RECAP, **params}, workdir)
    report = record.result.report
    source = probe(video).video
    out = probe(record.out_dir / "recap.mp4").video
    assert report["render"]["frame_rate"] == source.frame_rate
    assert out.frame_rate == report["render"]["frame_rate"] and not out.variable_frame_rate
    assert out.frame_count == report["selection"]["frames"]
    assert out.duration == pytest.approx(out.frame_count / Fraction(out.frame_rate), abs=1e-3)
    assert_square_display(out, source.display_width, source.display_height, video.name)
    assert report["render"]["width"] == out.display_width and report["render"]["height"] == out.display_height
    return record, out


@pytest.mark.parametrize("name", NAMES)
def test_recap_on_every_matrix_file(matrix, name, tmp_path):
    spec, path = matrix[name]
    record, out = run_recap(path, subtitles(tmp_path), tmp_path / "run")
    # The recap's first frame is its first moment's first frame, upright.
    start = record.result.report["moments"][0]["start"]
    first = reader.read_frame(record.out_dir / "recap.mp4", probe(record.out_dir / "recap.mp4"), 0).image
    assert upright_number(first, spec) == media_matrix.timeline(spec)[round(start * Fraction(spec.rate))]
    if len(record.result.report["moments"]) == 1:
        # One moment: every frame of the recap is the next frame of the source, the last one included
        # (an AVI's last frame carries no time and was once dropped, its first ones smeared by a seek).
        recap = record.out_dir / "recap.mp4"
        shown = [upright_number(f.image, spec) for f in reader.read_frames(recap, probe(recap))]
        begin = round(start * Fraction(spec.rate))
        assert shown == media_matrix.timeline(spec)[begin : begin + len(shown)]


# One file of each kind there is; the rest are the same container, codec and rate class (six more
# Intel sign-language Matroska clips, a second MP4 at 10 fps, a second GoPro file, the two 1440x1074
# Popeye episodes, which test_recap_media_truth.py recaps with their subtitles) and are left to the contact sheet and
# continuity tests above, to keep this file within its CI budget.
RECAP_REAL = (
    "A04",  # variable frame rate Matroska, full-range (yuvj420p) H.264
    "A09",  # GoPro MP4 with sound, 29.97
    "A11",  # 24 fps with cuts
    "A14",  # HEVC 720x478 with 8:9 pixels, displayed 640x478
    "A16",  # 10 fps AVI
)


@pytest.mark.real_media
@pytest.mark.parametrize("prefix", RECAP_REAL)
def test_recap_on_real_footage(prefix, tmp_path):
    (entry,) = [e for e in real_media.entries() if e["name"].startswith(prefix)]
    pairs = [e for e in real_media.entries(videos_only=False) if e.get("pairs_with") == entry["name"]]
    srt = pairs[0]["path"] if pairs else subtitles(tmp_path)
    # Nothing after 5 s is used (the spoiler boundary): a short render, the whole episode still analysed.
    params = {"spoiler_episode": 1, "spoiler_timecode": "5", "max_clip_seconds": 5.0}
    _record, out = run_recap(entry["path"], srt, tmp_path / "run", **params)
    assert 0 < out.frame_count <= math.ceil(5 * Fraction(out.frame_rate))


# --- crowd --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def plates(tmp_path_factory) -> dict[str, tuple[media_matrix.Spec, Path]]:
    """A plate with walking people for every matrix spec, encoded as the spec says, at least 2 s long
    (the tool needs twice 0.8 s of frames to follow a person)."""
    folder = tmp_path_factory.mktemp("crowd-plates")
    made = {}
    for spec in media_matrix.SPECS:
        rate = Fraction(spec.rate)
        plate = dataclasses.replace(spec, frames=max(spec.frames, math.ceil(2 * rate)))
        width, height = plate.display_size
        scene = make_scene(
            width, height, seconds=plate.frames / float(rate), fps=round(rate), walkers=3, seed=3, person_scale=0.35
        )
        made[spec.name] = (
            plate,
            media_matrix.make(plate, folder, lambda n, s=scene, p=plate: media_matrix.stored(s.render(n)[0], p)),
        )
    return made


@pytest.mark.parametrize("name", NAMES)
def test_crowd_on_a_plate_of_every_matrix_kind(plates, name, tmp_path):
    spec, path = plates[name]
    info = probe(path)
    truth = info.video
    assert truth.timeline_frame_count == len(media_matrix.timeline(spec))
    record = run_tool("crowd", [footage(path, "plate")], CROWD, tmp_path / "run")
    assert record.result.metrics["frames"] == truth.timeline_frame_count
    for output in CROWD_OUTPUTS:
        out = probe(record.out_dir / output).video
        assert out.frame_rate == truth.frame_rate and not out.variable_frame_rate, output
        assert out.frame_count == truth.timeline_frame_count, output
        assert out.duration == pytest.approx(truth.timeline_frame_count / Fraction(truth.frame_rate), abs=1e-3), output
        assert_square_display(out, truth.display_width, truth.display_height, output, exact=output != "comp.proxy.mp4")
    # Above the region the comp is the plate as a viewer sees it (upright, unsqueezed), frame for frame.
    comp = record.out_dir / "comp.mov"
    comp_info = probe(comp)
    for index in (0, truth.timeline_frame_count - 1):
        plate_frame = reader.read_frame(path, info, index).image
        comp_frame = reader.read_frame(comp, comp_info, index).image
        top = slice(0, truth.display_height // 4)
        difference = np.abs(comp_frame[top].astype(int) - plate_frame[top].astype(int)).mean()
        assert difference < 4.0, (index, difference)


def test_crowd_refuses_the_bar_pictures_for_their_content_not_their_format(matrix, tmp_path):
    """The bar-coded files hold no people: a clear refusal about the content, never a crash."""
    _spec, path = matrix["r25.mkv"]
    with pytest.raises(BadInput, match="people"):
        run_tool("crowd", [footage(path, "plate")], CROWD, tmp_path / "run")
