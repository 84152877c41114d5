"""Test pairs from real footage: continuous shots cut in two, the second half altered, and real cuts.

A continuous shot cut at frame m gives two "shots": the outgoing one ends at m - 1, the incoming one
starts at m + gap (the gap lets passers-by and hands move on, as they would between two takes). The
incoming frames are then altered the way a continuity break looks:

- costume: the torso garment of one person recoloured on the person mask (hue turned for a coloured
  garment, lightness moved for a black, grey or white one): a costume change, on that person;
- prop in / prop out: a small object (a book) placed on the set in the incoming / outgoing frames,
  somewhere that nobody stands or walks;
- exposure +-1/2 and +-1 stop (linear light times 2^stops, clipped like a sensor) and white balance
  warmer / cooler (per-channel gains in linear light);
- and the clean ones, which must give no finding: unaltered, reframed (a 10% punch-in), recompressed
  (JPEG quality 30, blocking included).

Real cuts come from the manifest's verified hard cuts (Tears of Steel, Popeye), each with what was
seen either side: angles of one scene, which must be compared, or a change of location.
`score` turns runs into precision and recall by change type. The test suite and bench/continuity.py
both use this module, so the numbers in the report and in CI are the same computation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from studio_tools.continuity.colour import linear_to_srgb, srgb_to_linear
from studio_tools.continuity.frames import Frame, Shot, analysis_size
from studio_tools.media import probe, reader
from studio_tools.vision import detect, pose

EDGE = 3  # frames on each side of a cut, as the tool reads by default


@dataclass
class Base:
    """Where a continuous shot is cut: file name prefix, cut frame, gap in frames."""

    prefix: str
    cut: int
    gap: int
    alterations: tuple[str, ...]
    person: bool = False  # someone is seen (costume alterations need one)


@dataclass
class RealPair:
    name: str
    alteration: str  # "unaltered", "costume", "prop_in", ... or "real_cut"
    expected: set[str]  # finding types that must come out ("costume", "prop", "lighting")
    outgoing: Shot
    incoming: Shot
    target_box: tuple[float, float, float, float] | None = None  # costume: the recoloured person's box (incoming, x0 y0 x1 y1)
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not self.expected and self.alteration != "real_cut"


POSITIVE = {
    "costume": "costume",
    "prop_in": "prop",
    "prop_out": "prop",
    "exposure_+0.5": "lighting",
    "exposure_-0.5": "lighting",
    "exposure_+1": "lighting",
    "exposure_-1": "lighting",
    "wb_warm": "lighting",
    "wb_cool": "lighting",
}
CLEAN = ("unaltered", "reframe", "recompress")

# The continuous shots of the development set (A01, A02, A03-A08, A15, A16, A09, A10: no cut, one
# camera set-up each), where to cut them and what to alter. Every base has an unaltered pair; the
# alterations are spread so that each change type is met on several clips. The edited films (A11-A13)
# give the real cuts below, not altered pairs: their shots are short and full of animation.
BASES: tuple[Base, ...] = (
    Base("A01", 100, 10, ("costume", "prop_in", "exposure_-0.5", "recompress"), person=True),
    Base("A01", 300, 10, ("costume", "wb_warm", "prop_out", "reframe"), person=True),
    Base("A01", 20, 10, ("prop_in", "exposure_+1", "recompress")),
    Base("A02", 60, 6, ("exposure_+0.5", "wb_cool", "reframe")),
    Base("A03", 38, 6, ("costume", "exposure_-1", "prop_in"), person=True),
    Base("A04", 33, 6, ("costume", "wb_warm", "recompress"), person=True),
    Base("A05", 33, 6, ("prop_out", "exposure_+0.5", "reframe"), person=True),
    Base("A06", 55, 6, ("costume", "exposure_-0.5", "wb_cool"), person=True),
    Base("A07", 30, 6, ("costume", "prop_in", "recompress"), person=True),
    Base("A08", 45, 6, ("exposure_+1", "prop_out", "reframe"), person=True),
    Base("A15", 24, 6, ("costume", "wb_cool", "exposure_-1"), person=True),
    Base("A16", 200, 10, ("prop_in", "exposure_-0.5", "recompress")),
    Base("A16", 500, 10, ("prop_out", "wb_warm", "reframe")),
    Base("A09", 180, 3, ("exposure_-1", "recompress")),
    Base("A10", 150, 3, ("wb_cool", "reframe")),
    Base("A02", 480, 6, ("prop_in", "exposure_+1", "recompress")),
)


@dataclass(frozen=True)
class RealCut:
    """A verified hard cut of the manifest, with what is seen either side (frames n-1 and n looked at):
    two angles of one scene (which the tool must compare) or a change of location (rightly not)."""

    prefix: str
    cut: int
    same_scene: bool
    seen: str


REAL_CUTS: tuple[RealCut, ...] = (
    RealCut("A11", 21, True, "robot head close-up on the canal street -> wide: young man on the bridge, the same robot behind"),
    RealCut("A11", 65, False, "outdoor canal bridge in daylight -> interior control room lit by magenta/green screens"),
    RealCut("A11", 185, False, "interior control room (man with glasses) -> robot head close-up outdoors, street behind"),
    RealCut("A12", 297, True, "wide of the castle gate, Sinbad between the two chained lions -> Sinbad closer in the same arch"),
    RealCut("A12", 657, True, "Sinbad close in the gate arch -> wide of the gate, lions and Sinbad (same stone wall)"),
    RealCut("A12", 962, False, "the gate with the two lions -> open rocky landscape under a blue sky (Sinbad walks out)"),
    RealCut("A13", 567, True, "the crew (green loincloth) on the island's rocks -> Sinbad by a twisted tree on the same island"),
    RealCut(
        "A13", 661, True, "Sinbad behind the twisted tree -> wide of the island cliff, Roc perched on top, Sinbad small below"
    ),
    RealCut("A13", 994, True, "wide of the island with the Roc on the cliff -> Roc close-up with Sinbad below, same rock face"),
)


def _frames(path: Path, indices: Iterable[int], max_width: int) -> tuple[list[np.ndarray], Any]:
    info = probe(path)
    width, height = analysis_size(info, max_width)
    wanted = list(indices)
    found = reader.read_frames_at(path, info, wanted, size=(width, height), pix_fmt="rgb24")
    missing = [i for i in wanted if i not in found]
    if missing:
        raise RuntimeError(f"{path.name}: frames {missing} could not be read")
    return [found[i].image for i in wanted], info


def _shot(order: int, input_index: int, name: str, images: list[np.ndarray], first_frame: int, role: str) -> Shot:
    h, w = images[0].shape[:2]
    frames = [
        Frame(input_index, name, first_frame + k, None, None, np.ascontiguousarray(img, np.uint8), role)
        for k, img in enumerate(images)
    ]
    shot = Shot(order, input_index, name, None, w, h)
    if role == "tail":
        shot.tail = frames
        shot.head = frames[:1]
    else:
        shot.head = frames
        shot.tail = frames[-1:]
    return shot


def build_pairs(media: Path, manifest: dict[str, Any], *, max_width: int = 960) -> list[RealPair]:
    """Every altered and clean pair of `BASES`, then every real cut of `REAL_CUTS`."""
    names = {f["name"][:3]: f["name"] for f in manifest["files"] if f.get("resolution")}
    pairs: list[RealPair] = []
    index = 0
    for n, base in enumerate(BASES):
        path = media / names[base.prefix]
        before = list(range(base.cut - EDGE, base.cut))
        after = list(range(base.cut + base.gap, base.cut + base.gap + EDGE))
        images, _ = _frames(path, before + after, max_width)
        out_images, in_images = images[:EDGE], images[EDGE:]
        rng = np.random.default_rng(1000 + n)
        place = _prop_place(out_images + in_images, rng)
        for alteration in ("unaltered", *base.alterations):
            out_alt, in_alt, target = list(out_images), list(in_images), None
            if alteration == "costume":
                in_alt, target = recolour_torso(in_alt)
                if target is None:
                    raise RuntimeError(f"{base.prefix}@{base.cut}: no person to recolour")
            elif alteration == "prop_in":
                in_alt = [paste_prop(img, place) for img in in_alt]
            elif alteration == "prop_out":
                out_alt = [paste_prop(img, place) for img in out_alt]
            else:
                in_alt = [_ALTER[alteration](img) for img in in_alt] if alteration in _ALTER else in_alt
            name = f"{base.prefix}@{base.cut} {alteration}"
            expected = {POSITIVE[alteration]} if alteration in POSITIVE else set()
            outgoing = _shot(0, index, f"{base.prefix}@{base.cut} out", out_alt, base.cut - EDGE, "tail")
            incoming = _shot(1, index + 1, f"{base.prefix}@{base.cut} in ({alteration})", in_alt, base.cut + base.gap, "head")
            pairs.append(RealPair(name, alteration, expected, outgoing, incoming, target))
            index += 2
    for real in REAL_CUTS:
        prefix, cut = real.prefix, real.cut
        path = media / names[prefix]
        images, _ = _frames(path, list(range(cut - EDGE, cut + EDGE)), max_width)
        outgoing = _shot(0, index, f"{prefix} shot ending at {cut - 1}", images[:EDGE], cut - EDGE, "tail")
        incoming = _shot(1, index + 1, f"{prefix} shot starting at {cut}", images[EDGE:], cut, "head")
        notes = {"same_scene": real.same_scene, "seen": real.seen}
        pairs.append(RealPair(f"{prefix} cut at frame {cut}", "real_cut", set(), outgoing, incoming, notes=notes))
        index += 2
    return pairs


def _linear(image: np.ndarray, gains: tuple[float, float, float]) -> np.ndarray:
    linear = srgb_to_linear(image) * np.asarray(gains, np.float32)
    return (np.clip(linear_to_srgb(np.clip(linear, 0.0, 1.0)), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def exposure(stops: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda img: _linear(img, (2.0**stops,) * 3)


def white_balance(warm: bool) -> Callable[[np.ndarray], np.ndarray]:
    # about 35 mired either way at daylight: the step between two lamps that were meant to match
    gains = (1.12, 1.0, 0.86) if warm else (0.88, 1.0, 1.15)
    return lambda img: _linear(img, gains)


def reframe(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    dx, dy = int(w * 0.05), int(h * 0.05)
    return cv2.resize(img[dy : h - dy, dx : w - dx], (w, h), interpolation=cv2.INTER_LINEAR)


def recompress(img: np.ndarray) -> np.ndarray:
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 30])
    assert ok
    return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


_ALTER: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "exposure_+0.5": exposure(0.5),
    "exposure_-0.5": exposure(-0.5),
    "exposure_+1": exposure(1.0),
    "exposure_-1": exposure(-1.0),
    "wb_warm": white_balance(True),
    "wb_cool": white_balance(False),
    "reframe": reframe,
    "recompress": recompress,
}


def recolour_torso(images: list[np.ndarray]) -> tuple[list[np.ndarray], tuple[float, float, float, float] | None]:
    """The biggest person's torso garment recoloured in every frame (on the person mask, between the
    shoulders and the hips); returns the frames and that person's box in the first of them."""
    out, target = [], None
    for img in images:
        people = detect.detect_persons(img)
        if not people:
            out.append(img)
            continue
        person = max(people, key=lambda p: (p.body[2] - p.body[0]) * (p.body[3] - p.body[1]))
        bgr = np.ascontiguousarray(img[..., ::-1])
        found = pose.pose_on_box(bgr, person.body)
        h, w = img.shape[:2]
        pts = found.points
        top = pts[[pose.LEFT_SHOULDER, pose.RIGHT_SHOULDER]]
        hips = pts[[pose.LEFT_HIP, pose.RIGHT_HIP]]
        width = max(8.0, float(np.ptp(top[:, 0])))
        bottom = hips if np.all(hips[:, 1] < h) else np.array([[top[0, 0], h + 1.0], [top[1, 0], h + 1.0]])
        poly = np.array([top[0] + [0, 0.1 * width], top[1] + [0, 0.1 * width], bottom[1], bottom[0]], np.float32)
        region = np.zeros((h, w), np.uint8)
        cv2.fillPoly(region, [np.round(poly).astype(np.int32)], 1)
        mask = cv2.GaussianBlur(((region > 0) & (found.mask > 0.5)).astype(np.float32), (0, 0), 1.5)
        lab = cv2.cvtColor(img.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
        inside = mask > 0.5
        if inside.sum() < 50:
            out.append(img)
            continue
        changed = lab.copy()
        chroma = float(np.median(np.hypot(lab[..., 1][inside], lab[..., 2][inside])))
        if chroma < 15:
            # black, grey or white garment: a light grey for a dark one, a dark one for a light one
            lightness = float(np.median(lab[..., 0][inside]))
            changed[..., 0] = np.clip(lab[..., 0] + (40.0 if lightness < 55 else -40.0), 0, 100)
            changed[..., 1] = lab[..., 1] + 25.0  # and a touch of colour, as a real other coat has
        else:
            angle = math.radians(150.0)
            a, b = lab[..., 1], lab[..., 2]
            changed[..., 1] = a * math.cos(angle) - b * math.sin(angle)
            changed[..., 2] = a * math.sin(angle) + b * math.cos(angle)
        rgb = np.clip(cv2.cvtColor(changed, cv2.COLOR_Lab2RGB), 0, 1) * 255.0
        blended = img.astype(np.float32) * (1 - mask[..., None]) + rgb * mask[..., None]
        out.append((blended + 0.5).astype(np.uint8))
        if target is None:
            ys, xs = np.nonzero(inside)
            target = (float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max()))
    return out, target


