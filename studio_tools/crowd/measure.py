"""Measuring a crowd comp the way a compositor looks at it: the added people, from the layer's alpha.

Per frame, the added people are the connected parts of the layer's alpha. For each one:

- see-through: the median alpha over its body (pixels above a faint threshold) under `SOLID` of 255;
- incomplete: shorter than `COMPLETE` of a whole person at its foot row, that height fitted from the
  plate's own people (those the pose model sees whole; see `people.fit_heights`). People cut by the
  frame edge (walking in or out of view) are counted but not judged complete or not;
- clones in sync: two added people in one frame whose silhouettes, scaled to one size, overlap by
  IoU >= `SAME_SILHOUETTE`;
- pops: an added person who comes on (or goes off) in view: in a frame after the first (before the
  last) with no part of the layer's alpha under them in the frame before (after), and not at the
  frame edge. A person walking in or out of view, or there at the shot's start or end, is not a pop.

Used by the real-plate tests and the benchmark; it reads nothing of the tool's report.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from studio_tools.crowd import analysis as an
from studio_tools.crowd import people
from studio_tools.media.sandbox import die_with_parent

SOLID = 200
COMPLETE = 0.7
SAME_SILHOUETTE = 0.9
FAINT = 24  # alpha below this is the soft edge's outer fringe, not body
SILHOUETTE_SIZE = (24, 64)


def layer_alpha(path: Path, width: int, height: int) -> np.ndarray:
    """(frames, h, w) uint8: the alpha plane of a layer.mov (ProRes 4444) or of a folder/zip of PNGs."""
    done = subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-i", str(path), "-vf", "alphaextract,format=gray", "-f", "rawvideo", "pipe:"],
        capture_output=True,
        check=True,
        preexec_fn=die_with_parent(),
    )
    return np.frombuffer(done.stdout, np.uint8).reshape(-1, height, width)


@dataclass
class AddedPerson:
    frame: int
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive)
    median_alpha: float
    at_edge: bool
    silhouette: np.ndarray  # bool, SILHOUETTE_SIZE


def added_people(alpha: np.ndarray, frame: int, min_height: int) -> list[AddedPerson]:
    return _parts(alpha, frame, min_height)[0]


def _parts(alpha: np.ndarray, frame: int, min_height: int) -> tuple[list[AddedPerson], np.ndarray]:
    """The added people of one frame, and the boxes (n, 4) of every part of the alpha, people or not."""
    h, w = alpha.shape
    body = (alpha > FAINT).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(body, connectivity=8)
    boxes = np.array([[x, y, x + bw, y + bh] for x, y, bw, bh, _a in stats[1:].tolist()], np.int64).reshape(-1, 4)
    out = []
    for label in range(1, n):
        x, y, bw, bh, _area = (int(v) for v in stats[label])
        if bh < min_height:
            continue
        part = labels[y : y + bh, x : x + bw] == label
        values = alpha[y : y + bh, x : x + bw][part]
        sil = cv2.resize(part.astype(np.uint8), SILHOUETTE_SIZE, interpolation=cv2.INTER_NEAREST) > 0
        edge = x <= 0 or y <= 0 or x + bw >= w or y + bh >= h
        out.append(AddedPerson(frame, (x, y, x + bw, y + bh), float(np.median(values)), edge, sil))
    return out, boxes


def _alone(box: tuple[int, int, int, int], others: np.ndarray) -> bool:
    """No box of `others` meets `box`: nothing of the layer was there."""
    if not len(others):
        return True
    x0, y0, x1, y1 = box
    meets = (np.minimum(others[:, 2], x1) > np.maximum(others[:, 0], x0)) & (
        np.minimum(others[:, 3], y1) > np.maximum(others[:, 1], y0)
    )
    return not bool(meets.any())


def plate_height_model(plate: Path, scratch: Path, samples: int = 60) -> tuple[people.HeightModel, float]:
    """A whole person's height by foot row in the plate (full-size pixels), and the plate's people per frame."""
    from studio_tools.core import InputKind, ToolInput
    from studio_tools.crowd.tool import open_video

    video = open_video(ToolInput(Path(plate), InputKind.PLATE, "plate"))
    Path(scratch).mkdir(parents=True, exist_ok=True)
    frames = an.load_frames(video, Path(scratch), f"measure-{Path(plate).stem}")
    background = an.median_background(frames)
    detections = an.segment_plate(frames, background, an.estimate_noise(frames), "mog2")
    factor = video.width / frames.shape[2]
    found = [d for dets in detections for d in dets if not d.clipped]
    picks = [found[int(i)] for i in np.unique(np.linspace(0, len(found) - 1, min(samples, len(found))).round())] if found else []
    points = []
    for d in picks:
        whole, _score, _reason = people.check_box(np.asarray(frames[d.frame]), d.box)
        if whole:
            points.append((d.y1 * factor, d.height * factor))
    return people.fit_heights(points, video.height), float(np.mean([len(d) for d in detections]))


@dataclass
class Measures:
    frames: int
    added: int  # added people summed over frames
    see_through: int
    incomplete: int
    judged: int  # added people not at the frame edge (those see-through and completeness are judged on)
    clone_frames: int  # frames with two added people of the same silhouette
    per_frame: float  # added people per frame
    comings_and_goings: int = 0  # added people coming on or going off inside the shot
    pops: int = 0  # ... of which in view (not at the frame edge): a compositor sees them pop
    pop_frames: tuple[int, ...] = ()  # the frames where they do

    @property
    def pop_share(self) -> float:
        return self.pops / max(1, self.comings_and_goings)

    @property
    def see_through_share(self) -> float:
        return self.see_through / max(1, self.judged)

    @property
    def incomplete_share(self) -> float:
        return self.incomplete / max(1, self.judged)

    @property
    def clone_frame_share(self) -> float:
        return self.clone_frames / max(1, self.frames)

    def summary(self) -> str:
        return (
            f"{self.frames} frames, {self.per_frame:.2f} added people per frame; see-through {self.see_through_share:.1%}, "
            f"incomplete {self.incomplete_share:.1%} (of {self.judged} judged), frames with clones in sync "
            f"{self.clone_frame_share:.1%}; pops in view {self.pops} of {self.comings_and_goings} comings and goings "
            f"({self.pop_share:.1%}; frames {list(self.pop_frames[:12])})"
        )


def measure(alpha_frames: np.ndarray, heights: people.HeightModel, min_height: int) -> Measures:
    added = see = incomplete = judged = clone_frames = events = popped = 0
    pop_frames: list[int] = []
    n = len(alpha_frames)
    parts = [_parts(alpha, t, min_height) for t, alpha in enumerate(alpha_frames)]
    for t, (found, _boxes) in enumerate(parts):
        added += len(found)
        for person in found:
            for near, inside in ((t - 1, t > 0), (t + 1, t < n - 1)):
                if inside and _alone(person.box, parts[near][1]):
                    events += 1
                    if not person.at_edge:
                        popped += 1
                        pop_frames.append(t)
        for person in found:
            if person.at_edge:
                continue
            judged += 1
            if person.median_alpha < SOLID:
                see += 1
            expected = heights.at(person.box[3])
            if expected and person.box[3] - person.box[1] < COMPLETE * expected:
                incomplete += 1
        if any(
            _iou(a.silhouette, b.silhouette) >= SAME_SILHOUETTE
            and abs((a.box[3] - a.box[1]) - (b.box[3] - b.box[1])) <= 0.1 * (a.box[3] - a.box[1])
            for i, a in enumerate(found)
            for b in found[i + 1 :]
        ):
            clone_frames += 1
    return Measures(n, added, see, incomplete, judged, clone_frames, added / max(1, n), events, popped, tuple(pop_frames))


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = int((a | b).sum())
    return int((a & b).sum()) / union if union else 0.0
