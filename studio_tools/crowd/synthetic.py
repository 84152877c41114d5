"""Generated test plates: a locked-off camera, a textured static background and N walking figures.

This is test and benchmark material, not a source of people for the tool: the crowd tool only ever
takes people from the plates it is given (see `source.py`). Scenes are fully determined by their
seed, and every figure's true matte is known, so tests can check counts, overlaps and untouched
pixels against ground truth.

    python -m studio_tools.crowd.synthetic plate.mp4 --walkers 5 --size 1920x1080 --seconds 4

(the tests' plate: --size 320x180 --seconds 3; the benchmark's: --size 1920x1080 --seconds 8)

Figures pace back and forth in their own lanes, so each stays in frame and never touches another:
the true number of people is the same in every frame. They stand on a ground plane seen in
perspective (height proportional to the distance of the feet below the horizon), cast a soft
contact shadow, and the camera adds grain.
"""

from __future__ import annotations

import argparse
import math
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from studio_tools.media.sandbox import die_with_parent

_SHIFT = 4  # cv2 drawing with 4 fractional bits, so figures move smoothly rather than by whole pixels
_ONE = 1 << _SHIFT


@dataclass(frozen=True)
class Walker:
    x: float  # centre of the pacing path, pixels
    foot_y: float  # ground contact, pixels
    height: float  # pixels
    amplitude: float  # pacing half-width, pixels
    period: float  # seconds for a there-and-back
    phase: float  # 0..1 of a period
    shirt: tuple[int, int, int]
    trousers: tuple[int, int, int]
    skin: tuple[int, int, int]