def _prop_place(images: list[np.ndarray], rng: np.random.Generator) -> tuple[int, int, int, int]:
    """Where a prop can stand: the still part of the frames, away from people (x, y, w, h)."""
    h, w = images[0].shape[:2]
    greys = [cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.int16) for img in images]
    moving = np.zeros((h, w), bool)
    for a in greys[1:]:
        moving |= np.abs(a - greys[0]) > 12
    for img in images[:1]:
        for p in detect.detect_persons(img):
            x0, y0, x1, y1 = (int(v) for v in p.body)
            moving[max(0, y0) : y1, max(0, x0) : x1] = True
    pw, ph = max(16, int(w * 0.06)), max(20, int(h * 0.12))
    best, best_score = None, None
    for _ in range(200):
        x = int(rng.integers(int(w * 0.05), int(w * 0.95) - pw))
        y = int(rng.integers(int(h * 0.15), int(h * 0.9) - ph))
        score = float(moving[y : y + ph, x : x + pw].mean())
        if best_score is None or score < best_score:
            best, best_score = (x, y, pw, ph), score
    assert best is not None
    return best


def paste_prop(img: np.ndarray, place: tuple[int, int, int, int]) -> np.ndarray:
    """A book standing on the set: a saturated cover with a lighter page edge and a soft shadow."""
    x, y, pw, ph = place
    out = img.copy()
    shadow = out[y + 3 : y + ph + 3, x + 3 : x + pw + 3].astype(np.float32) * 0.6
    out[y + 3 : y + ph + 3, x + 3 : x + pw + 3] = shadow.astype(np.uint8)
    cover = np.zeros((ph, pw, 3), np.float32)
    shade = np.linspace(0.8, 1.0, pw, dtype=np.float32)[None, :, None]
    cover[:] = np.array([170, 30, 40], np.float32) * shade
    cover[:, : max(2, pw // 8)] = (235, 225, 205)  # pages
    cover[ph // 3 : ph // 3 + max(2, ph // 12), pw // 4 :] = (230, 200, 60)  # a title band
    out[y : y + ph, x : x + pw] = cover.astype(np.uint8)
    return out


def _iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1])) if inter > 0 else 0.0


