"""Generated scenes with known continuity errors, for the quality benchmark, the tests and bench/.

A scene is a flat "set" drawn on a canvas larger than the frame (textured wall and floor, a window,
pictures and a shelf: things a feature matcher can hold on to), a few props as distinct objects and
one or two standing figures with head, jacket (torso and arms) and trousers. A camera is a homography
from that canvas to the frame, so a camera move or a reframe shows real new picture at the edges.

`make_pair` renders an outgoing and an incoming frame of one scene and injects one known error, or
none (the negatives: a small camera move, noise, recompression, a reframe). The truth says what a
checker should find: the check, and for costume and props the boxes on each side (normalized).
Everything is drawn from a seeded generator, so a case is reproducible from its seed.
"""

from __future__ import annotations

import colorsys
import math
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

from studio_tools.continuity.colour import ciede2000, linear_to_srgb, rgb_to_lab, srgb_to_linear
from studio_tools.media.sandbox import die_with_parent

POSITIVE_CASES = ("costume", "prop_removed", "prop_added", "exposure", "white_balance")
NEGATIVE_CASES = ("camera_move", "noise", "recompress", "reframe")
CHECK_OF_CASE = {
    "costume": "costume",
    "prop_removed": "prop",
    "prop_added": "prop",
    "prop_moved": "prop",
    "exposure": "lighting",
    "white_balance": "lighting",
}
_MARGIN = 0.35  # the canvas is this much larger than the frame

_JACKETS = [(170, 40, 40), (40, 60, 160), (40, 130, 60), (200, 170, 40), (120, 40, 130), (30, 30, 35), (220, 220, 210)]
_TROUSERS = [(40, 50, 100), (50, 50, 50), (110, 80, 50), (150, 150, 140), (20, 20, 25), (90, 30, 30)]
_SKIN = [(225, 180, 150), (190, 140, 100), (140, 95, 65), (240, 200, 175)]
_HAIR = [(50, 35, 25), (20, 20, 20), (150, 110, 60), (90, 60, 40)]
_PROP_COLOURS = [(220, 60, 40), (40, 90, 210), (250, 200, 40), (40, 170, 90), (160, 60, 170), (240, 130, 30), (30, 160, 170)]


@dataclass
class Figure:
    cx: float  # canvas pixels
    top: float
    height: float
    jacket: tuple[int, int, int]
    trousers: tuple[int, int, int]
    skin: tuple[int, int, int]
    hair: tuple[int, int, int]

    def box(self) -> tuple[float, float, float, float]:
        """The figure's own extent (canvas pixels): x, y, w, h."""
        u = self.height / 8.0
        return (self.cx - 1.45 * u, self.top, 2.9 * u, self.height)

    def part_box(self, part: str) -> tuple[float, float, float, float]:
        u = self.height / 8.0
        if part == "torso":
            return (self.cx - 1.35 * u, self.top + 1.35 * u, 2.7 * u, 2.9 * u)
        return (self.cx - 0.8 * u, self.top + 4.05 * u, 1.6 * u, 3.75 * u)


@dataclass
class Prop:
    shape: str  # "box", "vase", "lamp", "cup", "book"
    x: float  # canvas pixels, top-left of the object's box
    y: float
    w: float
    h: float
    colour: tuple[int, int, int]

    def box(self) -> tuple[float, float, float, float]:
        return (self.x, self.y, self.w, self.h)


@dataclass
class Scene:
    width: int  # frame size
    height: int
    backdrop: np.ndarray  # the empty set, canvas size, RGB uint8
    figures: list[Figure] = field(default_factory=list)
    props: list[Prop] = field(default_factory=list)

    @property
    def canvas_size(self) -> tuple[int, int]:
        return self.backdrop.shape[1], self.backdrop.shape[0]

    def base_camera(self) -> np.ndarray:
        """Canvas -> frame homography of the reference camera: the centre of the canvas, 1:1."""
        cw, ch = self.canvas_size
        return np.array([[1.0, 0, -(cw - self.width) / 2], [0, 1.0, -(ch - self.height) / 2], [0, 0, 1.0]])


