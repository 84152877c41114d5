"""Who is who: dlib's 128-d face descriptor, and a clothing-appearance descriptor where no face shows.

Faces: a face box (from BlazeFace, `detect.detect_faces`) is aligned with dlib's 5-point shape
predictor and described by dlib's ResNet face descriptor (the `face_recognition_models` package
carries both .dat files; `dlib-bin` runs them on the CPU). dlib's own threshold on the Euclidean
distance is 0.6; on the development footage one performer in two clips measured 0.29-0.34 and two
different people 0.56 and more, so `SAME_FACE` is 0.5. Faces smaller than `MIN_FACE` pixels are not
described (the descriptor is unreliable there).

Clothing: when a character turns away or is too small for a face, they are identified by what they
wear, a chroma histogram (a*, b* in CIELAB, lightness left out so a change of light moves it little)
over the person mask, compared with the Bhattacharyya distance.
"""

from __future__ import annotations

import threading

import cv2
import numpy as np

MIN_FACE = 28  # pixels: smaller faces are not described
SAME_FACE = 0.5  # descriptor distance under which two faces are one person (stricter than dlib's 0.6)
_local = threading.local()


class FaceModelsMissing(RuntimeError):
    pass


def _models():
    found = getattr(_local, "models", None)
    if found is None:
        try:
            import dlib
            import face_recognition_models
        except ImportError as exc:  # pragma: no cover - both are pinned in requirements
            raise FaceModelsMissing(f"dlib and face_recognition_models are needed for face identity: {exc}") from exc
        found = _local.models = (
            dlib,
            dlib.shape_predictor(face_recognition_models.pose_predictor_five_point_model_location()),
            dlib.face_recognition_model_v1(face_recognition_models.face_recognition_model_location()),
        )
    return found


def face_descriptor(image_rgb: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray | None:
    """The 128-d descriptor of the face in `box` (x0, y0, x1, y1) of an RGB frame, or None when too small."""
    x0, y0, x1, y1 = box
    if min(x1 - x0, y1 - y0) < MIN_FACE:
        return None
    dlib, predictor, encoder = _models()
    h, w = image_rgb.shape[:2]
    rect = dlib.rectangle(max(0, int(x0)), max(0, int(y0)), min(w - 1, int(x1)), min(h - 1, int(y1)))
    picture = np.ascontiguousarray(image_rgb, np.uint8)
    shape = predictor(picture, rect)
    return np.asarray(encoder.compute_face_descriptor(picture, shape, 0), np.float32)


def face_distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)))


CHROMA_BINS = 12


def clothing_descriptor(lab: np.ndarray, mask: np.ndarray) -> np.ndarray | None:
    """Normalized 2-D a*b* histogram of the pixels under `mask` (bool), or None when too few."""
    pixels = lab[mask]
    if len(pixels) < 60:
        return None
    hist, _, _ = np.histogram2d(pixels[:, 1], pixels[:, 2], bins=CHROMA_BINS, range=[[-64.0, 64.0], [-64.0, 64.0]])
    hist = cv2.GaussianBlur(hist.astype(np.float32), (3, 3), 0.7)
    total = float(hist.sum())
    return hist / total if total > 0 else None


def clothing_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Bhattacharyya distance between two clothing descriptors: 0 alike, 1 nothing in common."""
    return float(cv2.compareHist(np.asarray(a, np.float32), np.asarray(b, np.float32), cv2.HISTCMP_BHATTACHARYYA))