def judged_types(pair: RealPair, findings: list[dict[str, Any]]) -> tuple[set[str], list[dict[str, Any]]]:
    """Finding types counted for a pair, and the findings that were wrong (for the report).

    A costume finding counts only when it is on the recoloured person (its incoming box overlaps
    that person); a costume finding on someone else is a false one."""
    found: set[str] = set()
    wrong = []
    for f in findings:
        kind = f["type"]
        if kind == "costume" and pair.alteration == "costume" and pair.target_box is not None:
            box = (f.get("incoming") or {}).get("box")
            h, w = pair.incoming.head[0].image.shape[:2]
            if (
                box is None
                or _iou((box["x"] * w, box["y"] * h, (box["x"] + box["w"]) * w, (box["y"] + box["h"]) * h), pair.target_box) < 0.2
            ):
                wrong.append(f)
                continue
        if kind in pair.expected:
            found.add(kind)
        else:
            wrong.append(f)
    return found, wrong


def score(results: list[tuple[RealPair, list[dict[str, Any]], dict[str, Any]]]) -> dict[str, Any]:
    """Precision and recall over the altered and clean pairs (overall and by change type), false
    findings per clean pair, and how many real cuts were compared."""
    by_type: dict[str, dict[str, int]] = {}
    tp = fp = fn = 0
    clean_pairs = clean_false = 0
    cuts = compared = same_scene = same_scene_compared = cut_findings = 0
    cut_rows = []
    for pair, findings, pair_report in results:
        if pair.alteration == "real_cut":
            cuts += 1
            status = pair_report.get("status")
            done = status in ("checked", "partly checked")
            compared += done
            same_scene += pair.notes["same_scene"]
            same_scene_compared += done and pair.notes["same_scene"]
            cut_findings += len(findings)  # untouched footage: every finding on it is a false one
            cut_rows.append(
                {
                    "cut": pair.name,
                    "seen": pair.notes["seen"],
                    "same_scene": pair.notes["same_scene"],
                    "status": status,
                    "why": pair_report.get("why"),
                    "findings": len(findings),
                }
            )
            continue
        found, wrong = judged_types(pair, findings)
        row = by_type.setdefault(pair.alteration, {"pairs": 0, "tp": 0, "fp": 0, "fn": 0})
        row["pairs"] += 1
        row["tp"] += len(found)
        row["fn"] += len(pair.expected - found)
        row["fp"] += len(wrong)
        tp, fn, fp = tp + len(found), fn + len(pair.expected - found), fp + len(wrong)
        if pair.clean:
            clean_pairs += 1
            clean_false += len(wrong)
    for row in by_type.values():
        row["recall"] = round(row["tp"] / (row["tp"] + row["fn"]), 3) if row["tp"] + row["fn"] else None
        row["precision"] = round(row["tp"] / (row["tp"] + row["fp"]), 3) if row["tp"] + row["fp"] else None
    return {
        "precision": round(tp / (tp + fp), 3) if tp + fp else 1.0,
        "recall": round(tp / (tp + fn), 3) if tp + fn else 1.0,
        "true": tp,
        "false": fp,
        "missed": fn,
        "clean_pairs": clean_pairs,
        "false_on_clean": clean_false,
        "by_type": by_type,
        "cuts": cuts,
        "cuts_compared": compared,
        "same_scene_cuts": same_scene,
        "same_scene_compared": same_scene_compared,
        "findings_on_cuts": cut_findings,
        "cut_rows": cut_rows,
    }


