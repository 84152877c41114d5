"""Generated media carries its label in the pixels: the proxy and poster of an unapproved plate."""

from __future__ import annotations

import subprocess

import cv2
import numpy as np

from studio_tools.media import make_poster, make_proxy, probe


def _black_clip(path) -> None:
    subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-y", "-f", "lavfi", "-i", "color=c=black:size=640x360:rate=25:duration=1",
         "-c:v", "libx264", "-preset", "ultrafast", str(path)],
        check=True,
        timeout=60,
    )  # fmt: skip


def _bright_fraction(image: np.ndarray) -> float:
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return float((grey > 200).mean())


def test_burned_in_label_is_in_every_proxy_frame_and_the_poster(tmp_path):
    src = tmp_path / "black.mp4"
    _black_clip(src)
    info = probe(src)
    make_proxy(src, tmp_path / "plain.mp4", info)
    make_proxy(src, tmp_path / "labelled.mp4", info, burn_in="AI-GENERATED - NOT APPROVED")
    plain = cv2.VideoCapture(str(tmp_path / "plain.mp4"))
    labelled = cv2.VideoCapture(str(tmp_path / "labelled.mp4"))
    frames = 0
    while True:
        ok_plain, frame_plain = plain.read()
        ok_labelled, frame_labelled = labelled.read()
        if not (ok_plain and ok_labelled):
            break
        frames += 1
        assert _bright_fraction(frame_plain) == 0.0
        # White text in the top right corner of every frame, nothing bright below it or on the left.
        height, width = frame_labelled.shape[:2]
        corner = frame_labelled[: int(height * 0.2), width // 4 :]
        below = frame_labelled[int(height * 0.25) :]
        left = frame_labelled[:, : width // 5]
        assert _bright_fraction(corner) > 0.005
        assert _bright_fraction(below) == 0.0 and _bright_fraction(left) == 0.0
    assert frames == 25
    make_poster(src, tmp_path / "poster.jpg", info, burn_in="AI-GENERATED - NOT APPROVED")
    assert _bright_fraction(cv2.imread(str(tmp_path / "poster.jpg"))) > 0.002
