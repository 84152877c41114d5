"""The crowd tool's fast paths give the same results as the straightforward ones.

The full-size frames the analysis pass keeps on disk stand in for two more decodes of the plate; the
temporal medians come from a selection network instead of `np.median`; chroma is upsampled by a
resize instead of an affine warp; copies whose windows meet are merged before they are drawn; layer
and matte frames are reused with only the drawn windows reset. Each is checked against what it replaces.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from studio_tools.core import ToolInput, run_tool
from studio_tools.crowd import tool as crowd_tool
from studio_tools.crowd.colour import Yuv, YuvFrame, upsample
from studio_tools.crowd.composite import BgraLayer, Compositor, MatteFrame, YuvaLayer
from studio_tools.crowd.median import median_half_even, median_half_up
from studio_tools.crowd.placement import Loop, Placement, Region
from studio_tools.crowd.source import SourceTube, Sprite
from studio_tools.crowd.synthetic import make_scene, write_scene

REGION = [[0.1, 0.5], [0.9, 0.5], [0.9, 1.0], [0.1, 1.0]]
PARAMS = {"density": 2, "seed": 7, "region": REGION}


@pytest.fixture(scope="module")
def plate(tmp_path_factory) -> Path:
    scene = make_scene(320, 180, seconds=3.0, walkers=5, seed=1, person_scale=0.32)
    return write_scene(scene, tmp_path_factory.mktemp("crowd-pipeline") / "plate.mp4")


def crowd(plate: Path, workdir: Path, **params):
    # the generated figures are blocks and discs the pose model does not take for people: no completeness gate
    params = {"completeness": "off", **params}
    return run_tool("crowd", [ToolInput(plate, "plate", "plate", {"original_name": plate.name})], params, workdir)


def digests(record) -> dict[str, str]:
    return {o.name: hashlib.sha256(record.output_path(o).read_bytes()).hexdigest() for o in record.result.outputs}


# --- whole runs -------------------------------------------------------------------------------------


def test_kept_frames_and_decoding_again_give_the_same_bytes(plate, tmp_path, monkeypatch):
    kept: list[Path] = []
    real = crowd_tool.FrameFile

    def spy(path, *args):
        kept.append(Path(path))
        return real(path, *args)

    monkeypatch.setattr(crowd_tool, "FrameFile", spy)
    fast = crowd(plate, tmp_path / "kept", **PARAMS)
    assert [p.name for p in kept] == ["plate0.full.yuv"]  # the frames were kept...
    assert not kept[0].exists()  # ...in the scratch folder, which is gone afterwards

    monkeypatch.setattr(crowd_tool, "KEEP_FRAMES_BYTES", 0)  # over budget: extraction and compositing decode again
    kept.clear()
    slow = crowd(plate, tmp_path / "decoded", **PARAMS)
    assert kept == []
    assert digests(fast) == digests(slow)
    assert fast.result.report == slow.result.report
    timeless = {k: v for k, v in fast.result.metrics.items() if not k.endswith("seconds") and "fps" not in k}
    assert timeless == {k: v for k, v in slow.result.metrics.items() if k in timeless}


def test_png_layer_zip_is_the_same_bytes_every_time(plate, tmp_path):
    params = {**PARAMS, "output_format": "png", "person_check": "off"}
    first = crowd(plate, tmp_path / "one", **params)
    second = crowd(plate, tmp_path / "two", **params)
    assert digests(first) == digests(second)
    with zipfile.ZipFile(first.out_dir / "layer.zip") as archive:
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}


# --- medians and chroma -----------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 3, 7, 15, 16, 17, 31, 48])
def test_temporal_medians_are_exactly_numpys(n):
    rng = np.random.default_rng(n)
    stack = rng.integers(0, 256, (n, 23, 19, 3), dtype=np.uint8)
    stack[: n // 3] = stack[0]  # ties
    assert np.array_equal(median_half_even(stack), np.median(stack, axis=0).round().astype(np.uint8))
    middle = [n // 2 - 1, n // 2] if n % 2 == 0 else [n // 2]
    part = np.partition(stack, middle, axis=0)[middle].astype(np.uint16)
    assert np.array_equal(median_half_up(stack), ((part.sum(axis=0) + len(middle) // 2) // len(middle)).astype(np.uint8))
    assert np.array_equal(median_half_up(list(stack)), median_half_up(stack))


def _upsample_by_warp(chroma: np.ndarray, x0: int, x1: int) -> np.ndarray:
    """The definition: column x reads chroma sample (x - 0.5) / 2, cubic, edges replicated beyond one sample."""
    c0, c1 = x0 // 2, x1 // 2
    first, last = max(0, c0 - 1), min(chroma.shape[1], c1 + 1)
    samples = np.ascontiguousarray(chroma[:, first:last], dtype=np.float32)
    m = np.array([[0.5, 0.0, -0.25 + (c0 - first)], [0.0, 1.0, 0.0]])
    return cv2.warpAffine(
        samples, m, (x1 - x0, samples.shape[0]), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE
    )


def test_chroma_upsampling_is_the_cubic_warp():
    rng = np.random.default_rng(3)
    chroma = rng.integers(64, 961, (120, 160)).astype(np.uint16)
    for _ in range(60):
        x0 = 2 * int(rng.integers(0, 150))
        x1 = min(320, x0 + 2 * int(rng.integers(1, 60)))
        rows = slice(int(rng.integers(0, 100)), 120)
        assert np.array_equal(upsample(chroma[rows], x0, x1), _upsample_by_warp(chroma[rows], x0, x1))
    assert np.array_equal(upsample(chroma, 0, 320), _upsample_by_warp(chroma, 0, 320))


# --- drawing ----------------------------------------------------------------------------------------


class _Blocks:
    """A CrowdSource of one person: a 10x20 block with a soft edge, standing at (100, 100)."""

    name, description, generative = "test", "a block", False

    def __init__(self, colour):
        alpha = np.zeros((24, 14), np.uint8)
        alpha[2:22, 2:12] = 255
        alpha[2:22, 2] = alpha[2:22, 11] = 128
        self._sprite = Sprite(np.full((24, 14, 3), colour, np.uint8), alpha, 93, 80)
        self._tube = SourceTube("t", "plate.mp4", 0, 0, np.array([[95.0, 82.0, 105.0, 102.0]] * 10), True)

    def tubes(self):
        return [self._tube]

    def prepare(self, tube_ids, progress, check):
        pass

    def sprite(self, tube_id, k):
        return self._sprite

    def report(self):
        return {"name": self.name}


def _compositor(anchors, colour=(40, 200, 90), yuv=None):
    source = _Blocks(colour)
    tube = source.tubes()[0]
    placements = [
        Placement(i, tube, anchor, 1.0, bool(i % 2), 0, (3.0, -2.0, 4.0), False, Loop(10, 10, 0))
        for i, anchor in enumerate(anchors)
    ]
    compositor = Compositor(
        source, placements, Region(None, 200, 200), 200, 200, np.array([1.5, 1.5, 1.5]), True, 5, yuv=yuv or Yuv()
    )
    compositor.prepare()
    return compositor


def _plate(seed: int = 0) -> YuvFrame:
    rng = np.random.default_rng(seed)
    return YuvFrame.from_buffer(rng.integers(64, 941, 2 * 200 * 200).astype(np.uint16), 200, 200)


def test_copies_whose_windows_meet_are_drawn_as_one(tmp_path):
    # two copies side by side: their windows overlap (the nearer one is drawn over the farther)
    compositor = _compositor([(60.0, 120.0), (67.0, 124.0), (150.0, 150.0)])
    plate = _plate()
    frame = YuvFrame.from_buffer(plate.data.copy(), 200, 200)
    yuv = compositor.yuv
    layer = BgraLayer.blank(200, 200)
    yuva = YuvaLayer(YuvaLayer.blank(200, 200, yuv))
    matte = MatteFrame(MatteFrame.blank(200, 200, yuv), yuv)
    stats = compositor.draw(0, frame, [layer, yuva, matte])
    assert stats.patches == 3
    alpha = layer.data[..., 3].astype(np.float64) / 255.0
    touched = alpha > 0
    # untouched pixels are the plate's own, bit for bit (chroma: per pair of columns)
    assert np.array_equal(frame.y[~touched], plate.y[~touched])
    pairs = touched[:, 0::2] | touched[:, 1::2]
    assert np.array_equal(frame.u[~pairs], plate.u[~pairs]) and np.array_equal(frame.v[~pairs], plate.v[~pairs])
    # comp luma = plate * (1 - a) + a * layer, to rounding (luma is not subsampled)
    layer_y = yuv.from_bgr(layer.data[..., :3].astype(np.float32))[0]
    rebuilt = plate.y * (1 - alpha) + alpha * layer_y
    assert np.abs(rebuilt - frame.y)[alpha > 0.05].max() <= 4.5  # the layer's colour is 8-bit here
    assert abs(int(frame.y.astype(np.int64).sum() - plate.y.astype(np.int64).sum()) - stats.luma_change) == 0
    # the 10-bit layer and the matte say the same as the BGRA one
    assert np.abs(yuva.frame.planes["a"] / 1023.0 - alpha).max() <= 0.5 / 255 + 0.5 / 1023
    assert np.abs((matte.frame.planes["y"] - 64.0) / 876.0 - alpha).max() <= 0.5 / 255 + 0.5 / 876
    assert (matte.frame.planes["u"] == 512).all() and (matte.frame.planes["v"] == 512).all()
    yuva_bgr = yuv.to_bgr(*(yuva.frame.planes[c].astype(np.float32) for c in "yuv"))
    solid = alpha > 0.5
    assert np.abs(np.clip(yuva_bgr, 0, 255)[solid] - layer.data[..., :3][solid]).max() <= 1.5


def test_reused_frames_are_reset_where_drawn():
    compositor = _compositor([(60.0, 120.0), (150.0, 150.0)])
    for yuv in (Yuv(), Yuv("bt709", True)):
        compositor.yuv = yuv
        frames = {
            "yuva": (YuvaLayer(YuvaLayer.blank(200, 200, yuv)), YuvaLayer.blank(200, 200, yuv).data),
            "matte": (MatteFrame(MatteFrame.blank(200, 200, yuv), yuv), MatteFrame.blank(200, 200, yuv).data),
            "bgra": (BgraLayer.blank(200, 200), BgraLayer.blank(200, 200).data),
        }
        for t in range(3):
            compositor.draw(t, _plate(t), [sink for sink, _blank in frames.values()])
            for name, (sink, blank) in frames.items():
                data = sink.data if isinstance(sink, BgraLayer) else sink.frame.data
                assert not np.array_equal(data, blank), name
                sink.reset()
                assert np.array_equal(data, blank), name


def test_render_gives_the_same_comp_and_layer_as_draw():
    compositor = _compositor([(60.0, 120.0), (67.0, 124.0)])
    plate = _plate(4)
    first = YuvFrame.from_buffer(plate.data.copy(), 200, 200)
    comp, layer, stats = compositor.render(0, first)
    second = YuvFrame.from_buffer(plate.data.copy(), 200, 200)
    bgra = BgraLayer.blank(200, 200)
    again = compositor.draw(0, second, [bgra])
    assert np.array_equal(comp.data, second.data) and np.array_equal(layer, bgra.data)
    assert (stats.patches, stats.luma_change) == (again.patches, again.luma_change) and stats.patches == 2
