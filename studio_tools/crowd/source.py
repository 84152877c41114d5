"""Where added people come from: the `CrowdSource` seam and its one implementation.

A source offers *tubes* (one person over consecutive frames, with a box per frame in the main
plate's full-resolution pixel coordinates) and, for the tubes the planner picked, *sprites*: the
person's pixels and alpha in a window around them, frame by frame. Placement, perspective and
compositing only ever talk to this interface, so another source of people (a generative model, a
library of shot extras) can be added later without touching them.

The only source shipped is `PlatePeopleSource`: the people of the input plate (and of any tile
plates shot from the same camera), cut out by background subtraction and, with the completeness gate
on, the pose model's person mask (BlazePose, see people.py). Nothing is generated, and the report says so.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import cv2
import numpy as np

from studio_tools.crowd.analysis import Detection, PlateAnalysis, Tube, channel_max, estimate_noise, pair_sigma
from studio_tools.crowd.colour import Yuv, YuvFrame, upsample
from studio_tools.crowd.median import median_half_up
from studio_tools.crowd.video import YUV_FORMAT, read_frames, yuv_for
from studio_tools.vision.pose import pose_on_box

MEDIAN_SAMPLE_PAIRS = 8  # full-resolution background: median of 16 frames taken as 8 neighbouring pairs
EXTRACT_THREADS = 2  # sprites are cut on two threads (OpenCV and NumPy let go of the GIL for the pixel work)
EXTRACT_CHUNK = 25  # frames of a tube per task
POSE_EVERY = 2  # the pose model's mask is made every this many frames of a tube; it follows the box between


@dataclass(frozen=True)
class SourceTube:
    """A person the planner may copy. Boxes are x0, y0, x1, y1 in full-resolution pixels, one per frame."""

    id: str
    plate: str  # the user's name of the clip it comes from
    plate_index: int  # 0: the main plate, 1...: tile plates
    start: int  # first frame in that clip
    boxes: np.ndarray  # (length, 4) float64
    confirmed: bool | None  # the person detector's verdict; None: not checked
    # (length, 4) bool: the frame edges (left, top, right, bottom) the person is cut by as they walk in or out of view
    # at the tube's ends (their box is then the part in view); None: never cut
    edges: np.ndarray | None = None

    @property
    def length(self) -> int:
        return len(self.boxes)

    @cached_property
    def cut(self) -> np.ndarray:
        """(length,) bool: the person is cut by the frame edge (walking in or out of view)."""
        return np.zeros(self.length, bool) if self.edges is None else self.edges.any(axis=1)

    @cached_property
    def whole(self) -> np.ndarray:
        """Indices of the frames where the person is seen whole (all of them when the tube has no walk-in or out)."""
        index = np.flatnonzero(~self.cut)
        return index if len(index) else np.arange(self.length)

    @cached_property
    def feet(self) -> np.ndarray:
        """(length, 2): bottom centre of each box."""
        return np.stack([(self.boxes[:, 0] + self.boxes[:, 2]) / 2, self.boxes[:, 3]], axis=1)

    @cached_property
    def reference(self) -> tuple[float, float]:
        """The mean foot point while the person is seen whole: what a placement moves onto its anchor."""
        feet = self.feet[self.whole]
        return float(feet[:, 0].mean()), float(feet[:, 1].mean())

    @cached_property
    def heights(self) -> np.ndarray:
        return self.boxes[:, 3] - self.boxes[:, 1]

    @cached_property
    def median_height(self) -> float:
        return float(np.median(self.heights[self.whole]))


@dataclass(frozen=True)
class Sprite:
    """One frame of a tube: BGR pixels and alpha (uint8) of a window whose top-left is (x, y) in the source frame."""

    image: np.ndarray
    alpha: np.ndarray
    x: int
    y: int


@runtime_checkable
class CrowdSource(Protocol):
    name: str
    description: str
    generative: bool  # True only for a source that invents people; the report shows it

    def tubes(self) -> list[SourceTube]: ...

    def prepare(self, tube_ids: list[str], progress: Callable[[float], None], check: Callable[[], None]) -> None:
        """Make the sprites of these tubes ready for `sprite()`; called once, after planning."""
        ...

    def sprite(self, tube_id: str, k: int) -> Sprite:
        """Frame k (0-based, within the tube) of a prepared tube."""
        ...

    def report(self) -> dict[str, Any]: ...


class PlatePeopleSource:
    """People cut from the plate itself (and from tile plates of the same camera)."""

    name = "plate_people"
    description = (
        "people cut out of the input plate and any tile plates by background subtraction and tracked through time; "
        "nothing is generated"
    )
    generative = False

    def __init__(
        self,
        analyses: list[PlateAnalysis],
        scratch: Path,
        *,
        clean_plate: np.ndarray | None = None,
        feather: float = 1.0,
        pose_matte: bool = False,
    ) -> None:
        """`pose_matte`: add the pose model's person mask to the background difference (see `_pose_masks`)."""
        self._analyses = analyses
        self._scratch = scratch
        self._clean = clean_plate
        self._feather = feather
        self._pose_matte = pose_matte
        self.pose_seconds: list[float] = []  # each pose-model call made for the mattes (list.append is thread-safe)
        self._tubes: dict[str, tuple[Tube, SourceTube]] = {}
        for analysis in analyses:
            f = analysis.factor
            for tube in analysis.tubes:
                boxes = tube.boxes * f
                self._tubes[tube.id] = (
                    tube,
                    SourceTube(
                        tube.id, analysis.video.name, analysis.index, tube.start, boxes, tube.confirmed, tube.edges.copy()
                    ),
                )
        self._store: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # id -> (frames BGRA, window origins)
        self.backgrounds: dict[int, np.ndarray] = {}
        self.noise: dict[int, np.ndarray] = {}  # per plate: grain sigma per channel (B, G, R), full resolution
        self.background_method: dict[int, str] = {}

    def tubes(self) -> list[SourceTube]:
        return [entry[1] for entry in self._tubes.values()]

    def prepare(self, tube_ids: list[str], progress: Callable[[float], None], check: Callable[[], None]) -> None:
        wanted = [self._tubes[i] for i in tube_ids]
        plates = sorted({src.plate_index for _t, src in wanted} | {0})
        done = 0
        for plate_index in plates:
            analysis = self._analyses[plate_index]
            tubes = [(t, s) for t, s in wanted if s.plate_index == plate_index]
            self._extract(analysis, tubes, check, lambda frac, d=done: progress((d + frac) / len(plates)))
            done += 1

    def _extract(
        self,
        analysis: PlateAnalysis,
        tubes: list[tuple[Tube, SourceTube]],
        check: Callable[[], None],
        progress: Callable[[float], None],
    ) -> None:
        """One full-resolution pass over a plate: window pixels of its tubes, and frames for its background."""
        video = analysis.video
        n = analysis.frame_count
        pair_starts = np.unique(np.linspace(0, max(0, n - 2), min(MEDIAN_SAMPLE_PAIRS, max(1, n - 1))).round().astype(int))
        sample_at = sorted({int(i) for i in pair_starts} | {int(min(n - 1, i + 1)) for i in pair_starts})
        samples: dict[int, np.ndarray] = {}
        windows: dict[str, tuple[np.ndarray, np.ndarray, int, int]] = {}
        for _tube, src in tubes:
            pad = max(3.0, 0.08 * float(np.median(src.heights)))
            win_w = 2 * int(np.ceil(((src.boxes[:, 2] - src.boxes[:, 0]).max() + 2 * pad) / 2))  # even: whole chroma pairs
            win_h = int(np.ceil((src.boxes[:, 3] - src.boxes[:, 1]).max() + 2 * pad))
            centres = np.stack([(src.boxes[:, 0] + src.boxes[:, 2]) / 2, (src.boxes[:, 1] + src.boxes[:, 3]) / 2], axis=1)
            left = 2 * np.round((centres[:, 0] - win_w / 2) / 2)
            origins = np.stack([left, np.round(centres[:, 1] - win_h / 2)], axis=1).astype(int)
            store = np.lib.format.open_memmap(
                self._scratch / f"{src.id}.sprites.npy", mode="w+", dtype=np.uint8, shape=(src.length, win_h, win_w, 4)
            )
            windows[src.id] = (store, origins, win_w, win_h)
        by_frame: dict[int, list[tuple[Tube, SourceTube]]] = {}
        for tube, src in tubes:
            for k in range(src.length):
                by_frame.setdefault(src.start + k, []).append((tube, src))
        yuv = yuv_for(video)
        full = analysis.full
        # worker threads never call `check` (it may ask a database): this thread does, while it waits for them
        stop = threading.Event()
        with ThreadPoolExecutor(max_workers=EXTRACT_THREADS, thread_name_prefix="crowd-extract") as pool:
            futures: list[Future] = []
            try:
                if full is not None:
                    # the frames the analysis pass kept: only those needed are read, the windows with their alpha below
                    def sample(index: int) -> np.ndarray:
                        return _to_uint8(yuv.patch_to_bgr(full.view(index), 0, 0, full.width, full.height))

                    futures = [pool.submit(sample, i) for i in sample_at]
                    for index, future in zip(sample_at, futures, strict=True):
                        samples[index] = _result(future, check)
                else:
                    for index, frame in enumerate(read_frames(video, pix_fmt=YUV_FORMAT)):
                        check()
                        if index >= n:
                            break
                        if index in sample_at:
                            samples[index] = _to_uint8(yuv.patch_to_bgr(frame, 0, 0, frame.width, frame.height))
                        for _tube, src in by_frame.get(index, []):
                            store, origins, win_w, win_h = windows[src.id]
                            k = index - src.start
                            x, y = origins[k]
                            store[k, :, :, :3] = window_bgr(yuv, frame, x, y, win_w, win_h)
                        if index % 8 == 0:
                            progress(0.8 * index / n)
                progress(0.2 if full is not None else 0.8)

                stack = np.stack([samples[i] for i in sorted(samples)])
                pairs = [(samples[i], samples[i + 1]) for i in pair_starts if i in samples and i + 1 in samples]
                # grain per channel on the workers while this thread takes the median
                futures = [pool.submit(_channel_sigma, pairs, c) for c in range(3)] if pairs else []
                if self._clean is not None:
                    background = self._clean
                    self.background_method[analysis.index] = "clean_plate"
                else:
                    background = banded_median(stack)
                    self.background_method[analysis.index] = "temporal_median"
                grain = [_result(future, check) for future in futures]
                self.noise[analysis.index] = np.array(grain) if pairs else np.full(3, estimate_noise(stack))
                self.backgrounds[analysis.index] = background

                f = analysis.factor
                noise = float(self.noise[analysis.index].max())
                low = max(6.0, 3.0 * noise)
                high = low + max(12.0, 4.0 * noise)
                # soft matte by difference from the background, as a table over the 256 possible differences
                soft = np.clip((np.arange(256, dtype=np.float32) - low) / (high - low), 0.0, 1.0)
                grow = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * int(np.ceil(f)) + 3,) * 2)
                shrink = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * int(np.ceil(f)) + 1,) * 2)

                def cut(tube: Tube, src: SourceTube, first: int, last: int) -> None:
                    """Frames first..last - 1 of a tube: the window's pixels (from kept frames) and its alpha."""
                    store, origins, win_w, win_h = windows[src.id]
                    person: tuple[np.ndarray, float, float] | None = None  # the last pose mask and its box centre
                    for k in range(first, last):
                        if stop.is_set():
                            return
                        det = tube.detections[k]
                        x, y = (int(v) for v in origins[k])
                        if full is not None and src.start + k < n:
                            bgr = window_bgr(yuv, full.view(src.start + k), x, y, win_w, win_h)
                            store[k, :, :, :3] = bgr
                        else:
                            bgr = np.ascontiguousarray(store[k, :, :, :3])
                        box = (det.x0 * f - x, det.y0 * f - y, det.x1 * f - x, det.y1 * f - y)
                        pose = None
                        if self._pose_matte:
                            cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
                            if person is None or (k - first) % POSE_EVERY == 0:
                                began = time.perf_counter()
                                person = (pose_on_box(bgr, box).mask, cx, cy)
                                self.pose_seconds.append(time.perf_counter() - began)
                            # between the frames the model sees, its mask follows the person's box
                            mask, px, py = person
                            shift = np.float32([[1, 0, cx - px], [0, 1, cy - py]])
                            pose = cv2.warpAffine(mask, shift, (win_w, win_h), flags=cv2.INTER_LINEAR, borderValue=0)
                        behind = _crop(background, x, y, win_w, win_h)
                        alpha = _sprite_alpha(bgr, behind, det, x, y, f, soft, grow, shrink, self._feather, pose)
                        store[k, :, :, 3] = alpha
                        store[k, :, :, :3] = unmix(bgr, behind, alpha)

                futures = [
                    pool.submit(cut, tube, src, first, min(src.length, first + EXTRACT_CHUNK))
                    for tube, src in tubes
                    for first in range(0, src.length, EXTRACT_CHUNK)
                ]
                for done, future in enumerate(futures):
                    _result(future, check)
                    progress(0.8 + 0.2 * (done + 1) / len(futures) if full is None else 0.2 + 0.8 * (done + 1) / len(futures))
            except BaseException:
                stop.set()
                for future in futures:
                    future.cancel()
                raise
        for _tube, src in tubes:
            store, origins, _w, _h = windows[src.id]
            store.flush()
            self._store[src.id] = (store, origins)
        progress(1.0)

    def sprite(self, tube_id: str, k: int) -> Sprite:
        store, origins = self._store[tube_id]
        data = store[k]
        return Sprite(data[:, :, :3], data[:, :, 3], int(origins[k][0]), int(origins[k][1]))

    def report(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "generative": self.generative,
            "model": None,
            "plates": [a.video.name for a in self._analyses],
        }