@dataclass
class Scene:
    width: int
    height: int
    fps: int
    frames: int
    seed: int
    horizon_y: float  # pixels; a figure's height is `scale * (foot_y - horizon_y)`
    walkers: list[Walker]
    grain: float = 2.0
    shadows: bool = True
    _background: np.ndarray | None = field(default=None, repr=False)
    _noise: list[np.ndarray] = field(default_factory=list, repr=False)

    @property
    def background(self) -> np.ndarray:
        if self._background is None:
            self._background = textured_background(self.width, self.height, self.horizon_y, self.seed)
        return self._background

    def positions(self, t: int) -> list[tuple[float, float, float]]:
        """(foot x, foot y, walk phase) of every walker at frame t."""
        seconds = t / self.fps
        out = []
        for w in self.walkers:
            cycle = (seconds / w.period + w.phase) % 1.0
            triangle = 4 * cycle - 1 if cycle < 0.5 else 3 - 4 * cycle  # steady pace there and back, -1..1
            stride = 2 * math.pi * (seconds * 0.8 * w.height) / (0.9 * w.height)  # one step cycle per 0.9 heights walked
            out.append((w.x + w.amplitude * triangle, w.foot_y, stride))
        return out

    def render(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """Frame t (BGR uint8) and the true people matte (uint8, 255 = person, shadows excluded)."""
        frame = self._grain(t)
        frame += self.background
        matte = np.zeros((self.height, self.width), np.uint8)
        for walker, (x, y, phase) in zip(self.walkers, self.positions(t), strict=True):
            h = walker.height
            x0, x1 = max(0, int(x - 0.45 * h) - 2), min(self.width, int(x + 0.45 * h) + 3)
            y0, y1 = max(0, int(y - 1.02 * h) - 2), min(self.height, int(y + 0.1 * h) + 3)
            if x1 <= x0 or y1 <= y0:
                continue
            patch = frame[y0:y1, x0:x1]
            if self.shadows:
                _shadow(patch, x - x0, y - y0, h)
            layer = np.zeros((y1 - y0, x1 - x0, 3), np.uint8)
            cover = np.zeros((y1 - y0, x1 - x0), np.uint8)
            _figure(layer, cover, x - x0, y - y0, walker, phase)
            alpha = cover.astype(np.float32)[..., None] / 255.0
            patch *= 1 - alpha
            patch += layer.astype(np.float32) * alpha
            np.maximum(matte[y0:y1, x0:x1], cover, out=matte[y0:y1, x0:x1])
        return np.clip(frame + 0.5, 0, 255).astype(np.uint8), matte

    def person_masks(self, t: int) -> np.ndarray:
        """Boolean matte of all people at frame t (pixels at least half covered)."""
        return self.render(t)[1] >= 128

    def _grain(self, t: int) -> np.ndarray:
        """A fresh float32 frame of camera grain (zeros without grain), drawn from a small seeded bank."""
        if self.grain <= 0:
            return np.zeros((self.height, self.width, 3), np.float32)
        if not self._noise:
            rng = np.random.default_rng([self.seed, 99])
            self._noise = [rng.standard_normal((self.height, self.width, 3), np.float32) * self.grain for _ in range(11)]
        return self._noise[(t * 7 + self.seed) % len(self._noise)].copy()


def make_scene(
    width: int = 320,
    height: int = 180,
    *,
    seconds: float = 3.0,
    fps: int = 25,
    walkers: int = 5,
    seed: int = 1,
    grain: float = 2.0,
    shadows: bool = True,
    person_scale: float = 0.42,
    span: tuple[float, float] = (0.0, 1.0),
) -> Scene:
    """A scene whose `walkers` figures pace in separate lanes, in up to three rows of depth.

    `person_scale` is a person's height as a fraction of their feet's distance below the horizon;
    `span` is the part of the frame's width (normalized) the lanes share, leaving the rest empty.

    Rows are far enough apart that no two figures' boxes ever touch, and each figure paces at a
    steady speed over more than three times its width, so no background pixel is covered for most of
    the clip and a temporal median recovers the background.
    """
    rng = np.random.default_rng(seed)
    horizon = 0.30 * height
    rows = 1 if walkers <= 2 else 2 if walkers <= 6 else 3
    row_feet = {1: [0.90], 2: [0.93, 0.565], 3: [0.95, 0.70, 0.52]}[rows]
    per_row = [walkers // rows + (1 if r < walkers % rows else 0) for r in range(rows)]
    people = []
    for row, count in enumerate(per_row):
        foot_y = row_feet[row] * height
        person_height = person_scale * (foot_y - horizon)
        figure_width = 0.42 * person_height
        left = span[0] * width
        slot = (span[1] - span[0]) * width / max(count, 1)
        for j in range(count):
            amplitude = min(1.6 * figure_width, max(1.0, (slot - figure_width - 0.05 * slot) / 2))
            spare = max(0.0, slot / 2 - amplitude - figure_width / 2 - 0.02 * slot)
            speed = 0.8 * person_height  # pixels per second
            people.append(
                Walker(
                    x=left + slot * (j + 0.5) + rng.uniform(-spare, spare),
                    foot_y=foot_y + rng.uniform(-0.01, 0.01) * height,
                    height=person_height,
                    amplitude=amplitude,
                    period=4 * amplitude / speed,
                    phase=rng.uniform(0, 1),
                    shirt=tuple(int(c) for c in rng.integers(40, 230, 3)),
                    trousers=tuple(int(c) for c in rng.integers(20, 110, 3)),
                    skin=tuple(int(c) for c in (rng.integers(60, 140), rng.integers(90, 170), rng.integers(140, 220))),
                )
            )
    return Scene(width, height, fps, max(1, round(seconds * fps)), seed, horizon, people, grain, shadows)


def textured_background(width: int, height: int, horizon_y: float, seed: int) -> np.ndarray:
    """A wall above the horizon and paving below: mostly luminance texture, gentle colour."""
    rng = np.random.default_rng([seed, 7])
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.empty((height, width, 3), np.float32)
    ground = yy >= horizon_y
    base[..., 0] = np.where(ground, 118, 150) + 10 * np.sin(xx / width * 3.1 + 0.4)
    base[..., 1] = np.where(ground, 122, 140) + 8 * np.cos(yy / height * 2.3)
    base[..., 2] = np.where(ground, 128, 120) + 10 * np.sin((xx + yy) / width * 2.0)
    scale = max(width, height) / 320.0
    texture = np.zeros((height, width), np.float32)
    for sigma, weight in ((0.8, 6.0), (3.0, 9.0), (12.0, 12.0)):
        noise = rng.standard_normal((height, width)).astype(np.float32)
        blurred = cv2.GaussianBlur(noise, (0, 0), sigma * scale)
        texture += weight * blurred / (blurred.std() + 1e-6)
    # Paving joints that converge on the horizon, and windows in the wall: hard edges to track.
    lines = np.zeros((height, width), np.float32)
    for i in range(-12, 13):
        x_far = width / 2 + i * width / 60
        x_near = width / 2 + i * width / 6
        cv2.line(lines, (int(x_far), int(horizon_y)), (int(x_near), height), 1.0, max(1, int(scale)), cv2.LINE_AA)
    for j in range(1, 9):
        y = horizon_y + (height - horizon_y) * (j / 9) ** 1.6
        cv2.line(lines, (0, int(y)), (width, int(y)), 1.0, max(1, int(scale)), cv2.LINE_AA)
    texture -= 14 * lines * ground
    for i in range(6):
        x0 = int(width * (0.05 + 0.16 * i))
        y0 = int(horizon_y * 0.2)
        cv2.rectangle(texture, (x0, y0), (x0 + int(width * 0.08), y0 + int(horizon_y * 0.45)), -30.0, -1)
    base += texture[..., None]
    return np.clip(base, 0, 255).astype(np.uint8)


def _pt(x: float, y: float) -> tuple[int, int]:
    return int(round(x * _ONE)), int(round(y * _ONE))


def _figure(layer: np.ndarray, cover: np.ndarray, x: float, y: float, w: Walker, phase: float) -> None:
    h = w.height
    limb = max(1, int(round(0.085 * h)))
    arm = max(1, int(round(0.06 * h)))
    swing = 0.13 * h * math.sin(phase)
    hip_y = y - 0.45 * h
    shoulder_y = y - 0.78 * h
    parts = []
    for side in (-1, 1):  # legs and arms, drawn as thick lines
        parts.append((w.trousers, _pt(x + side * 0.05 * h, hip_y), _pt(x + side * swing, y - limb / 2), limb))
        hand = _pt(x + side * 0.17 * h - side * 0.6 * swing, y - 0.47 * h)
        parts.append((w.shirt, _pt(x + side * 0.12 * h, shoulder_y + 0.04 * h), hand, arm))
    for colour, a, b, thickness in parts:
        for img, value in ((layer, colour), (cover, 255)):
            cv2.line(img, a, b, value, thickness, cv2.LINE_AA, _SHIFT)
    torso = np.array(
        [
            _pt(x - 0.13 * h, shoulder_y),
            _pt(x + 0.13 * h, shoulder_y),
            _pt(x + 0.11 * h, hip_y + 0.03 * h),
            _pt(x - 0.11 * h, hip_y + 0.03 * h),
        ]
    )
    head = (_pt(x, y - 0.89 * h), int(round(0.095 * h * _ONE)))
    for img, (torso_value, head_value) in ((layer, (w.shirt, w.skin)), (cover, (255, 255))):
        cv2.fillPoly(img, [torso], torso_value, cv2.LINE_AA, _SHIFT)
        cv2.circle(img, head[0], head[1], head_value, -1, cv2.LINE_AA, _SHIFT)
        neck_top, neck_bottom = _pt(x, y - 0.82 * h), _pt(x, shoulder_y + 0.02 * h)
        cv2.line(img, neck_top, neck_bottom, head_value, max(1, int(round(0.07 * h))), cv2.LINE_AA, _SHIFT)


def _shadow(frame: np.ndarray, x: float, y: float, h: float) -> None:
    shade = np.zeros(frame.shape[:2], np.float32)
    cv2.ellipse(shade, _pt(x, y), (int(0.28 * h * _ONE), int(0.05 * h * _ONE)), 0, 0, 360, 1.0, -1, cv2.LINE_AA, _SHIFT)
    shade = cv2.GaussianBlur(shade, (0, 0), max(0.6, 0.02 * h))
    frame *= (1.0 - 0.35 * shade)[..., None]


def write_scene(scene: Scene, path: Path | str, *, crf: int = 10, still: bool = False) -> Path:
    """Encode the scene (H.264 yuv420p MP4 at `crf`), or, with `still`, its first frame as a PNG."""
    path = Path(path)
    if still:
        frame, _ = scene.render(0)
        if not cv2.imwrite(str(path), frame):
            raise OSError(f"could not write {path}")
        return path
    cmd = [
        "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{scene.width}x{scene.height}", "-framerate", str(scene.fps),
        "-i", "pipe:0",
        "-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf), "-pix_fmt", "yuv420p", "-g", str(2 * scene.fps),
        "-movflags", "+faststart", str(path),
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, preexec_fn=die_with_parent())
    try:
        assert proc.stdin is not None
        for t in range(scene.frames):
            proc.stdin.write(scene.render(t)[0].tobytes())
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        code = proc.wait()
    if code != 0:
        raise RuntimeError(f"ffmpeg could not write {path} (exit {code})")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write a generated crowd test plate.")
    parser.add_argument("out")
    parser.add_argument("--walkers", type=int, default=5)
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--person-scale", type=float, default=0.32, help="height per distance below the horizon (tests: 0.32)")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    scene = make_scene(
        width, height, seconds=args.seconds, fps=args.fps, walkers=args.walkers, seed=args.seed, person_scale=args.person_scale
    )
    write_scene(scene, args.out)
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
