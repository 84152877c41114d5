"""The measurements the continuity checks stand on, each against a known answer."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from studio_tools.continuity import synthetic as synth
from studio_tools.continuity.colour import (
    IDENTITY,
    ciede2000,
    fit_colour_transform,
    grey_world,
    mccamy_cct,
    rgb_to_lab,
)
from studio_tools.continuity.findings import Thresholds, colour_name, confidence
from studio_tools.continuity.frames import Frame, pick_edge_frame
from studio_tools.continuity.people import Person, detect_people, match_people
from studio_tools.continuity.setdiff import register, tolerant_difference
from studio_tools.media.timecode import source_timecode, timecode_to_frames

# Sharma, Wu & Dalal (2005), "The CIEDE2000 color-difference formula", table 1: pairs 1, 7, 13, 15,
# 17, 19, 25 and 34 (the hue-angle edge cases and the large differences included).
SHARMA = [
    ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
    ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
    ((50.0, 2.49, -0.001), (50.0, -2.49, 0.0009), 7.1792),
    ((50.0, 2.49, -0.001), (50.0, -2.49, 0.0011), 7.2195),
    ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
    ((50.0, 2.5, 0.0), (50.0, 3.1736, 0.5854), 1.0),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
    ((2.0776, 0.0795, -1.135), (0.9033, -0.0636, -0.5514), 0.9082),
]


def test_ciede2000_matches_the_published_test_data():
    a = np.array([p[0] for p in SHARMA])
    b = np.array([p[1] for p in SHARMA])
    expected = np.array([p[2] for p in SHARMA])
    np.testing.assert_allclose(ciede2000(a, b), expected, atol=1e-4)
    np.testing.assert_allclose(ciede2000(b, a), expected, atol=1e-4)  # symmetric
    assert float(ciede2000(a[0], a[0])) == 0.0


def test_lab_of_srgb_primaries():
    lab = rgb_to_lab(np.array([[[255, 255, 255], [0, 0, 0], [255, 0, 0], [119, 119, 119]]], np.uint8))[0]
    np.testing.assert_allclose(lab[0], [100, 0, 0], atol=0.05)
    np.testing.assert_allclose(lab[1], [0, 0, 0], atol=0.05)
    np.testing.assert_allclose(lab[2], [53.24, 80.09, 67.20], atol=0.05)
    assert lab[3][0] == pytest.approx(50.0, abs=0.3)


def test_grey_world_and_colour_temperature():
    # McCamy at D65 and illuminant A.
    assert mccamy_cct(0.31271, 0.32902) == pytest.approx(6504, abs=15)
    assert mccamy_cct(0.44757, 0.40745) == pytest.approx(2856, abs=15)
    assert mccamy_cct(0.1, 0.8) is None
    rng = np.random.default_rng(0)
    grey = np.full((60, 80, 3), 128, np.uint8)
    white = grey_world(synth.add_noise(grey, rng, 2))
    assert white.cct == pytest.approx(6504, abs=80)
    warm = grey_world(synth.relight(grey, (1.2, 1.0, 0.8)))
    assert warm.cct < 5500 and math.hypot(warm.u - white.u, warm.v - white.v) > 0.01
    brighter = grey_world(synth.relight(grey, (1.6, 1.6, 1.6)))
    assert math.hypot(brighter.u - white.u, brighter.v - white.v) < 0.001  # exposure leaves the white point alone
    assert grey_world(np.full((60, 80, 3), 255, np.uint8)) is None  # all clipped: nothing to say


def test_colour_transform_recovers_an_exposure_and_balance_change():
    pair = synth.make_pair(3, "noise")
    gains = (1.3, 1.1, 0.8)
    changed = synth.relight(pair.outgoing, gains)
    mask = np.ones(changed.shape[:2], bool)
    fitted = fit_colour_transform(pair.outgoing, changed, mask)
    np.testing.assert_allclose(fitted.gain, gains, rtol=0.05)
    back = fitted.inverse().apply(changed)
    assert float(np.abs(back.astype(int) - pair.outgoing.astype(int)).mean()) < 3
    lab = rgb_to_lab(np.array([[[90, 120, 160]]], np.uint8))[0, 0]
    np.testing.assert_allclose(IDENTITY.apply_lab(lab), lab, atol=0.2)
    assert fit_colour_transform(pair.outgoing, changed, np.zeros_like(mask)) == IDENTITY  # nothing to fit on


def test_tolerant_difference_forgives_a_one_pixel_shift_but_not_an_object():
    rng = np.random.default_rng(1)
    image = (rng.random((60, 80, 3)) * 255).astype(np.uint8)
    image = cv2.GaussianBlur(image, (0, 0), 1.2)
    shifted = np.roll(image, 1, axis=1)
    with_object = shifted.copy()
    cv2.rectangle(with_object, (30, 20), (45, 35), (250, 20, 20), -1)
    lab, lab_shifted, lab_object = rgb_to_lab(image), rgb_to_lab(shifted), rgb_to_lab(with_object)
    plain = np.sqrt(((lab - lab_shifted) ** 2).sum(axis=2))
    tolerant = tolerant_difference(lab, lab_shifted, 1)
    assert tolerant[:, 2:-2].max() < 0.5 * plain[:, 2:-2].max()
    assert tolerant[:, 2:-2].mean() < 1.0
    assert tolerant_difference(lab, lab_object, 1)[24:32, 34:42].min() > 40


def test_registration_recovers_a_camera_move():
    rng = np.random.default_rng(4)
    scene = synth.make_scene(rng, 480, 270, people=1)
    cam = synth.camera_move(scene, rng, shift=0.04, degrees=1.5, zoom=1.1)
    first, second = synth.render(scene), synth.render(scene, cam)
    reg = register(first, second)
    assert reg.ok and reg.inlier_ratio > 0.5 and 0.7 < reg.overlap <= 1.0
    truth = scene.base_camera() @ np.linalg.inv(cam)  # second-frame pixels -> first-frame pixels
    points = np.array([[[100.0, 80.0]], [[400.0, 200.0]], [[240.0, 135.0]]])
    np.testing.assert_allclose(
        cv2.perspectiveTransform(points, reg.homography), cv2.perspectiveTransform(points, truth), atol=1.5
    )
    other = synth.render(synth.make_scene(np.random.default_rng(99), 480, 270))
    assert not register(first, other).ok


def test_people_are_found_and_matched_by_appearance_and_place():
    rng = np.random.default_rng(8)
    scene = synth.make_scene(rng, 480, 270, people=2)
    image = synth.render(scene)
    found = detect_people(image)
    assert len(found) == 2
    cam = scene.base_camera()
    for figure in scene.figures:
        x, y, w, h = figure.box()
        cx = x + w / 2 + cam[0, 2]
        assert any(abs(p.centre[0] - cx) < 0.3 * w for p in found)
    # Matching is a permutation problem: reversed lists still pair each person with itself.
    matches = match_people(found, found[::-1])
    assert sorted((m.a, m.b) for m in matches) == [(0, 1), (1, 0)]
    assert all(m.differences["torso"] < 1e-6 for m in matches)
    # One recoloured garment does not stop a match; it is what the costume check then measures.
    recoloured = [Person(p.box, p.score, {**p.parts, "torso": np.array([50.0, -60.0, 50.0])}) for p in found]
    matches = match_people(found, recoloured)
    assert sorted((m.a, m.b) for m in matches) == [(0, 0), (1, 1)]
    assert all(m.differences["torso"] > 20 for m in matches)
    assert detect_people(synth.render(synth.make_scene(np.random.default_rng(3), 480, 270, people=0))) == []


def test_edge_frame_skips_a_black_frame():
    image = synth.make_pair(5, "noise").outgoing
    black = np.zeros_like(image)
    frames = [Frame(0, "a", n, n / 25, None, img, "tail") for n, img in enumerate([image, image, black])]
    assert pick_edge_frame(frames, at_end=True).frame == 1
    assert pick_edge_frame(frames, at_end=False).frame == 0


@pytest.mark.parametrize(
    ("frames", "rate", "text"),
    [
        (0, "25/1", "00:00:00:00"),
        (24, "25/1", "00:00:00:24"),
        (90_000, "25/1", "01:00:00:00"),
        (1800, "30000/1001", "00:01:00;02"),  # frames 00 and 01 of minute 1 do not exist in drop-frame
        (17982, "30000/1001", "00:10:00;00"),
        (107892, "30000/1001", "01:00:00;00"),
    ],
)
def test_timecodes(frames, rate, text):
    # Continuity labels frames with the media layer's timecode (one implementation for every tool).
    assert source_timecode(frames, rate) == text
    assert timecode_to_frames(text, rate) == frames


def test_thresholds_confidence_and_colour_words():
    base = Thresholds.for_sensitivity(0.5)
    assert base == Thresholds()
    assert Thresholds.for_sensitivity(1.0).costume_delta_e == pytest.approx(base.costume_delta_e / 2)
    assert Thresholds.for_sensitivity(0.0).exposure_stops == pytest.approx(base.exposure_stops * 2)
    assert confidence(10, 10) == 0.5
    assert confidence(20, 10) > 0.94 and confidence(5, 10) < 0.2
    assert confidence(20, 10, reliability=0.5) < 0.5
    words = {name: colour_name(rgb_to_lab(np.array([[rgb]], np.uint8))[0, 0]) for name, rgb in synth_colours().items()}
    assert words == {"red": "red", "green": "green", "blue": "blue", "white": "white", "black": "black", "yellow": "yellow"}


def synth_colours() -> dict[str, tuple[int, int, int]]:
    return {
        "red": (200, 30, 30),
        "green": (30, 150, 60),
        "blue": (50, 90, 230),
        "white": (250, 250, 250),
        "black": (10, 10, 10),
        "yellow": (240, 220, 40),
    }
