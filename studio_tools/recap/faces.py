"""Faces on screen, counted on sampled analysis frames, when a face model is installed.

OpenCV 5 (the opencv-python-headless this project pins) no longer ships the Haar cascades nor
`cv2.CascadeClassifier`; its face detector is `cv2.FaceDetectorYN` (YuNet), which needs its ONNX
model file. The model is not in any package we install and a tool must not download weights at run
time, so faces are measured only when `STUDIO_TOOLS_FACE_MODEL` names a YuNet .onnx file on the worker.
Without it the face signal is reported as not measured (null) and left out of the moment scores,
rather than counted as "no faces".
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import cv2
import numpy as np

FACE_MODEL_ENV = "STUDIO_TOOLS_FACE_MODEL"
SAMPLE_EVERY = 1.0  # seconds between frames looked at


class FaceCounter:
    def __init__(self, model: Path, width: int, height: int) -> None:
        self.model = model
        self._detector = cv2.FaceDetectorYN.create(str(model), "", (width, height), 0.7, 0.3, 50)
        self.times: list[float] = []
        self.counts: list[int] = []
        self._next = 0.0

    @classmethod
    def from_environment(cls, width: int, height: int) -> FaceCounter | None:
        configured = os.environ.get(FACE_MODEL_ENV, "").strip()
        if not configured:
            return None
        model = Path(configured)
        if not model.is_file():
            return None
        return cls(model, width, height)

    @property
    def identity(self) -> str:
        """What the cache key needs to know about the model: its content."""
        return hashlib.sha256(self.model.read_bytes()).hexdigest()[:16]

    def feed(self, seconds: float, bgr: np.ndarray) -> None:
        if seconds < self._next:
            return
        self._next = seconds + SAMPLE_EVERY
        _, faces = self._detector.detect(bgr)
        self.times.append(seconds)
        self.counts.append(0 if faces is None else int(len(faces)))


def model_identity() -> str:
    """ "none" or a short hash of the configured model, for cache keys."""
    configured = os.environ.get(FACE_MODEL_ENV, "").strip()
    if not configured or not Path(configured).is_file():
        return "none"
    return hashlib.sha256(Path(configured).read_bytes()).hexdigest()[:16]
