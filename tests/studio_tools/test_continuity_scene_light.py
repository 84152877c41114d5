"""Two angles of one scene with no part of the set in common: the scene's light over whole frames.

A wide and a close-up of one place often share no feature the registration can hold on to. The tool
then tells one scene from a change of location by the frames' colours (`palette_overlap`) and, for one
scene, compares exposure and white balance over the whole frames with wide limits: a gross change is
reported, ordinary framing differences are not, and another location is "not comparable".
"""

from __future__ import annotations

import numpy as np
import pytest

from studio_tools.continuity.lighting import SAME_SCENE_PALETTE, palette_overlap
from studio_tools.continuity.pipeline import check_images
from studio_tools.continuity.realpairs import exposure

SIZE = (270, 480)


def soft_scene(colours: list[tuple[int, int, int]], seed: int) -> np.ndarray:
    """Large soft patches of the given colours, laid out at random: a set with no corner to register."""
    rng = np.random.default_rng(seed)
    h, w = SIZE
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    weights = []
    for _ in colours:
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.25, 0.5) * w
        weights.append(np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r)) + 1e-3)
    stack = np.stack(weights)
    stack /= stack.sum(axis=0, keepdims=True)
    image = np.tensordot(stack.transpose(1, 2, 0), np.asarray(colours, np.float32), axes=([2], [0]))
    return np.clip(image + 0.5, 0, 255).astype(np.uint8)


STONE = [(150, 120, 90), (110, 80, 60), (200, 170, 120), (90, 110, 60), (180, 150, 140)]
SEA = [(40, 90, 170), (120, 170, 220), (230, 235, 240), (30, 60, 90), (80, 140, 120)]


def test_palette_tells_one_scene_from_another_location():
    wide, close = soft_scene(STONE, 1), soft_scene(STONE, 2)
    elsewhere = soft_scene(SEA, 3)
    everywhere = np.ones(SIZE, bool)
    same = palette_overlap(wide, close, everywhere, everywhere)
    other = palette_overlap(wide, elsewhere, everywhere, everywhere)
    assert same >= SAME_SCENE_PALETTE > other
    # an exposure step alone does not make another scene (chromaticity does not move with exposure)
    for stops in (-1.0, 1.0):
        assert palette_overlap(wide, exposure(stops)(close), everywhere, everywhere) >= SAME_SCENE_PALETTE


def _pair(first: np.ndarray, second: np.ndarray):
    checked = check_images([first, second])
    assert len(checked.pairs) == 1
    report = checked.pairs[0].describe()
    assert not report["registration"]["same_place"] and report["shared_part"] is None  # no part of the set in common
    return checked, report


def test_one_scene_without_a_shared_part_is_partly_checked_for_light():
    checked, report = _pair(soft_scene(STONE, 1), soft_scene(STONE, 2))
    assert report["status"] == "partly checked"
    assert report["coverage"]["lighting"]["state"] == "partly"
    assert "whole frames" in report["coverage"]["lighting"]["words"]
    assert report["coverage"]["prop"]["state"] == "not compared"
    assert checked.findings == []


@pytest.mark.parametrize("stops", [-2.0, 2.0])
def test_a_gross_exposure_change_across_angles_of_one_scene_is_found(stops):
    checked, report = _pair(soft_scene(STONE, 1), exposure(stops)(soft_scene(STONE, 2)))
    light = [f for f in checked.findings if f["type"] == "lighting"]
    assert [f["check"] for f in light] == ["exposure"], checked.findings
    assert light[0]["measured"]["unit"] == "stops"
    assert light[0]["measured"]["value"] == pytest.approx(stops, abs=0.5)
    assert "whole frames" in light[0]["explanation"]
    # half a stop across two framings is within what framing alone does: not a finding here
    checked, _ = _pair(soft_scene(STONE, 1), exposure(0.5 * np.sign(stops))(soft_scene(STONE, 2)))
    assert checked.findings == []


def test_another_location_is_not_comparable_and_says_why():
    checked, report = _pair(soft_scene(STONE, 1), soft_scene(SEA, 3))
    assert report["status"] == "not comparable"
    assert "another scene" in report["coverage"]["lighting"]["words"]
    assert "nobody is seen on either side, and the two shots are not of one scene" in report["why"]
    assert checked.findings == []


def test_srgb_to_linear_lookup_is_the_computed_curve():
    from studio_tools.continuity import colour

    values = np.arange(256, dtype=np.uint8).reshape(16, 16, 1).repeat(3, axis=2)
    looked_up = colour.srgb_to_linear(values)
    computed = colour.srgb_to_linear(values.astype(np.float32) / 255.0)
    assert looked_up.dtype == np.float32 and np.allclose(looked_up, computed, atol=1e-7)
    assert looked_up[0, 0, 0] == 0.0 and looked_up[-1, -1, 0] == pytest.approx(1.0)
    assert looked_up.flat[3 * 128] == pytest.approx(0.2158605, abs=1e-6)  # sRGB 128 is 21.6% linear
