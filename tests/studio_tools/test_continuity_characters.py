"""Characters on real footage: people found at any scale, the same face recognised across clips, and
the character sheet's names (reference stills with `character`, `costume`, `scene`) on the findings.

The performers of the ASL clips are known from the manifest: A03, A04 and A05 show performer P1,
A06 and A07 performer P3, A15 performer P5.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from studio_tools.continuity import realpairs
from studio_tools.continuity.people import detect_people
from studio_tools.core import ToolInput, run_tool
from studio_tools.media import probe, reader
from studio_tools.vision import detect, faces
from tests import real_media

pytestmark = pytest.mark.real_media


def frame(prefix: str, index: int) -> np.ndarray:
    path = real_media.media_dir() / real_media.entry(prefix)["name"]
    info = probe(path)
    return reader.read_frames_at(path, info, [index], pix_fmt="rgb24")[index].image


def test_people_are_found_close_wide_and_overhead():
    close = detect_people(frame("A03", 15))  # waist-up, facing the camera
    assert len(close) == 1 and close[0].face is not None and close[0].source == "model"
    assert close[0].parts["torso"] is not None
    wide = detect.detect_persons(frame("A01", 100))  # a woman at a table, whole figure, from behind
    assert len(wide) >= 1
    overhead = detect.detect_persons(frame("A16", 200))  # pedestrians far below a high camera
    assert len(overhead) >= 2
    assert all(p.body[3] - p.body[1] < 0.4 * 360 for p in overhead)  # small figures, found on the tiles
    screen = detect_people(frame("A11", 183))  # a head at a screen, the body hidden by the desk
    assert len(screen) == 1 and screen[0].face is not None and screen[0].face_descriptor is not None
    assert screen[0].parts["torso"] is not None  # sampled below the chin
    empty = detect_people(frame("A01", 20))  # the empty room
    assert empty == []


def test_the_same_face_is_recognised_across_clips_and_other_faces_are_not():
    people = {key: detect_people(frame(key, 20))[0] for key in ("A03", "A04", "A06", "A07", "A15")}
    d = {key: p.face_descriptor for key, p in people.items()}
    assert all(v is not None and v.shape == (128,) for v in d.values())
    same = [faces.face_distance(d["A03"], d["A04"]), faces.face_distance(d["A06"], d["A07"])]
    other = [faces.face_distance(d[a], d[b]) for a in ("A03", "A04") for b in ("A06", "A07", "A15")]
    assert max(same) < faces.SAME_FACE < min(other), (same, other)


def write(path, image: np.ndarray):
    cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return path


def test_character_sheet_names_the_costume_change(tmp_path):
    sam_ref = write(tmp_path / "sam.png", frame("A03", 20))
    ana_ref = write(tmp_path / "ana.png", frame("A06", 20))
    before = frame("A04", 40)
    (after,), target = realpairs.recolour_torso([frame("A04", 46)])
    assert target is not None
    shots = [write(tmp_path / "shot1.png", before), write(tmp_path / "shot2.png", after)]
    inputs = [
        ToolInput(shots[0], "still", metadata={"original_name": "12A.png"}),
        ToolInput(shots[1], "still", metadata={"original_name": "12B.png"}),
        ToolInput(
            sam_ref,
            "reference",
            metadata={"original_name": "sam.png", "character": "Sam", "costume": "black hoodie, jeans", "scene": "12"},
        ),
        ToolInput(ana_ref, "reference", metadata={"original_name": "ana.png", "character": "Ana", "scene": "12"}),
    ]
    report = run_tool("continuity", inputs, {}, tmp_path / "w").result.report
    costume = [f for f in report["findings"] if f["type"] == "costume"]
    assert costume and {f["character"] for f in costume} == {"Sam"}, costume
    cut = [f for f in costume if f["pair"] == 0]
    assert cut and cut[0]["check"] == "torso" and cut[0]["incoming"]["box"]
    assert not [f for f in report["findings"] if f["type"] != "costume"]
    by_name = {c["name"]: c for c in report["characters"]}
    assert by_name["Sam"]["costumes"] == ["black hoodie, jeans"] and by_name["Sam"]["scenes"] == ["12"]
    assert by_name["Sam"]["findings"] == [f["id"] for f in costume]
    assert by_name["Ana"]["findings"] == []  # Ana's face is nowhere in the shots
    (pair,) = report["pairs"]
    assert pair["status"] == "checked", pair["why"]
    page = (tmp_path / "w" / "out" / "report.html").read_text()
    assert "By character" in page and "Scene 12" in page and "black hoodie, jeans" in page and "By cut" in page


def test_without_a_sheet_characters_get_generated_names(tmp_path):
    before = frame("A07", 20)
    (after,), _ = realpairs.recolour_torso([frame("A07", 26)])
    shots = [write(tmp_path / "a.png", before), write(tmp_path / "b.png", after)]
    inputs = [ToolInput(p, "still", metadata={"original_name": p.name}) for p in shots]
    report = run_tool("continuity", inputs, {}, tmp_path / "w").result.report
    (finding,) = [f for f in report["findings"] if f["type"] == "costume"]
    assert finding["character"] == "Person 1" and "Person 1:" in finding["explanation"]
    assert "ΔE" not in finding["explanation"] and "CIEDE" not in finding["explanation"]