@dataclass
class Truth:
    check: str  # "costume", "prop", "lighting"
    kind: str  # "torso"/"legs", "vanished"/"appeared"/"moved", "exposure"/"white_balance"
    box_out: dict | None = None  # normalized {"x", "y", "w", "h"} in the outgoing frame
    box_in: dict | None = None


@dataclass
class Pair:
    seed: int
    case: str
    outgoing: np.ndarray  # RGB uint8
    incoming: np.ndarray
    truths: list[Truth]

    @property
    def negative(self) -> bool:
        return not self.truths


def make_scene(rng: np.random.Generator, width: int = 480, height: int = 270, *, people: int | None = None) -> Scene:
    cw, ch = int(round(width * (1 + _MARGIN))), int(round(height * (1 + _MARGIN)))
    backdrop = _draw_set(rng, cw, ch, height)
    scene = Scene(width, height, backdrop)
    ox, oy = (cw - width) / 2, (ch - height) / 2
    count = int(rng.integers(1, 3)) if people is None else people
    slots = [0.3, 0.7] if count == 2 else [float(rng.uniform(0.3, 0.7))]
    jackets = rng.permutation(len(_JACKETS))
    trousers = rng.permutation(len(_TROUSERS))
    for n, slot in enumerate(slots[:count]):
        h = height * float(rng.uniform(0.66, 0.76))
        cx = ox + width * (slot + float(rng.uniform(-0.04, 0.04)))
        top = oy + height * 0.9 - h
        scene.figures.append(
            Figure(
                cx,
                top,
                h,
                _JACKETS[jackets[n]],
                _TROUSERS[trousers[n]],
                _SKIN[int(rng.integers(len(_SKIN)))],
                _HAIR[int(rng.integers(len(_HAIR)))],
            )
        )
    for _ in range(int(rng.integers(3, 5))):
        prop = _free_prop(rng, scene)
        if prop is not None:
            scene.props.append(prop)
    return scene


def render(
    scene: Scene, camera: np.ndarray | None = None, *, hidden: Sequence[int] = (), extra: Sequence[Prop] = ()
) -> np.ndarray:
    """The frame seen by `camera` (canvas -> frame homography). Hidden props are removed the way a
    retoucher would, with cv2.inpaint over their footprint; extra props are drawn in."""
    canvas = scene.backdrop.copy()
    bgr = np.ascontiguousarray(canvas[..., ::-1])
    for n, prop in enumerate(scene.props):
        if n not in hidden:
            _draw_prop(bgr, prop)
    for prop in extra:
        _draw_prop(bgr, prop)
    if hidden:
        mask = np.zeros(bgr.shape[:2], np.uint8)
        for n in hidden:
            x, y, w, h = scene.props[n].box()
            cv2.rectangle(mask, (int(x) - 3, int(y) - 3), (int(x + w) + 3, int(y + h) + 3), 255, -1)
        bgr = cv2.inpaint(bgr, mask, 5, cv2.INPAINT_TELEA)
    for figure in scene.figures:
        _draw_figure(bgr, figure)
    camera = scene.base_camera() if camera is None else camera
    frame = cv2.warpPerspective(bgr, camera, (scene.width, scene.height), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)
    return np.ascontiguousarray(frame[..., ::-1])


def camera_move(scene: Scene, rng: np.random.Generator, *, shift: float, degrees: float, zoom: float = 1.0) -> np.ndarray:
    """The base camera panned by up to `shift` of the frame width, rolled by up to `degrees`, zoomed by `zoom`."""
    w, h = scene.width, scene.height
    angle = math.radians(float(rng.uniform(-degrees, degrees)))
    dx, dy = (float(v) for v in rng.uniform(-shift, shift, 2) * (w, h))
    c, s = math.cos(angle) * zoom, math.sin(angle) * zoom
    centre = np.array([[1, 0, w / 2], [0, 1, h / 2], [0, 0, 1.0]])
    motion = np.array([[c, -s, dx], [s, c, dy], [0, 0, 1.0]])
    back = np.array([[1, 0, -w / 2], [0, 1, -h / 2], [0, 0, 1.0]])
    return centre @ motion @ back @ scene.base_camera()