def _result(future: Future, check: Callable[[], None]) -> Any:
    """A worker's result, calling `check` on this thread every 0.2 s while waiting for it."""
    while True:
        check()
        try:
            return future.result(timeout=0.2)
        except TimeoutError:
            continue


def _sprite_alpha(
    bgr: np.ndarray,
    background: np.ndarray,
    det: Detection,
    x: int,
    y: int,
    f: float,
    soft: np.ndarray,
    grow: np.ndarray,
    shrink: np.ndarray,
    feather: float,
    pose: np.ndarray | None = None,
) -> np.ndarray:
    """A sprite's alpha (uint8): the soft difference from the background near the person the analysis found,
    plus the pose model's person mask where it is sure (a white shirt on a light floor differs from nothing),
    holes filled and opaque inside the body, with a thin soft edge."""
    win_h, win_w = bgr.shape[:2]
    diff = channel_max(cv2.absdiff(bgr, background))
    # the person's mask from the analysis, brought to full resolution inside this window
    mx0, my0 = det.x0 * f - x, det.y0 * f - y
    mw, mh = det.width * f, det.height * f
    m = np.ascontiguousarray(det.mask, dtype=np.float32)
    scale_m = np.array(
        [
            [mw / det.width, 0, mx0 + 0.5 * (mw / det.width) - 0.5],
            [0, mh / det.height, my0 + 0.5 * (mh / det.height) - 0.5],
        ]
    )
    gate = cv2.warpAffine(m, scale_m, (win_w, win_h), flags=cv2.INTER_LINEAR, borderValue=0)
    solid = (gate > 0.5).astype(np.uint8)
    # with the pose model's mask to rely on, the soft edge is kept to a pixel around the body: further out, a faint
    # difference is the codec's ringing on the source's floor, which would come along as a halo
    near = cv2.dilate(solid, grow if pose is None else np.ones((3, 3), np.uint8))
    alpha = soft[diff] * near  # 0 away from the person
    if pose is not None:
        sure = (pose > 0.7).astype(np.uint8) & near
        solid |= cv2.erode(sure, shrink)
    # the body: holes filled, opaque inside; only the outer edge keeps the soft difference
    body = (solid | (alpha > 0.5)).astype(np.uint8)
    contours, _ = cv2.findContours(body, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    filled = np.zeros_like(body)
    cv2.drawContours(filled, contours, -1, 1, thickness=cv2.FILLED)
    if pose is not None:
        # what the outline closed over but looks like the background and is not person to the model (the gap
        # between the legs, a corner of floor) is not body: there only the soft difference counts
        filled &= ~((alpha < 0.5) & (pose < 0.3))
        # below the hips the model's mask of a small person is too coarse to show the gap between the legs: there
        # what matches the floor it was filmed on exactly and the model is not sure of is floor, not body (a
        # light shirt on a light floor, the reason the body is filled, is above the hips)
        legs = np.zeros_like(filled)
        legs[max(0, int(my0 + 0.55 * mh)) :, :] = 1
        filled &= ~(legs & (alpha < 0.05) & (pose < 0.7))
    # the soft difference's outermost pixel is mostly the source's floor (ringing, a shadow's edge): it would come along
    # as a halo of another ground round the copy, so the soft edge is pulled in by a pixel before it is feathered
    alpha = cv2.erode(alpha, np.ones((3, 3), np.uint8))
    np.maximum(alpha, cv2.erode(filled, shrink).astype(np.float32), out=alpha)
    # specks of difference near the person but not joined to their body (a table edge, a leaf) are dropped
    n, labels = cv2.connectedComponents((alpha > 0.05).astype(np.uint8), connectivity=8)
    if n > 2:
        sizes = np.bincount(labels[filled > 0].ravel(), minlength=n)
        sizes[0] = 0
        keep = sizes >= max(1, int(0.05 * sizes.max()))
        alpha *= keep[labels]
    if feather > 0:
        alpha = cv2.GaussianBlur(alpha, (0, 0), feather)
        # the blur softens the edge only: inside the body stays opaque
        np.maximum(alpha, cv2.erode(filled, grow).astype(np.float32), out=alpha)
    alpha *= np.float32(255.0)
    alpha += np.float32(0.5)
    return np.clip(alpha, 0, 255).astype(np.uint8)


def unmix(bgr: np.ndarray, background: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """The person's own colour at their soft edge: an edge pixel is `a * person + (1 - a) * background`, so the
    background the person was filmed against is taken back out (no fringe of the source's floor around a copy)."""
    a = alpha.astype(np.float32) / np.float32(255.0)
    edge = (a > 0.02) & (a < 0.98)
    if not edge.any():
        return bgr
    a3 = a[..., None]
    own = (bgr.astype(np.float32) - (1.0 - a3) * background.astype(np.float32)) / np.maximum(a3, np.float32(0.02))
    out = bgr.copy()
    out[edge] = np.clip(own[edge] + 0.5, 0, 255).astype(np.uint8)
    return out


def window_bgr(yuv: Yuv, frame: YuvFrame, x: int, y: int, w: int, h: int) -> np.ndarray:
    """The window (x even, w even) of a YUV frame as BGR uint8; black where it leaves the frame."""
    black_y, black_c = (0, 512) if yuv.full_range else (64, 512)
    luma = _crop(frame.y, x, y, w, h, black_y)
    u = _crop(frame.u, x // 2, y, w // 2 + 1, h, black_c)
    v = _crop(frame.v, x // 2, y, w // 2 + 1, h, black_c)
    return _to_uint8(yuv.to_bgr(luma, upsample(u, 0, w), upsample(v, 0, w)))


def _to_uint8(bgr: np.ndarray) -> np.ndarray:
    return np.clip(bgr + 0.5, 0, 255).astype(np.uint8)


def _crop(frame: np.ndarray, x: int, y: int, w: int, h: int, fill: int = 0) -> np.ndarray:
    """frame[y:y+h, x:x+w], padded with `fill` where the window leaves the frame."""
    fh, fw = frame.shape[:2]
    if x >= 0 and y >= 0 and x + w <= fw and y + h <= fh:
        return frame[y : y + h, x : x + w]
    out = np.full((h, w) + frame.shape[2:], fill, frame.dtype)
    sx0, sy0, sx1, sy1 = max(0, x), max(0, y), min(fw, x + w), min(fh, y + h)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - y : sy1 - y, sx0 - x : sx1 - x] = frame[sy0:sy1, sx0:sx1]
    return out


def banded_median(stack: np.ndarray) -> np.ndarray:
    """Per-pixel median over the first axis of uint8 frames (halves rounded up), a band of rows at a time."""
    return median_half_up(stack)


def _channel_sigma(pairs: list[tuple[np.ndarray, np.ndarray]], channel: int) -> float:
    """Grain sigma of one channel (0 B, 1 G, 2 R) from neighbouring frames."""
    return pair_sigma(
        np.concatenate([(b[:, :, channel].astype(np.int16) - a[:, :, channel].astype(np.int16)).ravel()[::3] for a, b in pairs])
    )
