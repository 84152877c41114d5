"""The crowd tool from the command line, as the issue writes it: `python -m studio_tools run crowd ...`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

import studio_tools
from studio_tools.crowd.synthetic import make_scene, write_scene

REPO = Path(studio_tools.__file__).resolve().parent.parent
REGION = "[[0.1,0.5],[0.9,0.5],[0.9,1.0],[0.1,1.0]]"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "studio_tools", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def scene():
    return make_scene(320, 180, seconds=3.0, walkers=5, seed=1, person_scale=0.32)


@pytest.fixture(scope="module")
def plate(scene, tmp_path_factory) -> Path:
    return write_scene(scene, tmp_path_factory.mktemp("crowd-cli") / "plate.mp4")


def test_run_as_in_the_issue(plate, tmp_path):
    out = tmp_path / "crowd out"
    done = cli(
        "run", "crowd", "--input", str(plate), "--param", "density=2", "--param", "seed=7", "--param", "completeness=off",
        "--param", f"region={REGION}", "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    names = ["comp.mov", "comp.proxy.mp4", "layer.mov", "matte.mov", "report.json"]
    assert done.stdout.splitlines() == [str(out / n) for n in names]
    assert sorted(p.name for p in out.iterdir()) == sorted(names)
    document = json.loads((out / "report.json").read_text())
    assert (document["tool"], document["params"]["density"], document["params"]["seed"]) == ("crowd", 2.0, 7)
    assert document["params"]["region"] == [[0.1, 0.5], [0.9, 0.5], [0.9, 1.0], [0.1, 1.0]]
    ((slot, kind, name),) = [(i["slot"], i["kind"], i["name"]) for i in document["inputs"]]
    assert (slot, kind, name) == ("plate", "plate", "plate.mp4")
    report = document["report"]
    assert report["source"]["name"] == "plate_people" and report["source"]["generative"] is False
    assert report["target"]["placed"] == 5
    assert len(report["placements"]) == 5
    assert document["metrics"]["people_added"] == 5
    assert [o["path"] for o in document["outputs"]] == names[:-1]


def test_tiles_and_clean_plate_by_slot(scene, tmp_path):
    left = make_scene(320, 180, seconds=3.0, walkers=2, seed=1, person_scale=0.32, span=(0.0, 0.45))
    right = make_scene(320, 180, seconds=3.0, walkers=2, seed=1, person_scale=0.32, span=(0.55, 1.0))
    take1, take2 = write_scene(left, tmp_path / "take1.mp4"), write_scene(right, tmp_path / "take2.mp4")
    clean = tmp_path / "clean.png"
    cv2.imwrite(str(clean), left.background)
    out = tmp_path / "out"
    done = cli(
        "run", "crowd", "--input", str(take1), "--input", str(take2), "--input", str(clean),
        "--input-slot", "plate", "--input-slot", "tiles", "--input-slot", "clean_plate",
        "--param", "output_format=png", "--param", "completeness=off", "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["comp.mov", "comp.proxy.mp4", "layer.zip", "matte.mov", "report.json"]
    document = json.loads((out / "report.json").read_text())
    assert [(i["slot"], i["kind"]) for i in document["inputs"]] == [
        ("plate", "plate"),
        ("tiles", "plate"),
        ("clean_plate", "still"),
    ]
    assert document["report"]["background"]["method"] == "clean_plate"
    assert document["report"]["tile_plates"] == ["take2.mp4"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--param", "region=[[0.1,0.1],[0.9,0.9],[0.9,0.1],[0.1,0.9]]"],
            "bad parameter region: the region's edges cross each other; draw a simple polygon whose outline does not cross "
            "itself (got [[0.1, 0.1], [0.9, 0.9], [0.9, 0.1], [0.1, 0.9]])",
        ),
        (["--param", "density=0.5"], "bad parameter density: Input should be greater than 1 (got 0.5)"),
        (["--input", "extra.mp4"], "crowd takes several kinds of input; say which with --input-slot (plate, tiles, clean_plate)"),
        (["--input-slot", "crowd"], "crowd has no input slot 'crowd' (slots: plate, tiles, clean_plate)"),
    ],
)
def test_mistakes_are_one_line_and_exit_2(plate, tmp_path, args, message):
    done = cli("run", "crowd", "--input", str(plate), *args, "--out", str(tmp_path / "out"))
    assert done.returncode == 2, done.stderr
    assert done.stderr == f"studio_tools: {message}\n"
    assert not (tmp_path / "out").exists()


def test_a_still_plate_is_exit_2(scene, tmp_path):
    still = write_scene(scene, tmp_path / "frame.png", still=True)
    done = cli("run", "crowd", "--input", str(still), "--out", str(tmp_path / "out"))
    assert done.returncode == 2
    assert done.stderr.startswith("studio_tools: frame.png is a still image; the crowd tool needs a moving, locked-off plate")


def test_describe_lists_the_parameters():
    done = cli("describe", "crowd")
    assert done.returncode == 0, done.stderr
    schema = json.loads(done.stdout)
    assert schema["properties"]["region"]["default"] is None
    assert schema["properties"]["seed"]["default"] == 0