def table(summary: dict[str, Any]) -> str:
    lines = [f"{'change':<16}{'pairs':>6}{'true':>6}{'false':>6}{'missed':>7}{'precision':>10}{'recall':>8}"]
    for name, row in sorted(summary["by_type"].items()):
        p = "-" if row["precision"] is None else f"{row['precision']:.2f}"
        r = "-" if row["recall"] is None else f"{row['recall']:.2f}"
        lines.append(f"{name:<16}{row['pairs']:>6}{row['tp']:>6}{row['fp']:>6}{row['fn']:>7}{p:>10}{r:>8}")
    lines.append(
        f"overall precision {summary['precision']:.3f}, recall {summary['recall']:.3f}; "
        f"{summary['false_on_clean']} false finding(s) on {summary['clean_pairs']} clean pairs; "
        f"real cuts compared {summary['cuts_compared']}/{summary['cuts']}, of one scene "
        f"{summary['same_scene_compared']}/{summary['same_scene_cuts']}; {summary['findings_on_cuts']} finding(s) on real cuts"
    )
    for row in summary["cut_rows"]:
        scene = "one scene" if row["same_scene"] else "new location"
        lines.append(f"  {row['cut']} [{scene}: {row['seen']}]: {row['status']}, {row['findings']} finding(s) ({row['why']})")
    return "\n".join(lines)
