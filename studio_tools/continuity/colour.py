"""Colour measurement: CIELAB, CIEDE2000, grey-world white balance and a per-channel colour transform.

Everything here works on RGB (not BGR) arrays: uint8 frames as decoded, or float32 in 0..1.
CIELAB is D65 from sRGB (OpenCV's conversion applies the sRGB transfer curve for float input too).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

# sRGB (D65) primaries: linear RGB -> XYZ.
_RGB_TO_XYZ = np.array(
    [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]],
    dtype=np.float64,
)


def to_float(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB -> float32 in 0..1 (float input is passed through as float32)."""
    if rgb.dtype == np.uint8:
        return rgb.astype(np.float32) * (1.0 / 255.0)
    return rgb.astype(np.float32, copy=False)


def channel_max(rgb: np.ndarray) -> np.ndarray:
    """Per-pixel maximum over the three channels (much faster than `.max(axis=2)` on uint8)."""
    return np.maximum(np.maximum(rgb[..., 0], rgb[..., 1]), rgb[..., 2])


def channel_min(rgb: np.ndarray) -> np.ndarray:
    return np.minimum(np.minimum(rgb[..., 0], rgb[..., 1]), rgb[..., 2])


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB image (H, W, 3) -> float32 CIELAB (L* 0..100, a*, b* signed)."""
    return cv2.cvtColor(np.clip(to_float(rgb), 0.0, 1.0), cv2.COLOR_RGB2Lab)


def _srgb_to_linear(x: np.ndarray) -> np.ndarray:
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4).astype(np.float32)


# uint8 input has 256 values: the curve looked up, the same numbers as computed, at a tenth of the cost
_SRGB_TO_LINEAR_U8 = _srgb_to_linear(to_float(np.arange(256, dtype=np.uint8)))


def srgb_to_linear(rgb: np.ndarray) -> np.ndarray:
    if rgb.dtype == np.uint8:
        return _SRGB_TO_LINEAR_U8[rgb]
    return _srgb_to_linear(to_float(rgb))


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return np.where(x <= 0.0031308, x * 12.92, 1.055 * np.power(x, 1 / 2.4) - 0.055).astype(np.float32)


def ciede2000(lab1: np.ndarray, lab2: np.ndarray, k_l: float = 1.0, k_c: float = 1.0, k_h: float = 1.0) -> np.ndarray:
    """CIEDE2000 colour difference (Sharma, Wu & Dalal 2005), vectorised over the last axis (L*, a*, b*)."""
    lab1 = np.asarray(lab1, dtype=np.float64)
    lab2 = np.asarray(lab2, dtype=np.float64)
    l1, a1, b1 = lab1[..., 0], lab1[..., 1], lab1[..., 2]
    l2, a2, b2 = lab2[..., 0], lab2[..., 1], lab2[..., 2]

    c1 = np.hypot(a1, b1)
    c2 = np.hypot(a2, b2)
    c_bar7 = ((c1 + c2) / 2.0) ** 7
    g = 0.5 * (1.0 - np.sqrt(c_bar7 / (c_bar7 + 25.0**7)))
    a1p = (1.0 + g) * a1
    a2p = (1.0 + g) * a2
    c1p = np.hypot(a1p, b1)
    c2p = np.hypot(a2p, b2)
    h1p = np.where((a1p == 0) & (b1 == 0), 0.0, np.degrees(np.arctan2(b1, a1p)) % 360.0)
    h2p = np.where((a2p == 0) & (b2 == 0), 0.0, np.degrees(np.arctan2(b2, a2p)) % 360.0)

    dl = l2 - l1
    dc = c2p - c1p
    chroma_product = c1p * c2p
    dh = h2p - h1p
    dh = np.where(dh > 180.0, dh - 360.0, np.where(dh < -180.0, dh + 360.0, dh))
    dh = np.where(chroma_product == 0, 0.0, dh)
    d_hue = 2.0 * np.sqrt(chroma_product) * np.sin(np.radians(dh / 2.0))

    l_bar = (l1 + l2) / 2.0
    c_bar_p = (c1p + c2p) / 2.0
    h_sum = h1p + h2p
    h_bar = np.where(
        chroma_product == 0,
        h_sum,
        np.where(np.abs(h1p - h2p) <= 180.0, h_sum / 2.0, np.where(h_sum < 360.0, (h_sum + 360.0) / 2.0, (h_sum - 360.0) / 2.0)),
    )
    t = (
        1.0
        - 0.17 * np.cos(np.radians(h_bar - 30.0))
        + 0.24 * np.cos(np.radians(2.0 * h_bar))
        + 0.32 * np.cos(np.radians(3.0 * h_bar + 6.0))
        - 0.20 * np.cos(np.radians(4.0 * h_bar - 63.0))
    )
    d_theta = 30.0 * np.exp(-(((h_bar - 275.0) / 25.0) ** 2))
    c_bar_p7 = c_bar_p**7
    r_c = 2.0 * np.sqrt(c_bar_p7 / (c_bar_p7 + 25.0**7))
    s_l = 1.0 + 0.015 * (l_bar - 50.0) ** 2 / np.sqrt(20.0 + (l_bar - 50.0) ** 2)
    s_c = 1.0 + 0.045 * c_bar_p
    s_h = 1.0 + 0.015 * c_bar_p * t
    r_t = -np.sin(np.radians(2.0 * d_theta)) * r_c
    term_l = dl / (k_l * s_l)
    term_c = dc / (k_c * s_c)
    term_h = d_hue / (k_h * s_h)
    return np.sqrt(np.maximum(0.0, term_l**2 + term_c**2 + term_h**2 + r_t * term_c * term_h))


def median_lab(lab: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray | None:
    """Per-channel median of the (masked) pixels; None when there are too few to say anything."""
    pixels = lab.reshape(-1, 3) if mask is None else lab[mask]
    if len(pixels) < 12:
        return None
    return np.median(pixels, axis=0)


@dataclass(frozen=True)
class WhitePoint:
    """Grey-world estimate of the light: the mean linear RGB of the usable pixels, as chromaticity."""

    rgb: tuple[float, float, float]  # mean linear RGB, for reference
    x: float
    y: float
    u: float  # CIE 1960 UCS
    v: float
    cct: float | None  # correlated colour temperature in kelvin (McCamy), None far off the locus
    pixels: int


def grey_world(rgb: np.ndarray, mask: np.ndarray | None = None) -> WhitePoint | None:
    """Grey-world white point over `mask`, leaving out clipped and near-black pixels (they carry no colour)."""
    linear = srgb_to_linear(rgb).reshape(-1, 3)
    brightest = channel_max(linear)
    keep = (brightest < 0.97) & (brightest > 0.005)
    if mask is not None:
        keep &= mask.reshape(-1)
    if keep.sum() < 200:
        return None
    mean = linear[keep].mean(axis=0).astype(np.float64)
    return white_point(mean, int(keep.sum()))


def white_point(mean_linear_rgb: np.ndarray, pixels: int = 0) -> WhitePoint | None:
    """The chromaticity (xy, CIE 1960 uv, colour temperature) of a linear RGB colour taken as white."""
    mean = np.asarray(mean_linear_rgb, np.float64)
    xyz = _RGB_TO_XYZ @ mean
    total = float(xyz.sum())
    if total <= 1e-9:
        return None
    x, y = xyz[0] / total, xyz[1] / total
    denom = -2.0 * x + 12.0 * y + 3.0
    u, v = 4.0 * x / denom, 6.0 * y / denom
    return WhitePoint(
        rgb=(float(mean[0]), float(mean[1]), float(mean[2])),
        x=float(x),
        y=float(y),
        u=float(u),
        v=float(v),
        cct=mccamy_cct(x, y),
        pixels=pixels,
    )


def mccamy_cct(x: float, y: float) -> float | None:
    """McCamy's cubic approximation of CCT from CIE xy; None outside about 1700-15000 K or when the
    colour is too far from the black-body line for a colour temperature to mean anything (|Duv| > 0.05)."""
    if abs(0.1858 - y) < 1e-9:
        return None
    n = (x - 0.3320) / (0.1858 - y)
    cct = 449.0 * n**3 + 3525.0 * n**2 + 6823.3 * n + 5520.33
    if not math.isfinite(cct) or not 1700.0 <= cct <= 15000.0:
        return None
    denom = -2.0 * x + 12.0 * y + 3.0
    u, v = 4.0 * x / denom, 6.0 * y / denom
    pu, pv = planckian_uv(cct)
    if math.hypot(u - pu, v - pv) > 0.05:
        return None
    return float(cct)


def planckian_uv(kelvin: float) -> tuple[float, float]:
    """CIE 1960 uv of a black body at `kelvin` (Krystek's rational approximation, 1000-15000 K)."""
    t = kelvin
    u = (0.860117757 + 1.54118254e-4 * t + 1.28641212e-7 * t * t) / (1.0 + 8.42420235e-4 * t + 7.08145163e-7 * t * t)
    v = (0.317398726 + 4.22806245e-5 * t + 4.20481691e-8 * t * t) / (1.0 - 2.89741816e-5 * t + 1.61456053e-7 * t * t)
    return u, v


def mean_lightness(lab: np.ndarray, mask: np.ndarray | None = None) -> float | None:
    values = lab[..., 0] if mask is None else lab[..., 0][mask]
    if values.size < 200:
        return None
    return float(values.mean())


@dataclass(frozen=True)
class ColourTransform:
    """Per-channel `gain * x + offset` in linear light, mapping one frame's colours onto another's.

    Linear light is where an exposure or a white-balance change is a plain per-channel gain (von
    Kries), so the same model covers both; the offset takes up flare and lifted blacks.
    """

    gain: tuple[float, float, float]
    offset: tuple[float, float, float]

    def apply(self, rgb: np.ndarray) -> np.ndarray:
        """Transform an sRGB image; returns uint8 when given uint8, float32 otherwise."""
        linear = srgb_to_linear(rgb) * np.array(self.gain, np.float32) + np.array(self.offset, np.float32)
        out = linear_to_srgb(linear)
        if rgb.dtype == np.uint8:
            return (out * 255.0 + 0.5).astype(np.uint8)
        return out

    def apply_lab(self, lab: np.ndarray) -> np.ndarray:
        """Transform colours given as Lab (any shape ending in 3) and return Lab."""
        lab = np.asarray(lab, np.float32)
        rgb = np.clip(cv2.cvtColor(lab.reshape(1, -1, 3), cv2.COLOR_Lab2RGB), 0.0, 1.0)
        return rgb_to_lab(self.apply(rgb)).reshape(lab.shape)

    @property
    def is_identity(self) -> bool:
        return all(abs(g - 1) < 1e-6 for g in self.gain) and all(abs(o) < 1e-6 for o in self.offset)

    def inverse(self) -> ColourTransform:
        return ColourTransform(
            tuple(1.0 / g for g in self.gain),  # type: ignore[arg-type]
            tuple(-o / g for g, o in zip(self.gain, self.offset, strict=True)),  # type: ignore[arg-type]
        )


IDENTITY = ColourTransform((1.0, 1.0, 1.0), (0.0, 0.0, 0.0))


def fit_colour_transform(
    source: np.ndarray, target: np.ndarray, mask: np.ndarray, *, max_samples: int = 60000
) -> ColourTransform:
    """Least-squares per-channel affine map, in linear light, from `source` to `target` over `mask`.

    Two passes: the second drops the worst fifth of the residuals, which is where changed objects,
    people missed by the detector and the like live. Pixels clipped or crushed on either side are left
    out from the start (they no longer say how bright the scene was). Gains are kept within 0.1..10 so
    a bad fit cannot invent a wild correction.
    """
    src = to_float(source).reshape(-1, 3)
    dst = to_float(target).reshape(-1, 3)
    keep = mask.reshape(-1).copy()
    keep &= (channel_max(src) < 0.98) & (channel_max(dst) < 0.98) & (channel_min(src) > 0.01) & (channel_min(dst) > 0.01)
    idx = np.flatnonzero(keep)
    if idx.size < 500:
        return IDENTITY
    if idx.size > max_samples:
        idx = idx[np.linspace(0, idx.size - 1, max_samples).astype(np.int64)]
    s = srgb_to_linear(src[idx]).astype(np.float64)
    d = srgb_to_linear(dst[idx]).astype(np.float64)
    gains, offsets = [], []
    for c in range(3):
        x, y = s[:, c], d[:, c]
        sel = np.ones(len(x), bool)
        gain, offset = 1.0, 0.0
        for _ in range(2):
            a = np.stack([x[sel], np.ones(int(sel.sum()))], axis=1)
            (gain, offset), *_ = np.linalg.lstsq(a, y[sel], rcond=None)
            residual = np.abs(gain * x + offset - y)
            sel = residual <= np.quantile(residual, 0.8)
        gains.append(float(np.clip(gain, 0.1, 10.0)))
        offsets.append(float(np.clip(offset, -0.2, 0.2)))
    return ColourTransform(tuple(gains), tuple(offsets))
