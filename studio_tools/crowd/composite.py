"""Drawing the copies into each frame: the comp, the added-crowd layer and its matte.

Per output frame, every placement shows one tube frame, or none (a copy that plays its take once is
off screen before and after it; two instances of a body are never dissolved into each other).
Patches are drawn far to near (by foot position); each patch is resized with area averaging
when it shrinks, positioned with sub-pixel accuracy and mirrored by one affine warp,
all in premultiplied alpha so edges do not pick up dark or stale fringes. Then, in order:

- colour: a LAB shift of the person's straight colour;
- grain: Gaussian grain that tops the copy's noise back up to the plate's, per channel, because
  resampling a person smooths the grain they were filmed with (the loss is measured by pushing
  white noise through the same resampling);
- holdout: an original person whose feet are nearer the camera than the copy's stays in front;
- region: nothing is drawn outside the target region.

Only the windows around the copies are ever computed. Patches whose windows meet (widened to whole
chroma pairs) are merged, far to near, into one premultiplied window first; each window's straight
colour is converted to the plate's Y'CbCr once (see colour.py) and that serves every output:

- the comp is `plate * (1 - a) + a * copy`, mixed in the plate's own YUV planes (the conversion is
  affine, so this is the same as mixing in RGB) and written only where a copy covers a pixel (chroma:
  per pair of columns), so every other pixel is the plate's own, bit for bit, and the plate's
  pixels are never converted;
- the layer holds the same copies alone, with straight (unpremultiplied) colour and alpha (a
  compositor gets the comp back as `plate * (1 - alpha) + layer * alpha`), either as 10-bit
  YUVA planes for ProRes 4444 or as BGRA bytes for PNG frames;
- the matte is the alpha as 10-bit luma.

The layer and matte frames are reused from frame to frame (see `PlaneFrame`): only the windows
drawn on last time are reset, so a frame costs the size of its copies, not of the picture.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import cv2
import numpy as np

from studio_tools.crowd.colour import Yuv, YuvFrame
from studio_tools.crowd.placement import Placement, Region
from studio_tools.crowd.source import CrowdSource

_TOP = 1023  # 10-bit code values


@dataclass
class OriginalPerson:
    """An original person in one frame, full-resolution box and its (analysis-resolution) mask."""

    box: tuple[float, float, float, float]
    mask: np.ndarray  # bool, the analysis detection's mask, covering `box`


@dataclass
class FrameStats:
    holdout_pixels: int = 0
    patches: int = 0
    luma_change: int = 0  # sum over the comp's luma of (new - old) code values: the region's mean follows from it


@dataclass
class Window:
    """One merged window of copies: straight colour, its Y'CbCr and alpha, x0 and width even."""

    x0: int
    y0: int
    colour: np.ndarray  # (h, w, 3) float32 straight B'G'R' 0..255, 0 where alpha <= 1e-4
    ycc: np.ndarray  # (h, w, 3) float32 code values of `colour`
    alpha: np.ndarray  # (h, w) float32 0..1


class LayerSink(Protocol):
    """Something a frame's windows are drawn into besides the comp: a layer or a matte frame."""

    def put(self, window: Window) -> None: ...


