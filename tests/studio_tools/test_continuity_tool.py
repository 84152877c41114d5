"""The continuity tool end to end: generated scenes encoded as real clips and stills, run through the
engine (`run_tool`) and the command line (`python -m studio_tools`)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import studio_tools
from studio_tools.continuity import TOOL, ContinuityParams, requests_external_ai
from studio_tools.continuity import synthetic as synth
from studio_tools.core import BadInput, BadParams, CallbackProgress, Cancelled, OutputKind, ToolInput, get, run_tool
from studio_tools.media import probe, reader
from studio_tools.media.timecode import timecode_to_frames
from tests import real_media

REPO = Path(studio_tools.__file__).resolve().parent.parent
FPS = 25
FRAMES = 25  # one-second shots: frame 24 is the last of the outgoing shot


def done_when_scene(seed: int = 42):
    """Two people, a few props; the incoming shot recolours the left person's jacket and loses prop 0
    (inpainted away), with a small camera move between the setups. Returns (outgoing, incoming, truth)."""
    rng = np.random.default_rng(seed)
    scene = synth.make_scene(rng, 480, 270, people=2)
    figure = scene.figures[0]
    recoloured = replace(scene, figures=[replace(figure, jacket=(30, 150, 60)), *scene.figures[1:]])
    camera = synth.camera_move(scene, rng, shift=0.01, degrees=0.3)
    outgoing = synth.render(scene)
    incoming = synth.render(recoloured, camera, hidden=[0])
    truth = {
        "jacket": synth._boxes(scene, figure.part_box("torso"), scene.base_camera(), camera),
        "prop": synth._boxes(scene, scene.props[0].box(), scene.base_camera(), camera),
    }
    return outgoing, incoming, truth, rng


@pytest.fixture(scope="module")
def scene_clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("continuity-clips")
    outgoing, incoming, truth, rng = done_when_scene()
    shot1 = synth.write_clip(folder / "shot1.mp4", synth.shot_frames(outgoing, FRAMES, rng), FPS)
    shot2 = synth.write_clip(folder / "shot2.mp4", synth.shot_frames(incoming, FRAMES, rng), FPS)
    return shot1, shot2, truth


def run(inputs, workdir: Path, progress=None, tool=None, **params):
    items = [ToolInput(path, kind, metadata={"original_name": Path(path).name}) for path, kind in inputs]
    return run_tool(tool or "continuity", items, params, workdir, progress)


def overlap(a: dict, b: dict) -> float:
    return synth.box_overlap(a, b)


def test_spec_and_registration():
    tool = get("continuity")
    assert tool is TOOL
    spec = tool.spec
    assert (spec.name, spec.version, spec.uses_external_ai) == ("continuity", "1.0.0", False)
    (slot,) = spec.inputs
    assert (slot.name, slot.min_count) == ("media", 2)
    assert [k.value for k in slot.kinds] == ["footage", "plate", "still", "reference"]
    props = spec.params_schema()["properties"]
    assert set(props) == {
        "sensitivity",
        "checks",
        "edge_frames",
        "keyframes",
        "analysis_width",
        "external_ai",
        "ai_provider",
        "ai_model",
        "ai_max_pairs",
    }
    assert props["external_ai"]["default"] is False
    assert props["ai_provider"]["x-ai-provider"] is True and props["ai_model"]["x-ai-model"] is True


def test_params_validation_and_policy_question():
    params = TOOL.spec.parse_cli_params(["checks=prop, lighting,prop", "sensitivity=0.8"])
    assert params.checks == ["prop", "lighting"] and params.sensitivity == 0.8
    assert requests_external_ai(params) is False
    assert requests_external_ai(TOOL.spec.parse_params({"external_ai": True})) is True
    assert requests_external_ai({"external_ai": True}) is True
    for bad in ({"checks": "costume,hair"}, {"checks": []}, {"sensitivity": 1.5}, {"ai_model": "Bad Model!"}, {"edge_frames": 0}):
        with pytest.raises(BadParams):
            TOOL.spec.parse_params(bad)
    assert isinstance(TOOL.spec.default_params(), ContinuityParams)


def test_done_when_scene_gives_exactly_the_jacket_and_the_prop(scene_clips, tmp_path):
    shot1, shot2, truth = scene_clips
    record = run([(shot1, "footage"), (shot2, "footage")], tmp_path / "w")
    findings = json.loads(record.output_path(record.result.outputs[0]).read_text())
    assert record.result.outputs[0].name == "findings"
    assert [(f["type"], f["check"]) for f in findings] == [("costume", "torso"), ("prop", "vanished")], findings

    jacket, prop = findings
    for finding, (box_out, box_in) in ((jacket, truth["jacket"]), (prop, truth["prop"])):
        assert finding["source"] == "measured"
        assert (finding["outgoing"]["input"], finding["outgoing"]["frame"]) == (0, FRAMES - 1)
        assert (finding["incoming"]["input"], finding["incoming"]["frame"]) == (1, 0)
        assert finding["outgoing"]["timecode"] == "00:00:00:24" and finding["incoming"]["timecode"] == "00:00:00:00"
        assert finding["outgoing"]["time"] == pytest.approx(24 / 25)
        assert overlap(finding["outgoing"]["box"], box_out) > 0.5, (finding, box_out)
        assert overlap(finding["incoming"]["box"], box_in) > 0.5, (finding, box_in)
        assert finding["at"] == finding["incoming"]
        assert 0.5 < finding["confidence"] <= 1.0
        assert finding["image"] == "pair-01.png"
    assert jacket["measured"]["metric"] == "ciede2000" and jacket["measured"]["value"] > 20
    assert "from red to green" in jacket["explanation"]
    assert prop["measured"]["area_fraction"] > 0.002

    report = record.result.report
    assert report["summary"]["measured_findings"] == 2
    assert [s["frames_looked_at"] for s in report["shots"]] == [[0, 1, 2, 22, 23, 24], [0, 1, 2, 22, 23, 24]]
    (pair,) = report["pairs"]
    assert pair["registration"]["same_place"] is True and pair["findings"] == ["M1", "M2"]
    assert len(pair["people"]["matched"]) == 2
    assert report["second_opinion"]["ran"] is False
    assert "no footage left the machine" in report["second_opinion"]["status"]
    metrics = record.result.metrics
    assert metrics["frames_read"] == 12 and metrics["findings_model"] == 0 and metrics["second_opinions"] == 0

    kinds = {o.name: (o.kind, o.media_type) for o in record.result.outputs}
    assert kinds == {
        "findings": (OutputKind.REPORT, "application/json"),
        "pair-01": (OutputKind.IMAGE, "image/png"),
        "report": (OutputKind.REPORT, "text/html"),
    }
    picture = Image.open(record.out_dir / "pair-01.png")
    assert picture.width == 2 * 480 + 8
    page = (record.out_dir / "report.html").read_text()
    assert "Measured findings (2)" in page and "Second opinion (the model's view of the measured findings)" in page
    assert "<script" not in page and page.count("data:image/jpeg;base64,") == 1


def test_command_line_writes_findings_pictures_report(scene_clips, tmp_path):
    shot1, shot2, _ = scene_clips
    out = tmp_path / "out"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "studio_tools",
            "run",
            "continuity",
            "--input",
            str(shot1),
            "--input",
            str(shot2),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=180,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["findings.json", "pair-01.png", "report.html", "report.json"]
    findings = json.loads((out / "findings.json").read_text())
    assert [(f["type"], f["outgoing"]["frame"], f["incoming"]["frame"]) for f in findings] == [
        ("costume", 24, 0),
        ("prop", 24, 0),
    ]
    report = json.loads((out / "report.json").read_text())
    assert report["tool"] == "continuity" and report["uses_external_ai"] is False
    assert report["params"]["external_ai"] is False
    assert report["report"]["findings"] == findings
    assert [i["name"] for i in report["inputs"]] == ["shot1.mp4", "shot2.mp4"]


def test_stills_lighting_jump_and_checks_param(tmp_path):
    pair = synth.make_pair(77, "exposure")
    a = synth.write_still(tmp_path / "a.png", pair.outgoing)
    b = synth.write_still(tmp_path / "b.png", pair.incoming)
    record = run([(a, "still"), (b, "still")], tmp_path / "w1")
    (finding,) = record.result.report["findings"]
    assert (finding["type"], finding["check"]) == ("lighting", "exposure")
    assert finding["outgoing"] == {"input": 0, "name": "a.png", "frame": 0, "time": None, "timecode": None, "box": None}
    assert finding["measured"]["unit"] == "stops" and abs(finding["measured"]["value"]) > 0.5
    assert finding["measured"]["threshold"] == 0.3  # the threshold is in stops too
    assert record.result.report["pairs"][0]["status"] in ("checked", "partly checked")
    assert "light: compared" in record.result.report["pairs"][0]["why"]
    assert record.result.report["pairs"][0]["light"]["compared"] == "same place (overlap)"

    only_props = run([(a, "still"), (b, "still")], tmp_path / "w2", checks=["prop", "costume"])
    assert only_props.result.report["findings"] == []
    assert only_props.result.report["pairs"][0]["light"] is None


def test_match_back_across_a_reverse_angle(tmp_path):
    """A wide, a reverse that shares nothing with it, the wide again with a prop gone: the cut into the
    reverse cannot be registered, so the third shot is compared with the first."""
    rng = np.random.default_rng(5)
    wide = synth.make_scene(rng, 480, 270, people=1)
    other = synth.make_scene(np.random.default_rng(6), 480, 270, people=0)
    paths = []
    for name, image in (
        ("wide.png", synth.render(wide)),
        ("reverse.png", synth.render(other)),
        ("wide-again.png", synth.render(wide, synth.camera_move(wide, rng, shift=0.01, degrees=0.2), hidden=[1])),
    ):
        paths.append((synth.write_still(tmp_path / name, synth.add_noise(image, rng, 1.2)), "still"))
    record = run(paths, tmp_path / "w")
    pairs = record.result.report["pairs"]
    assert [(p["outgoing"]["input"], p["incoming"]["input"], p["adjacent"]) for p in pairs] == [
        (0, 1, True),
        (1, 2, True),
        (0, 2, False),
    ]
    assert [p["registration"]["same_place"] for p in pairs] == [False, False, True]
    assert [(f["type"], f["check"], f["pair"]) for f in record.result.report["findings"]] == [("prop", "vanished", 2)]
    assert sorted(o.name for o in record.result.outputs) == ["findings", "pair-01", "pair-02", "pair-03", "report"]


def test_reference_still_check(tmp_path):
    rng = np.random.default_rng(11)
    scene = synth.make_scene(rng, 480, 270, people=1)
    figure = scene.figures[0]
    bible = replace(scene, props=[])
    reference = synth.write_still(tmp_path / "anna.png", synth.render(bible))
    shots = []
    for n in range(2):
        # Both shots agree with each other, but the trousers are not the ones in the continuity bible.
        changed = replace(scene, figures=[replace(figure, trousers=(200, 200, 60))])
        cam = synth.camera_move(scene, rng, shift=0.01, degrees=0.2)
        shots.append(synth.write_still(tmp_path / f"shot{n + 1}.png", synth.add_noise(synth.render(changed, cam), rng, 1.2)))
    record = run([(shots[0], "still"), (shots[1], "still"), (reference, "reference")], tmp_path / "w")
    findings = record.result.report["findings"]
    assert [(f["check"], f["reference"]["input"], f["shot"]["input"]) for f in findings] == [
        ("reference_legs", 2, 0),
        ("reference_legs", 2, 1),
    ]
    assert all(f["pair"] is None and f["at"] == f["shot"] and f["image"].startswith("reference-") for f in findings)
    assert record.result.report["references"][0]["person"] is not None
    assert {"reference-01", "reference-02"} <= {o.name for o in record.result.outputs}


def test_bad_inputs_are_the_users_problem(tmp_path, scene_clips):
    shot1, _, _ = scene_clips
    with pytest.raises(BadInput, match="at least two shots"):
        run([(shot1, "footage"), (shot1, "reference")], tmp_path / "w1")
    notes = tmp_path / "notes.mov"
    notes.write_text("call sheet\n" * 50)
    with pytest.raises(BadInput, match=r"^notes\.mov: "):
        run([(shot1, "footage"), (notes, "footage")], tmp_path / "w2")


def test_cancel_stops_the_run(scene_clips, tmp_path):
    shot1, shot2, _ = scene_clips
    seen = []

    def cancelled() -> bool:
        return bool(seen)

    progress = CallbackProgress(lambda update: seen.append(update.stage), cancelled)
    with pytest.raises(Cancelled):
        run([(shot1, "footage"), (shot2, "footage")], tmp_path / "w", progress)
    assert not (tmp_path / "w" / "out" / "findings.json").exists()


def _rotated_clip(folder: Path, name: str, frames) -> Path:
    """A phone-style clip: the pictures stored turned a quarter left, with metadata telling players to
    turn them 90 degrees clockwise, so a viewer sees `frames` as they were made."""
    stored = synth.write_clip(folder / f"stored-{name}", [np.ascontiguousarray(np.rot90(f, k=1)) for f in frames], FPS)
    target = folder / name
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(stored), "-c", "copy"]
        + ["-metadata:s:v:0", "rotate=270", str(target)],
        check=True,
    )
    return target


def test_rotated_shots_are_read_upright_and_drawn_undistorted(tmp_path):
    outgoing, incoming, truth, rng = done_when_scene()
    shot1 = _rotated_clip(tmp_path, "shot1.mp4", synth.shot_frames(outgoing, FRAMES, rng))
    shot2 = _rotated_clip(tmp_path, "shot2.mp4", synth.shot_frames(incoming, FRAMES, rng))
    record = run([(shot1, "footage"), (shot2, "footage")], tmp_path / "w")
    report = record.result.report
    assert [(s["width"], s["height"], s["rotation"]) for s in report["shots"]] == [(270, 480, 90)] * 2
    shown = [(s["display_width"], s["display_height"], s["analysis_size"]) for s in report["shots"]]
    assert shown == [(480, 270, [480, 270])] * 2
    findings = report["findings"]
    assert [(f["type"], f["check"]) for f in findings] == [("costume", "torso"), ("prop", "vanished")], findings
    for finding, (box_out, box_in) in zip(findings, (truth["jacket"], truth["prop"]), strict=True):
        assert (finding["outgoing"]["frame"], finding["incoming"]["frame"]) == (FRAMES - 1, 0)
        assert overlap(finding["outgoing"]["box"], box_out) > 0.5 and overlap(finding["incoming"]["box"], box_in) > 0.5
    # The pair picture shows both frames as the audience sees them: landscape, the scene's own shape.
    picture = np.asarray(Image.open(record.out_dir / "pair-01.png").convert("RGB")).astype(int)
    assert picture.shape[1] == 2 * 480 + 8
    height, width = outgoing.shape[:2]
    error = min(np.abs(picture[y : y + height, :width] - outgoing.astype(int)).mean() for y in range(0, 120))
    assert error < 12, error  # the outgoing panel is the scene itself, not a squeezed or turned copy


@pytest.mark.real_media
def test_real_footage_edges_are_read_by_exact_frame_number(tmp_path):
    """GoPro clips with start timecodes, a variable-rate Matroska, an AVI and an 8:9 DVD clip in one
    'scene': the edges are the true first and last frames, labelled from each file's own timecode."""
    entries = [real_media.entry(name) for name in ("A09", "A10", "A04", "A16", "A14")]
    record = run([(e["path"], "footage") for e in entries], tmp_path / "w")
    report = record.result.report
    for shot, entry in zip(report["shots"], entries, strict=True):
        video = probe(entry["path"]).video
        count = video.timeline_frame_count
        assert shot["frames_looked_at"] == [0, 1, 2, count - 3, count - 2, count - 1], shot["name"]
        assert shot["frames_estimated"] is False
        assert shot["start_timecode"] == (entry["start_timecode"][0] if entry["start_timecode"] else None)
        assert tuple(shot["analysis_size"]) == reader.display_size(video, max_width=960)
    for pair in report["pairs"]:
        for side in (pair["outgoing"], pair["incoming"]):
            entry = entries[side["input"]]
            rate = report["shots"][side["input"]]["frame_rate"]
            start = _tc_frames(entry["start_timecode"][0], rate) if entry["start_timecode"] else 0
            assert _tc_frames(side["timecode"], rate) == start + side["frame"], side
    first = report["pairs"][0]
    assert first["incoming"]["frame"] == 0 and first["incoming"]["timecode"] == entries[1]["start_timecode"][0]
    assert first["outgoing"]["frame"] == 361 and first["outgoing"]["timecode"] == "19:27:00:05"  # 19:26:48:04 + 361
    assert [o.name for o in record.result.outputs].count("pair-01") == 1
    assert Image.open(record.out_dir / "pair-04.png").width == 640 + 8 + 640  # A14's 8:9 pixels shown 640 wide


def _tc_frames(timecode: str, rate: str) -> int:
    """Frames of a label, drop-frame only when written with ';' (GoPro's 29.97 timecode is non-drop)."""
    return timecode_to_frames(timecode, rate, drop_frame=";" in timecode)