def add_noise(image: np.ndarray, rng: np.random.Generator, sigma: float) -> np.ndarray:
    noisy = image.astype(np.float32) + rng.normal(0.0, sigma, image.shape).astype(np.float32)
    return np.clip(noisy + 0.5, 0, 255).astype(np.uint8)


def recompress(image: np.ndarray, quality: int) -> np.ndarray:
    ok, data = cv2.imencode(".jpg", np.ascontiguousarray(image[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return np.ascontiguousarray(cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1])


def relight(image: np.ndarray, gains: tuple[float, float, float]) -> np.ndarray:
    """Scale linear light per channel (an exposure change when the gains are equal)."""
    linear = srgb_to_linear(image) * np.array(gains, np.float32)
    return (linear_to_srgb(linear) * 255.0 + 0.5).astype(np.uint8)


def make_pair(seed: int, case: str, width: int = 480, height: int = 270) -> Pair:
    """One outgoing/incoming pair of a fresh scene with `case` injected (see POSITIVE_CASES, NEGATIVE_CASES).

    An error never comes alone in real footage, so half of the positive pairs also get one of the
    nuisances of the negatives (a camera move, more noise or heavy recompression) on top.
    """
    rng = np.random.default_rng(seed)
    scene = make_scene(rng, width, height)
    cam_out = scene.base_camera()
    cam_in = camera_move(scene, rng, shift=0.006, degrees=0.3)  # a second setup is never pixel-identical
    nuisance = case
    if case in POSITIVE_CASES or case == "prop_moved":
        nuisance = str(rng.choice(["none", "camera_move", "noise", "recompress"], p=[0.5, 0.2, 0.15, 0.15]))
    if nuisance == "camera_move":
        cam_in = camera_move(scene, rng, shift=0.03, degrees=1.0, zoom=float(rng.uniform(0.97, 1.03)))
    truths: list[Truth] = []
    hidden: list[int] = []
    extra: list[Prop] = []
    scene_in = scene

    if case == "costume":
        index = int(rng.integers(len(scene.figures)))
        part = "torso" if rng.random() < 0.6 else "legs"
        figure = scene.figures[index]
        old = figure.jacket if part == "torso" else figure.trousers
        new = _distinct_colour(rng, old)
        changed = replace(figure, jacket=new) if part == "torso" else replace(figure, trousers=new)
        scene_in = replace(scene, figures=[changed if n == index else f for n, f in enumerate(scene.figures)])
        truths.append(Truth("costume", part, *_boxes(scene, figure.part_box(part), cam_out, cam_in)))
    elif case in ("prop_removed", "prop_moved"):
        index = int(rng.integers(len(scene.props)))
        hidden.append(index)
        prop = scene.props[index]
        if case == "prop_moved":
            moved = _free_prop(rng, scene, like=prop)
            if moved is None:
                return make_pair(seed + 7919, case, width, height)
            extra.append(moved)
            box_out = _view_box(scene, prop.box(), cam_out)
            box_in = _view_box(scene, moved.box(), cam_in)
            truths.append(Truth("prop", "moved", box_out, box_in))
        else:
            truths.append(Truth("prop", "vanished", *_boxes(scene, prop.box(), cam_out, cam_in)))
    elif case == "prop_added":
        prop = _free_prop(rng, scene)
        if prop is None:
            return make_pair(seed + 7919, case, width, height)
        extra.append(prop)
        truths.append(Truth("prop", "appeared", *_boxes(scene, prop.box(), cam_out, cam_in)))
    elif case == "reframe":
        cam_in = camera_move(scene, rng, shift=0.04, degrees=0.5, zoom=float(rng.uniform(1.15, 1.3)))
    elif case == "camera_move":
        cam_in = camera_move(scene, rng, shift=0.05, degrees=2.0, zoom=float(rng.uniform(0.96, 1.04)))
    elif case not in NEGATIVE_CASES + ("exposure", "white_balance"):
        raise ValueError(f"unknown case {case!r}")

    outgoing = render(scene, cam_out)
    incoming = render(scene_in, cam_in, hidden=hidden, extra=extra)

    if case == "exposure":
        gain = float(rng.uniform(1.5, 1.8)) if rng.random() < 0.5 else float(rng.uniform(0.5, 0.62))
        incoming = relight(incoming, (gain, gain, gain))
        truths.append(Truth("lighting", "exposure"))
    elif case == "white_balance":
        k = float(rng.uniform(0.14, 0.22)) * (1 if rng.random() < 0.5 else -1)
        gains = np.array([1 + k, 1.0, 1 - k])
        gains /= float(gains @ np.array([0.2126, 0.7152, 0.0722]))  # same luminance: balance only
        incoming = relight(incoming, tuple(float(g) for g in gains))
        truths.append(Truth("lighting", "white_balance"))

    sigma = float(rng.uniform(3.0, 6.0)) if nuisance == "noise" else 1.2
    outgoing, incoming = add_noise(outgoing, rng, sigma), add_noise(incoming, rng, sigma)
    if nuisance == "recompress":
        quality = int(rng.integers(20, 36))
        outgoing, incoming = recompress(outgoing, quality), recompress(incoming, quality)
    return Pair(seed, case, outgoing, incoming, truths)


def benchmark_pairs(
    per_case: int, *, seed: int = 1000, width: int = 480, height: int = 270, cases: Sequence[str] | None = None
) -> list[Pair]:
    """`per_case` pairs of every positive and negative case, each from its own scene."""
    cases = tuple(cases) if cases is not None else POSITIVE_CASES + NEGATIVE_CASES
    return [make_pair(seed + 101 * i + 7 * n, case, width, height) for n, case in enumerate(cases) for i in range(per_case)]


def shot_frames(image: np.ndarray, count: int, rng: np.random.Generator, *, sigma: float = 1.5) -> list[np.ndarray]:
    """A locked-off shot of `count` frames of one picture: fresh sensor noise in every frame."""
    return [add_noise(image, rng, sigma) for _ in range(count)]


def write_clip(path: Path, frames: Sequence[np.ndarray], fps: int = 25, *, crf: int = 16) -> Path:
    """Encode RGB frames as an H.264 MP4 (the frames are ours, not user media, so plain ffmpeg is fine)."""
    height, width = frames[0].shape[:2]
    cmd = [
        "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", str(fps), "-i", "pipe:0",
        "-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf), "-pix_fmt", "yuv420p", "-g", str(fps), str(path),
    ]  # fmt: skip
    data = b"".join(np.ascontiguousarray(f, np.uint8).tobytes() for f in frames)
    subprocess.run(cmd, input=data, check=True, capture_output=True, timeout=300, preexec_fn=die_with_parent())
    return path


def write_still(path: Path, image: np.ndarray) -> Path:
    if not cv2.imwrite(str(path), np.ascontiguousarray(image[..., ::-1])):
        raise RuntimeError(f"could not write {path}")
    return path


# --- drawing -----------------------------------------------------------------------------------


def _noise_field(rng: np.random.Generator, h: int, w: int, cell: float) -> np.ndarray:
    small = rng.random((max(2, int(h / cell) + 2), max(2, int(w / cell) + 2))).astype(np.float32)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def _draw_set(rng: np.random.Generator, cw: int, ch: int, frame_height: int) -> np.ndarray:
    unit = frame_height / 270.0
    wall_colour = np.array(_pastel(rng), np.float32) / 255.0
    texture = 0.55 * _noise_field(rng, ch, cw, 3 * unit) + 0.45 * _noise_field(rng, ch, cw, 25 * unit)
    image = wall_colour * (0.72 + 0.45 * texture[..., None])
    floor_y = int(ch * 0.74)
    floor_colour = np.array(_pastel(rng), np.float32) / 255.0 * 0.6
    grain = _noise_field(rng, ch - floor_y, cw, 2 * unit)
    image[floor_y:] = floor_colour * (0.75 + 0.5 * grain[..., None])
    image = np.clip(image * 255.0, 0, 255).astype(np.uint8)[..., ::-1].copy()  # BGR for drawing

    def colour(rgb) -> tuple[int, int, int]:
        return (int(rgb[2]), int(rgb[1]), int(rgb[0]))

    cv2.line(image, (0, floor_y), (cw, floor_y), (40, 40, 40), max(2, int(3 * unit)))
    # a window with panes
    wx, wy = int(cw * rng.uniform(0.05, 0.2)), int(ch * 0.12)
    ww, wh = int(cw * 0.16), int(ch * 0.3)
    sky = (_noise_field(rng, wh, ww, 6 * unit)[..., None] * np.array([40, 30, 20]) + np.array([230, 200, 160])).astype(np.uint8)
    image[wy : wy + wh, wx : wx + ww] = sky
    for k in range(3):
        cv2.line(image, (wx + k * ww // 2, wy), (wx + k * ww // 2, wy + wh), (245, 245, 245), max(2, int(3 * unit)))
        cv2.line(image, (wx, wy + k * wh // 2), (wx + ww, wy + k * wh // 2), (245, 245, 245), max(2, int(3 * unit)))
    # pictures on the wall: a frame around a small noisy "painting"
    for _ in range(3):
        pw, ph = int(cw * rng.uniform(0.05, 0.09)), int(ch * rng.uniform(0.08, 0.14))
        px, py = int(rng.uniform(0.3, 0.92) * cw), int(rng.uniform(0.08, 0.3) * ch)
        painting = (_noise_field(rng, ph, pw, 4 * unit)[..., None] * rng.uniform(60, 200, 3)).astype(np.uint8)
        image[py : py + ph, px : px + pw] = painting[: image.shape[0] - py, : image.shape[1] - px]
        cv2.rectangle(image, (px, py), (px + pw, py + ph), colour(rng.integers(20, 120, 3)), max(2, int(4 * unit)))
    # a shelf line and skirting details
    sy = int(ch * rng.uniform(0.4, 0.46))
    cv2.line(image, (int(cw * 0.55), sy), (int(cw * 0.95), sy), (60, 70, 90), max(2, int(4 * unit)))
    for k in range(14):
        x = int(cw * k / 14)
        cv2.line(image, (x, floor_y), (x + int(30 * unit), ch), (70, 70, 70), max(1, int(unit)))
    return np.ascontiguousarray(image[..., ::-1])


def _pastel(rng: np.random.Generator) -> tuple[int, int, int]:
    r, g, b = colorsys.hls_to_rgb(float(rng.random()), float(rng.uniform(0.55, 0.7)), float(rng.uniform(0.15, 0.35)))
    return int(r * 255), int(g * 255), int(b * 255)


def _free_prop(rng: np.random.Generator, scene: Scene, like: Prop | None = None) -> Prop | None:
    cw, ch = scene.canvas_size
    ox, oy = (cw - scene.width) / 2, (ch - scene.height) / 2
    unit = scene.height / 270.0
    # Set dressing stands clear of the actors (by a fifth of their height): a prop pressed against a
    # person is hidden in the person's detection box, which the prop check leaves out on purpose.
    near = [(x - 0.2 * h, y, w + 0.4 * h, h) for x, y, w, h in (f.box() for f in scene.figures)]
    taken = near + [p.box() for p in scene.props]
    for _ in range(300):
        shape = like.shape if like else str(rng.choice(["box", "vase", "lamp", "cup", "book"]))
        w = like.w if like else float(rng.uniform(22, 38)) * unit
        h = like.h if like else w * {"box": 0.8, "vase": 1.5, "lamp": 2.0, "cup": 1.0, "book": 1.3}[shape]
        x = ox + float(rng.uniform(0.06, 0.94)) * scene.width - w / 2
        y = oy + float(rng.uniform(0.25, 0.88)) * scene.height - h / 2
        box = (x, y, w, h)
        inside = ox + 0.04 * scene.width <= x and x + w <= ox + 0.96 * scene.width
        inside = inside and oy + 0.08 * scene.height <= y and y + h <= oy + 0.95 * scene.height
        if inside and all(_gap(box, other) > 8 * unit for other in taken):
            colour = like.colour if like else _PROP_COLOURS[int(rng.integers(len(_PROP_COLOURS)))]
            return Prop(shape, x, y, w, h, colour)
    return None


def _gap(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    dx = max(bx - (ax + aw), ax - (bx + bw), 0.0)
    dy = max(by - (ay + ah), ay - (by + bh), 0.0)
    return max(dx, dy) if dx or dy else -1.0


def _draw_prop(bgr: np.ndarray, prop: Prop) -> None:
    r, g, b = prop.colour
    fill = (b, g, r)
    dark = (int(b * 0.45), int(g * 0.45), int(r * 0.45))
    light = (min(255, int(b * 1.3 + 40)), min(255, int(g * 1.3 + 40)), min(255, int(r * 1.3 + 40)))
    x, y, w, h = (int(round(v)) for v in prop.box())
    t = max(1, w // 14)
    if prop.shape == "box":
        cv2.rectangle(bgr, (x, y), (x + w, y + h), fill, -1)
        cv2.line(bgr, (x, y + h // 3), (x + w, y + h // 3), dark, t)
        cv2.rectangle(bgr, (x, y), (x + w, y + h), dark, t)
    elif prop.shape == "book":
        cv2.rectangle(bgr, (x, y), (x + w, y + h), fill, -1)
        cv2.rectangle(bgr, (x + w // 5, y + h // 5), (x + 4 * w // 5, y + 2 * h // 5), light, -1)
        cv2.rectangle(bgr, (x, y), (x + w, y + h), dark, t)
    elif prop.shape == "vase":
        cv2.ellipse(bgr, (x + w // 2, y + 2 * h // 3), (w // 2, h // 3), 0, 0, 360, fill, -1, cv2.LINE_AA)
        cv2.rectangle(bgr, (x + w // 3, y), (x + 2 * w // 3, y + h // 3), fill, -1)
        cv2.ellipse(bgr, (x + w // 3, y + 3 * h // 5), (w // 8, h // 6), 0, 0, 360, light, -1, cv2.LINE_AA)
        cv2.ellipse(bgr, (x + w // 2, y + 2 * h // 3), (w // 2, h // 3), 0, 0, 360, dark, t, cv2.LINE_AA)
    elif prop.shape == "lamp":
        shade = np.array([[x, y + h // 3], [x + w, y + h // 3], [x + 3 * w // 4, y], [x + w // 4, y]], np.int32)
        cv2.fillPoly(bgr, [shade], fill, cv2.LINE_AA)
        cv2.rectangle(bgr, (x + w // 2 - t, y + h // 3), (x + w // 2 + t, y + h - h // 8), dark, -1)
        cv2.rectangle(bgr, (x + w // 5, y + h - h // 8), (x + 4 * w // 5, y + h), dark, -1)
        cv2.polylines(bgr, [shade], True, dark, t, cv2.LINE_AA)
    else:  # cup
        cv2.rectangle(bgr, (x, y + h // 6), (x + 3 * w // 4, y + h), fill, -1)
        cv2.ellipse(bgr, (x + 3 * w // 4, y + h // 2), (w // 5, h // 5), 0, 0, 360, dark, t, cv2.LINE_AA)
        cv2.ellipse(bgr, (x + 3 * w // 8, y + h // 6), (3 * w // 8, h // 10), 0, 0, 360, light, -1, cv2.LINE_AA)
        cv2.rectangle(bgr, (x, y + h // 6), (x + 3 * w // 4, y + h), dark, t)


def _draw_figure(bgr: np.ndarray, figure: Figure) -> None:
    """A standing figure, outlined like a person against a wall: the silhouette's edge is what a
    person detector looks for, and a drawn figure without it is too easy to lose in a busy set."""
    silhouette = np.zeros(bgr.shape[:2], np.uint8)
    _draw_figure_parts(silhouette, figure, mask=True)
    width = max(1, int(round(figure.height / 110.0)))
    ring = cv2.dilate(silhouette, np.ones((2 * width + 1, 2 * width + 1), np.uint8)) > 0
    bgr[ring] = (bgr[ring] * 0.35).astype(np.uint8)
    _draw_figure_parts(bgr, figure)


def _draw_figure_parts(bgr: np.ndarray, figure: Figure, *, mask: bool = False) -> None:
    def c(rgb) -> tuple[int, int, int]:
        if mask:
            return 255  # type: ignore[return-value]
        return (int(rgb[2]), int(rgb[1]), int(rgb[0]))

    cx, top, u = figure.cx, figure.top, figure.height / 8.0
    skin, hair, jacket, trousers = c(figure.skin), c(figure.hair), c(figure.jacket), c(figure.trousers)

    def pt(dx: float, dy: float) -> tuple[int, int]:
        return (int(round(cx + dx * u)), int(round(top + dy * u)))

    cv2.ellipse(bgr, pt(0, 0.62), (int(u * 0.45), int(u * 0.6)), 0, 0, 360, skin, -1, cv2.LINE_AA)
    cv2.ellipse(bgr, pt(0, 0.38), (int(u * 0.5), int(u * 0.4)), 0, 180, 360, hair, -1, cv2.LINE_AA)
    cv2.rectangle(bgr, pt(-0.18, 1.1), pt(0.18, 1.45), skin, -1)
    torso = np.array([pt(-0.95, 1.4), pt(0.95, 1.4), pt(0.75, 4.1), pt(-0.75, 4.1)], np.int32)
    cv2.fillPoly(bgr, [torso], jacket, cv2.LINE_AA)
    for s in (-1, 1):
        arm = np.array([pt(s * 0.95, 1.4), pt(s * 1.3, 1.7), pt(s * 1.25, 4.0), pt(s * 0.95, 4.0)], np.int32)
        cv2.fillPoly(bgr, [arm], jacket, cv2.LINE_AA)
        cv2.circle(bgr, pt(s * 1.1, 4.2), int(u * 0.22), skin, -1, cv2.LINE_AA)
        leg = np.array([pt(s * 0.05, 4.1), pt(s * 0.75, 4.1), pt(s * 0.6, 7.7), pt(s * 0.15, 7.7)], np.int32)
        cv2.fillPoly(bgr, [leg], trousers, cv2.LINE_AA)
        cv2.ellipse(bgr, pt(s * 0.45, 7.85), (int(u * 0.4), int(u * 0.18)), 0, 0, 360, c((30, 30, 30)), -1, cv2.LINE_AA)
    if not mask:
        cv2.line(bgr, pt(0, 1.45), pt(0, 4.05), tuple(int(v * 0.6) for v in jacket), max(1, int(u * 0.06)), cv2.LINE_AA)


def _distinct_colour(rng: np.random.Generator, old: tuple[int, int, int]) -> tuple[int, int, int]:
    old_lab = rgb_to_lab(np.array([[old]], np.uint8))[0, 0]
    for _ in range(500):
        r, g, b = colorsys.hls_to_rgb(float(rng.random()), float(rng.uniform(0.25, 0.6)), float(rng.uniform(0.5, 0.9)))
        new = (int(r * 255), int(g * 255), int(b * 255))
        if float(ciede2000(old_lab, rgb_to_lab(np.array([[new]], np.uint8))[0, 0])) >= 25.0:
            return new
    raise RuntimeError("no distinct colour found")


def _view_box(scene: Scene, box: tuple[float, float, float, float], camera: np.ndarray) -> dict | None:
    x, y, w, h = box
    corners = np.array([[[x, y]], [[x + w, y]], [[x, y + h]], [[x + w, y + h]]], np.float64)
    mapped = cv2.perspectiveTransform(corners, camera).reshape(-1, 2)
    x0, y0 = mapped.min(axis=0)
    x1, y1 = mapped.max(axis=0)
    x0, y0 = max(0.0, x0), max(0.0, y0)
    x1, y1 = min(float(scene.width), x1), min(float(scene.height), y1)
    if x1 <= x0 or y1 <= y0:
        return None
    return {"x": x0 / scene.width, "y": y0 / scene.height, "w": (x1 - x0) / scene.width, "h": (y1 - y0) / scene.height}


def _boxes(scene: Scene, box, cam_out: np.ndarray, cam_in: np.ndarray) -> tuple[dict | None, dict | None]:
    return _view_box(scene, box, cam_out), _view_box(scene, box, cam_in)


# --- scoring -----------------------------------------------------------------------------------


@dataclass
class Score:
    """Precision and recall of one check (or of all together) over a set of generated pairs."""

    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0

    @property
    def precision(self) -> float:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        wanted = self.true_positives + self.false_negatives
        return self.true_positives / wanted if wanted else 1.0


def box_overlap(a: dict | None, b: dict | None) -> float:
    """Intersection over the smaller box: 1 when one box holds the other, whatever their sizes."""
    if not a or not b:
        return 0.0
    ix = max(0.0, min(a["x"] + a["w"], b["x"] + b["w"]) - max(a["x"], b["x"]))
    iy = max(0.0, min(a["y"] + a["h"], b["y"] + b["h"]) - max(a["y"], b["y"]))
    smaller = min(a["w"] * a["h"], b["w"] * b["h"])
    return ix * iy / smaller if smaller > 0 else 0.0


def finding_matches(finding: dict, truth: Truth) -> bool:
    """A finding is the injected error when it is of the same check and, for boxed checks, its box lies
    on the error (on either side of the cut); lighting must also name the right quantity."""
    if finding.get("type") != truth.check:
        return False
    if truth.check == "lighting":
        return finding.get("check") == truth.kind
    out_box = (finding.get("outgoing") or {}).get("box")
    in_box = (finding.get("incoming") or {}).get("box")
    return max(box_overlap(out_box, truth.box_out), box_overlap(in_box, truth.box_in)) >= 0.3


def score_pairs(pairs: Sequence[Pair], findings: Sequence[Sequence[dict]]) -> dict[str, Score]:
    """Per check ("costume", "prop", "lighting") and "overall": each truth takes at most one finding;
    every finding left over is a false positive (on a negative pair, every finding is)."""
    scores = {check: Score() for check in ("costume", "prop", "lighting", "overall")}
    for pair, found in zip(pairs, findings, strict=True):
        unused = list(found)
        for truth in pair.truths:
            hit = next((f for f in unused if finding_matches(f, truth)), None)
            if hit is None:
                scores[truth.check].false_negatives += 1
            else:
                unused.remove(hit)
                scores[truth.check].true_positives += 1
        for finding in unused:
            scores.get(finding.get("type"), scores["overall"]).false_positives += 1
    total = scores["overall"]
    for check in ("costume", "prop", "lighting"):
        total.true_positives += scores[check].true_positives
        total.false_positives += scores[check].false_positives
        total.false_negatives += scores[check].false_negatives
    return scores