class PlaneFrame:
    """One reusable frame of planar pixels in the flat layout ffmpeg reads, plus where it was drawn on.

    `planes` are (name, x subsampling, background value); a fresh frame holds the background and
    `reset()` puts it back where windows were drawn, so untouched pixels are never rewritten.
    """

    def __init__(self, width: int, height: int, planes: Sequence[tuple[str, int, int]]) -> None:
        sizes = [width // sub * height for _name, sub, _value in planes]
        self.data = np.empty(sum(sizes), np.uint16)
        self.planes: dict[str, np.ndarray] = {}
        self._background: list[tuple[np.ndarray, int, int]] = []
        offset = 0
        for (name, sub, value), size in zip(planes, sizes, strict=True):
            view = self.data[offset : offset + size].reshape(height, width // sub)
            view.fill(value)
            self.planes[name] = view
            self._background.append((view, sub, value))
            offset += size
        self.dirty: list[tuple[int, int, int, int]] = []

    def reset(self, names: Sequence[str] | None = None) -> None:
        for x0, y0, x1, y1 in self.dirty:
            for (view, sub, value), name in zip(self._background, self.planes, strict=True):
                if names is None or name in names:
                    view[y0:y1, x0 // sub : x1 // sub] = value
        self.dirty.clear()


def _code(values: np.ndarray) -> np.ndarray:
    """Float code values to 10-bit integers (rounded, clipped)."""
    return np.clip(np.rint(values), 0, _TOP).astype(np.uint16)


class YuvaLayer:
    """The layer as yuva444p10le planes (ProRes 4444's own format): straight colour and 10-bit alpha."""

    def __init__(self, frame: PlaneFrame) -> None:
        self.frame = frame

    @staticmethod
    def blank(width: int, height: int, yuv: Yuv) -> PlaneFrame:
        black = 0 if yuv.full_range else 64
        return PlaneFrame(width, height, [("y", 1, black), ("u", 1, 512), ("v", 1, 512), ("a", 1, 0)])

    def put(self, window: Window) -> None:
        h, w = window.alpha.shape
        x0, y0 = window.x0, window.y0
        planes = self.frame.planes
        codes = _code(window.ycc)
        for c, name in enumerate("yuv"):
            planes[name][y0 : y0 + h, x0 : x0 + w] = codes[..., c]
        planes["a"][y0 : y0 + h, x0 : x0 + w] = _code(window.alpha * float(_TOP))
        self.frame.dirty.append((x0, y0, x0 + w, y0 + h))

    def reset(self) -> None:
        self.frame.reset()


class MatteFrame:
    """The matte as yuv422p10le (ProRes 422's own format): alpha as luma in the plate's range, neutral chroma."""

    def __init__(self, frame: PlaneFrame, yuv: Yuv) -> None:
        self.frame = frame
        self._offset, self._scale = (0.0, float(_TOP)) if yuv.full_range else (64.0, 876.0)

    @staticmethod
    def blank(width: int, height: int, yuv: Yuv) -> PlaneFrame:
        return PlaneFrame(width, height, [("y", 1, 0 if yuv.full_range else 64), ("u", 2, 512), ("v", 2, 512)])

    def put(self, window: Window) -> None:
        h, w = window.alpha.shape
        luma = self.frame.planes["y"]
        luma[window.y0 : window.y0 + h, window.x0 : window.x0 + w] = _code(self._offset + window.alpha * self._scale)
        self.frame.dirty.append((window.x0, window.y0, window.x0 + w, window.y0 + h))

    def reset(self) -> None:
        self.frame.reset(["y"])  # chroma is never drawn on


class BgraLayer:
    """The layer as straight BGRA bytes (PNG frames, and `Compositor.render`)."""

    def __init__(self, data: np.ndarray) -> None:
        self.data = data  # (h, w, 4) uint8, zero where nothing is drawn
        self.dirty: list[tuple[int, int, int, int]] = []

    @classmethod
    def blank(cls, width: int, height: int) -> BgraLayer:
        return cls(np.zeros((height, width, 4), np.uint8))

    def put(self, window: Window) -> None:
        h, w = window.alpha.shape
        out = self.data[window.y0 : window.y0 + h, window.x0 : window.x0 + w]
        out[..., :3] = np.clip(window.colour + 0.5, 0, 255).astype(np.uint8)
        out[..., 3] = np.clip(window.alpha * 255.0 + 0.5, 0, 255).astype(np.uint8)
        self.dirty.append((window.x0, window.y0, window.x0 + w, window.y0 + h))

    def reset(self) -> None:
        for x0, y0, x1, y1 in self.dirty:
            self.data[y0:y1, x0:x1] = 0
        self.dirty.clear()


@dataclass
class Compositor:
    source: CrowdSource
    placements: list[Placement]
    region: Region
    width: int
    height: int
    plate_noise: np.ndarray  # grain sigma per channel (B, G, R) of the plate
    grain: bool
    seed: int
    originals: list[list[OriginalPerson]] = field(default_factory=list)
    yuv: Yuv = field(default_factory=Yuv)
    _bank: np.ndarray | None = None
    _grain_sigma: dict[int, np.ndarray] = field(default_factory=dict)

    def prepare(self) -> None:
        """Per-placement grain strength and the seeded noise bank patches are cut from."""
        biggest_h = biggest_w = 8
        for p in self.placements:
            sprite = self.source.sprite(p.tube.id, 0)
            h, w = sprite.alpha.shape
            biggest_h = max(biggest_h, int(np.ceil(h * p.scale)) + 4)
            biggest_w = max(biggest_w, int(np.ceil(w * p.scale)) + 4)
            self._grain_sigma[p.index] = self.plate_noise * np.sqrt(max(0.0, 1.0 - _kept_noise(p.scale) ** 2))
        rng = np.random.default_rng([self.seed, 77])
        # twice the largest patch each way, so random offsets give plenty of distinct grain
        self._bank = rng.standard_normal((2 * biggest_h, 2 * biggest_w, 3), dtype=np.float32)

    def grain_sigma(self, placement: Placement) -> list[float]:
        return (
            [round(float(v), 3) for v in self._grain_sigma.get(placement.index, np.zeros(3))] if self.grain else [0.0, 0.0, 0.0]
        )

    def render(self, t: int, frame: YuvFrame) -> tuple[YuvFrame, np.ndarray, FrameStats]:
        """Draw frame t's copies onto `frame` (its planes modified in place where copies are) and into a new BGRA layer."""
        layer = BgraLayer.blank(self.width, self.height)
        stats = self.draw(t, frame, [layer])
        return frame, layer.data, stats

    def draw(self, t: int, frame: YuvFrame, sinks: Sequence[LayerSink]) -> FrameStats:
        """Draw frame t's copies onto `frame` in place and into each of `sinks` (layers, mattes)."""
        stats = FrameStats()
        rng = np.random.default_rng([self.seed, 31337, t])
        items = []
        for p in self.placements:
            shown = p.loop.shown(t, p.offset)
            items.append((p.foot_y(shown[0][0]) if shown else -1.0, p.index, p, shown))
        items.sort(key=lambda item: (item[0], item[1]))  # far (small foot y) first
        originals = self.originals[t] if t < len(self.originals) else []
        patches: list[tuple[int, int, np.ndarray, np.ndarray]] = []
        for depth, _i, p, shown in items:
            # draw per item so the rng stream is the same whatever is visible
            oy, ox = rng.random(2)
            if not shown:
                continue  # a copy that plays once, not on in this frame
            patch = self._patch(p, shown)
            if patch is None:
                continue
            x0, y0, colour, alpha = patch
            h, w = alpha.shape
            if p.colour != (0.0, 0.0, 0.0):
                colour = _lab_shift(colour, alpha, p.colour)
            if self.grain:
                sigma = self._grain_sigma[p.index]
                if sigma.max() > 0.05:
                    colour += _grain_patch(self._bank, oy, ox, h, w) * sigma.astype(np.float32)
            held = _holdout(originals, depth, x0, y0, w, h, alpha)
            if held is not None:
                before = alpha > 0.02
                alpha = alpha * (1.0 - held)
                stats.holdout_pixels += int((before & (held > 0.5)).sum())
            if self.region.mask is not None:
                alpha = alpha * self.region.mask[y0 : y0 + h, x0 : x0 + w].astype(np.float32)
            premult = np.clip(colour, 0.0, 255.0, out=colour) * alpha[..., None]
            patches.append((x0, y0, premult, alpha))
            stats.patches += 1
        for window in self._windows(patches):
            stats.luma_change += self._mix(frame, window)
            for sink in sinks:
                sink.put(window)
        return stats

    def _windows(self, patches: list[tuple[int, int, np.ndarray, np.ndarray]]) -> list[Window]:
        """Patches (premultiplied) merged where their windows, widened to whole chroma pairs, meet; far to near."""
        boxes = []
        for x0, y0, _premult, alpha in patches:
            h, w = alpha.shape
            boxes.append([x0 - x0 % 2, y0, min(self.width, x0 + w + (x0 + w) % 2), y0 + h])
        groups = [[i] for i in range(len(boxes))]
        spans = [list(box) for box in boxes]
        merged = True
        while merged:  # until no two windows meet: each is then written whole, without disturbing another
            merged = False
            for a in range(len(groups)):
                for b in range(a + 1, len(groups)):
                    if _boxes_meet(spans[a], spans[b]):
                        groups[a] += groups.pop(b)
                        spans[a] = _union([spans[a], spans.pop(b)])
                        merged = True
                        break
                if merged:
                    break
        windows = []
        for group, (wx0, wy0, wx1, wy1) in sorted(zip((sorted(g) for g in groups), spans, strict=True)):
            premult = np.zeros((wy1 - wy0, wx1 - wx0, 3), np.float32)
            alpha = np.zeros((wy1 - wy0, wx1 - wx0), np.float32)
            for j in group:  # far to near: premultiplied "over"
                x0, y0, p, a = patches[j]
                h, w = a.shape
                sub_p = premult[y0 - wy0 : y0 - wy0 + h, x0 - wx0 : x0 - wx0 + w]
                sub_a = alpha[y0 - wy0 : y0 - wy0 + h, x0 - wx0 : x0 - wx0 + w]
                if len(group) > 1:
                    keep = 1.0 - a
                    sub_p *= keep[..., None]
                    sub_a *= keep
                sub_p += p
                sub_a += a
            colour = np.zeros_like(premult)
            np.divide(premult, alpha[..., None], out=colour, where=alpha[..., None] > 1e-4)
            windows.append(Window(wx0, wy0, colour, self.yuv.bgr_to_ycc(colour), alpha))
        return windows

    def _mix(self, frame: YuvFrame, window: Window) -> int:
        """Mix one window into the comp's planes where it covers a pixel; returns the change of the luma sum."""
        alpha, ycc = window.alpha, window.ycc
        h, w = alpha.shape
        x0, y0 = window.x0, window.y0
        covered = alpha > 0
        luma = frame.y[y0 : y0 + h, x0 : x0 + w]
        old = luma.astype(np.float32)
        new = _code(old + alpha * (ycc[..., 0] - old))
        change = int(new.sum(where=covered, dtype=np.int64)) - int(luma.sum(where=covered, dtype=np.int64))
        np.copyto(luma, new, where=covered)
        # chroma: one sample per pair of columns; the pair's mean of a * copy, over the plate's own sample
        pairs = covered[:, 0::2] | covered[:, 1::2]
        pair_alpha = 0.5 * (alpha[:, 0::2] + alpha[:, 1::2])
        for plane, c in ((frame.u, 1), (frame.v, 2)):
            target = plane[y0 : y0 + h, x0 // 2 : (x0 + w) // 2]
            drawn = alpha * ycc[..., c]
            mixed = target * (1.0 - pair_alpha) + 0.5 * (drawn[:, 0::2] + drawn[:, 1::2])
            np.copyto(target, _code(mixed), where=pairs)
        return change

    def _patch(self, p: Placement, shown: list[tuple[int, float]]):
        """The copy's pixels for this frame: (x0, y0, straight colour float32 (h, w, 3), alpha float32 (h, w))."""
        parts = []
        for k, weight in shown:
            sprite = self.source.sprite(p.tube.id, k)
            sh, sw = sprite.alpha.shape
            # window corners in the output frame
            xa, xb = p.transform_x(float(sprite.x)), p.transform_x(float(sprite.x + sw))
            ya, yb = p.transform_y(float(sprite.y)), p.transform_y(float(sprite.y + sh))
            parts.append((sprite, weight, min(xa, xb), ya, max(xa, xb), yb))
        x0 = max(0, int(np.floor(min(q[2] for q in parts))) - 1)
        y0 = max(0, int(np.floor(min(q[3] for q in parts))) - 1)
        x1 = min(self.width, int(np.ceil(max(q[4] for q in parts))) + 1)
        y1 = min(self.height, int(np.ceil(max(q[5] for q in parts))) + 1)
        if x1 <= x0 or y1 <= y0:
            return None
        w, h = x1 - x0, y1 - y0
        premult = alpha = None
        for sprite, weight, left, top, _right, _bottom in parts:
            sh, sw = sprite.alpha.shape
            rgba = np.empty((sh, sw, 4), np.float32)  # premultiplied, at the sprite's size
            a = rgba[..., 3]
            np.divide(sprite.alpha, np.float32(255.0), out=a)
            np.multiply(sprite.image, a[..., None], out=rgba[..., :3])
            nw, nh = max(1, int(round(sw * p.scale))), max(1, int(round(sh * p.scale)))
            if (nw, nh) != (sw, sh):
                rgba = cv2.resize(rgba, (nw, nh), interpolation=cv2.INTER_AREA if p.scale < 1 else cv2.INTER_LINEAR)
            sx, sy = sw * p.scale / nw, sh * p.scale / nh  # residual scale after rounding the size
            if p.mirrored:  # resized column j lands at right edge - (j + 0.5) * sx
                m = np.array([[-sx, 0.0, left + nw * sx - 0.5 * sx - x0 - 0.5], [0.0, sy, top - y0 - 0.5 + 0.5 * sy]])
            else:
                m = np.array([[sx, 0.0, left - x0 - 0.5 + 0.5 * sx], [0.0, sy, top - y0 - 0.5 + 0.5 * sy]])
            warped = cv2.warpAffine(rgba, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
            if len(parts) == 1 and weight == 1.0:
                premult, alpha = warped[..., :3], warped[..., 3]
                continue
            if premult is None or alpha is None:
                premult, alpha = np.zeros((h, w, 3), np.float32), np.zeros((h, w), np.float32)
            premult += warped[..., :3] * np.float32(weight)
            alpha += warped[..., 3] * np.float32(weight)
        assert premult is not None and alpha is not None
        alpha = np.clip(alpha, 0.0, 1.0)
        colour = np.zeros((h, w, 3), np.float32)
        np.divide(premult, alpha[..., None], out=colour, where=alpha[..., None] > 1e-4)
        return x0, y0, colour, alpha


def _boxes_meet(a: Sequence[int], b: Sequence[int]) -> bool:
    return min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])


def _union(boxes: Sequence[Sequence[int]]) -> list[int]:
    return [min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)]


def _grain_patch(bank: np.ndarray, oy: float, ox: float, h: int, w: int) -> np.ndarray:
    """An (h, w, 3) piece of the noise bank at a relative offset; the bank repeats if the patch is bigger."""
    bh, bw = bank.shape[:2]
    if h > bh or w > bw:  # a patch bigger than the bank
        bank = np.tile(bank, (-(-h // bh), -(-w // bw), 1))
        bh, bw = bank.shape[:2]
    by, bx = int(oy * (bh - h)), int(ox * (bw - w))
    return bank[by : by + h, bx : bx + w]


def _lab_shift(colour: np.ndarray, alpha: np.ndarray, shift: tuple[float, float, float]) -> np.ndarray:
    """Shift straight BGR colour (float32, 0..255) by (L, a, b) in CIELAB, where alpha > 0 (in place)."""
    covered = alpha > 0
    rows, cols = np.flatnonzero(covered.any(axis=1)), np.flatnonzero(covered.any(axis=0))
    if not len(rows):
        return colour
    box = np.s_[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    part = colour[box]
    scaled = np.clip(part, 0, 255)
    scaled /= np.float32(255.0)
    lab = cv2.cvtColor(scaled, cv2.COLOR_BGR2LAB)
    lab += np.array(shift, np.float32)
    np.clip(lab[..., 0], 0.0, 100.0, out=lab[..., 0])
    out = cv2.cvtColor(lab, cv2.COLOR_LAB2BGR)
    out *= np.float32(255.0)
    np.copyto(part, out, where=covered[box][..., None])
    return colour


def _holdout(
    originals: list[OriginalPerson], depth: float, x0: int, y0: int, w: int, h: int, alpha: np.ndarray
) -> np.ndarray | None:
    """Coverage (h, w) of the original people nearer the camera than `depth` over this patch, or None."""
    held = None
    for person in originals:
        bx0, by0, bx1, by1 = person.box
        if by1 <= depth:  # the original stands farther away: the copy covers it
            continue
        if bx1 <= x0 or bx0 >= x0 + w or by1 <= y0 or by0 >= y0 + h:
            continue
        mh, mw = person.mask.shape
        sx, sy = (bx1 - bx0) / mw, (by1 - by0) / mh
        m = np.array([[sx, 0.0, bx0 - x0 - 0.5 + 0.5 * sx], [0.0, sy, by0 - y0 - 0.5 + 0.5 * sy]])
        cover = cv2.warpAffine(person.mask.astype(np.float32), m, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
        held = cover if held is None else np.maximum(held, cover)
    return held


def _kept_noise(scale: float) -> float:
    """Fraction of white noise's sigma that survives the resize-and-warp a copy at `scale` goes through.

    Measured, not modelled: a fixed field of noise is pushed through the same operations (at a
    quarter-pixel offset, between the best and worst sub-pixel cases).
    """
    rng = np.random.default_rng(5)
    noise = rng.standard_normal((96, 96)).astype(np.float32)
    n = max(8, int(round(96 * scale)))
    resized = cv2.resize(noise, (n, n), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR) if n != 96 else noise
    m = np.array([[1.0, 0.0, 0.25], [0.0, 1.0, 0.25]])
    warped = cv2.warpAffine(resized, m, (n, n), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    inner = warped[4:-4, 4:-4]
    return float(min(1.0, inner.std()))
