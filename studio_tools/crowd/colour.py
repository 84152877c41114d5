"""The plate's own pixel format at full resolution: planar 4:2:2 YUV at 10 bits, and RGB for patches.

Full-resolution passes read the plate as yuv422p10le (ProRes's format: no conversion at all for a
ProRes plate, only chroma and bit-depth up-sampling for an 8-bit 4:2:0 one) and the comp is encoded
from the same planes, so every pixel no copy touches reaches the comp exactly as it was read. Only
the patches that are drawn on, and the windows around people that are copied, are converted to BGR
(floating point, 0..255) with the plate's matrix and range, and converted back.

Chroma is taken to sit between each pair of luma columns, as ffmpeg's scaler reads and writes
4:2:2 (which is what decodes the comp for most people): it is interpolated (cubic) to full width
and decimated by averaging each pair.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np

_KR_KB = {
    "bt601": (0.299, 0.114),
    "bt709": (0.2126, 0.0722),
    "bt2020": (0.2627, 0.0593),
    "smpte240m": (0.212, 0.087),
    "fcc": (0.30, 0.11),
}


@dataclass(frozen=True)
class YuvFrame:
    """One yuv422p10le frame: a flat uint16 buffer (what ffmpeg reads and writes) and views of its planes."""

    data: np.ndarray  # (2 * width * height,) uint16
    y: np.ndarray  # (height, width)
    u: np.ndarray  # (height, width // 2)
    v: np.ndarray

    @classmethod
    def from_buffer(cls, data: np.ndarray, width: int, height: int) -> YuvFrame:
        n = width * height
        half = n // 2
        return cls(
            data,
            data[:n].reshape(height, width),
            data[n : n + half].reshape(height, width // 2),
            data[n + half :].reshape(height, width // 2),
        )

    @classmethod
    def blank(cls, width: int, height: int) -> YuvFrame:
        return cls.from_buffer(np.zeros(2 * width * height, np.uint16), width, height)

    @property
    def width(self) -> int:
        return self.y.shape[1]

    @property
    def height(self) -> int:
        return self.y.shape[0]

    @staticmethod
    def frame_bytes(width: int, height: int) -> int:
        return 4 * width * height


@dataclass(frozen=True)
class Yuv:
    """Conversion between 10-bit Y'CbCr (code values) and B'G'R' floats on a 0..255 scale."""

    matrix: str = "bt601"
    full_range: bool = False

    @property
    def _k(self) -> tuple[float, float, float]:
        kr, kb = _KR_KB.get(self.matrix, _KR_KB["bt601"])
        return kr, 1.0 - kr - kb, kb

    def _scales(self) -> tuple[float, float, float]:
        """(luma offset, luma range, chroma range) in 10-bit code values."""
        return (0.0, 1023.0, 1023.0) if self.full_range else (64.0, 876.0, 896.0)

    def _to_bgr_matrix(self) -> np.ndarray:
        """3x4 affine matrix: [Y, U, V] code values to [B, G, R] on 0..255."""
        return self._to_bgr

    @cached_property
    def _to_bgr(self) -> np.ndarray:
        kr, kg, kb = self._k
        offset, luma, chroma = self._scales()
        a_r, a_b = 2.0 * (1.0 - kr), 2.0 * (1.0 - kb)
        rows = np.array(
            [
                [1.0 / luma, a_b / chroma, 0.0],
                [1.0 / luma, -kb * a_b / (kg * chroma), -kr * a_r / (kg * chroma)],
                [1.0 / luma, 0.0, a_r / chroma],
            ]
        )
        shift = -rows @ np.array([offset, 512.0, 512.0])
        return (255.0 * np.hstack([rows, shift[:, None]])).astype(np.float64)

    def to_bgr(self, y: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Full-width planes (float or int) to BGR float32, 0..255 (not clipped)."""
        ycc = cv2.merge([y.astype(np.float32), u.astype(np.float32), v.astype(np.float32)])
        return cv2.transform(ycc, self._to_bgr_matrix())

    @cached_property
    def _from_bgr(self) -> np.ndarray:
        """3x4 affine matrix: [B, G, R] on 0..255 to [Y, U, V] code values."""
        m = self._to_bgr_matrix()
        inverse = np.linalg.inv(m[:, :3])
        return np.hstack([inverse, (-inverse @ m[:, 3])[:, None]])

    def from_bgr(self, bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """BGR 0..255 to full-width float32 code values (y, u, v)."""
        ycc = self.bgr_to_ycc(np.clip(bgr.astype(np.float32), 0.0, 255.0))
        return ycc[..., 0], ycc[..., 1], ycc[..., 2]

    def bgr_to_ycc(self, bgr: np.ndarray) -> np.ndarray:
        """(h, w, 3) float32 BGR (0..255, not clipped here) to (h, w, 3) float32 code values Y, U, V."""
        return cv2.transform(bgr, self._from_bgr)

    def patch_to_bgr(self, frame: YuvFrame, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
        """frame[y0:y1, x0:x1] as BGR float32; x0 and x1 must be even."""
        return self.to_bgr(frame.y[y0:y1, x0:x1], *(upsample(c, x0, x1) for c in (frame.u[y0:y1], frame.v[y0:y1])))

    def write_patch(self, frame: YuvFrame, x0: int, y0: int, bgr: np.ndarray, changed: np.ndarray) -> None:
        """Put BGR pixels back into the planes where `changed`; chroma pairs with no changed pixel are left alone."""
        h, w = changed.shape
        y, u, v = self.from_bgr(bgr)
        top = 1023
        luma = frame.y[y0 : y0 + h, x0 : x0 + w]
        np.copyto(luma, np.clip(np.rint(y), 0, top).astype(np.uint16), where=changed)
        pairs = changed[:, 0::2] | changed[:, 1::2]
        for plane, full in ((frame.u, u), (frame.v, v)):
            target = plane[y0 : y0 + h, x0 // 2 : (x0 + w) // 2]
            np.copyto(target, np.clip(np.rint(decimate(full)), 0, top).astype(np.uint16), where=pairs)


def upsample(chroma: np.ndarray, x0: int, x1: int) -> np.ndarray:
    """Columns x0..x1 (even) of a half-width chroma plane, interpolated (cubic) to full width (float32)."""
    c0, c1 = x0 // 2, x1 // 2
    first = max(0, c0 - 1)  # one sample either side of the patch, for its edge columns (replicated beyond)
    last = min(chroma.shape[1], c1 + 1)
    samples = np.ascontiguousarray(chroma[:, first:last], dtype=np.float32)
    if samples.size == 0:
        return np.zeros((chroma.shape[0], x1 - x0), np.float32)
    # chroma sample i sits between columns 2i and 2i + 1, so column x reads sample (x - 0.5) / 2: exactly what a
    # 2x cubic resize does (and much faster than the equivalent affine warp)
    full = cv2.resize(samples, (2 * samples.shape[1], samples.shape[0]), interpolation=cv2.INTER_CUBIC)
    start = 2 * (c0 - first)
    return full[:, start : start + (x1 - x0)]


def decimate(full: np.ndarray) -> np.ndarray:
    """Full-width chroma (even width) to half width: the mean of each pair of columns."""
    return 0.5 * (full[:, 0::2] + full[:, 1::2])
