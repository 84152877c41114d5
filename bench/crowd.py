"""Benchmark: the crowd tool on a real plate scaled to 1920x1080, against ffmpeg on the same plate.

There is no real 1080p plate in ../shared/media, so the real one (A16, mall pedestrians, 480x360 at
10 fps; --plate another) is scaled to --size with ffmpeg (lanczos, H.264 CRF 16) into a temporary folder,
SECONDS long (default 20 s); --generated makes a synthetic plate of walkers instead
(studio_tools.crowd.synthetic, 25 fps). Then in the same run it times

- ffmpeg alone: decode the plate and encode it as the tool encodes its comp (ProRes 422 HQ,
  prores_ks profile 3 at the tool's fixed quantizer, yuv422p10le), and
- the crowd tool end to end at density 2 (analysis, planning, extraction, compositing, and the
  comp, proxy, layer and matte encodes),

and prints frames per second for both and their ratio (target: at least 8 fps at 1080p on 2 cores, with the model), plus the
CPU time per frame of each, which a machine shared with other work does not distort as much.

The tool registry (which imports every tool: about a second) is loaded before the clock starts, as
in a worker that has already run a tool. With --repeat N both are timed N times, alternately, and
the best run of each is compared as well (on a shared machine the best is the least disturbed).

The pose model's cost (the completeness gate and the person mattes: BlazePose on the CPU) is printed on a
line of its own, per frame of the plate.

    .venv/bin/python bench/crowd.py
    .venv/bin/python bench/crowd.py --generated --seconds 4 --size 1280x720
    .venv/bin/python bench/crowd.py --repeat 3
    .venv/bin/python bench/crowd.py --seconds 8 --profile    # where the time goes (pyinstrument, main thread)
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from studio_tools.core import ToolInput, get, run_tool  # noqa: E402
from studio_tools.crowd.synthetic import make_scene, write_scene  # noqa: E402
from studio_tools.crowd.tool import PRORES_QSCALE  # noqa: E402

REAL_PLATE = Path(__file__).resolve().parents[2] / "shared" / "media" / "A16_mall_pedestrians_10fps.avi"


def scale_plate(source: Path, out: Path, width: int, height: int, seconds: float) -> tuple[Path, int, float]:
    """The first `seconds` of a real plate scaled to width x height: (path, frames, fps)."""
    from studio_tools.media import probe

    rate = probe(source).video.fps
    frames = int(round(seconds * rate))
    subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-y", "-i", str(source), "-frames:v", str(frames), "-an",
         "-vf", f"scale={width}:{height}:flags=lanczos,setsar=1", "-c:v", "libx264", "-preset", "veryfast", "-crf", "16",
         "-pix_fmt", "yuv420p", str(out)],
        check=True,
    )  # fmt: skip
    return out, frames, rate


def cpu_seconds(who: int | None = None) -> float:
    """User + system CPU time of this process and/or of the children it has waited for (ffmpeg)."""
    total = 0.0
    for kind in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN) if who is None else (who,):
        usage = resource.getrusage(kind)
        total += usage.ru_utime + usage.ru_stime
    return total


def ffmpeg_baseline(plate: Path, work: Path, frames: int) -> tuple[float, float]:
    """Decode the plate and encode it as the tool encodes its comp: (seconds, CPU seconds per frame)."""
    t, cpu = time.perf_counter(), cpu_seconds()
    subprocess.run(
        [
            "ffmpeg", "-v", "error", "-nostdin", "-y", "-i", str(plate),
            "-c:v", "prores_ks", "-profile:v", "3", "-qscale:v", str(PRORES_QSCALE), "-pix_fmt", "yuv422p10le",
            "-f", "mov", str(work / "baseline.mov"),
        ],
        check=True,
    )  # fmt: skip
    return time.perf_counter() - t, (cpu_seconds() - cpu) / frames


def crowd_run(
    plate: Path, work: Path, frames: int, density: float, params: dict, profile: bool = False
) -> tuple[float, float, float, dict]:
    """One run of the tool: (seconds, CPU seconds per frame, of which in Python, metrics)."""
    shutil.rmtree(work, ignore_errors=True)
    profiler = None
    if profile:
        from pyinstrument import Profiler  # requirements-dev.txt

        profiler = Profiler(interval=0.005)
        profiler.start()
    t, cpu, cpu_python = time.perf_counter(), cpu_seconds(), cpu_seconds(resource.RUSAGE_SELF)
    record = run_tool("crowd", [ToolInput(plate, "plate", "plate")], {"density": density, "seed": 1, **params}, work)
    elapsed = time.perf_counter() - t
    if profiler is not None:
        profiler.stop()
        # the main thread only: the encoders are ffmpeg processes, the cut-outs run on two worker threads
        print(profiler.output_text(unicode=False, color=False))
    tool_cpu = (cpu_seconds() - cpu) / frames
    python_cpu = (cpu_seconds(resource.RUSAGE_SELF) - cpu_python) / frames
    return elapsed, tool_cpu, python_cpu, record.result.metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--plate", type=Path, default=REAL_PLATE, help="the real plate to scale up (default: A16)")
    parser.add_argument("--generated", action="store_true", help="a generated plate of walkers instead of a real one")
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--walkers", type=int, default=5)
    parser.add_argument("--density", type=float, default=2.0)
    parser.add_argument("--repeat", type=int, default=1, help="time ffmpeg and the tool this many times each, alternately")
    parser.add_argument("--profile", action="store_true", help="print where the tool's main thread spends its time")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    get("crowd")  # the registry imports every tool once per process: not part of a run

    with tempfile.TemporaryDirectory(prefix="bench-crowd-") as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        cores = os.cpu_count() or 1
        if args.generated:
            scene = make_scene(width, height, seconds=args.seconds, walkers=args.walkers, seed=1, person_scale=0.32)
            plate = write_scene(scene, work / "plate.mp4", crf=18)
            frames, fps, what = scene.frames, scene.fps, f"generated, {args.walkers} walkers"
            params = {"completeness": "off"}  # the generated figures are not people to the pose model
        else:
            plate, frames, fps = scale_plate(args.plate, work / "plate.mp4", width, height, args.seconds)
            what = f"real: {args.plate.name} scaled to {width}x{height} with ffmpeg (there is no real 1080p plate)"
            params = {}
        print(
            f"plate: {width}x{height}, {frames} frames at {fps:g} fps ({what}), "
            f"{plate.stat().st_size / 1e6:.1f} MB H.264 (made in {time.perf_counter() - started:.1f} s); "
            f"{cores} cores, load average {os.getloadavg()[0]:.2f}"
        )
        baselines, runs = [], []
        for n in range(args.repeat):
            tag = f"[{n + 1}/{args.repeat}] " if args.repeat > 1 else ""
            baseline, baseline_cpu = ffmpeg_baseline(plate, work, frames)
            baselines.append((baseline, baseline_cpu))
            print(
                f"{tag}ffmpeg decode + ProRes 422 HQ encode: {baseline:.2f} s, {frames / baseline:.1f} fps; "
                f"{1000 * baseline_cpu:.0f} ms CPU per frame (load average {os.getloadavg()[0]:.2f})"
            )
            elapsed, tool_cpu, python_cpu, metrics = crowd_run(plate, work / "run", frames, args.density, params, args.profile)
            runs.append((elapsed, tool_cpu, python_cpu))
            fps = frames / elapsed
            print(
                f"{tag}crowd tool: {elapsed:.2f} s, {fps:.1f} fps "
                f"({metrics['people_in_mean']:.1f} people in, {metrics['people_added']} added; "
                f"analyse {metrics['analyse_seconds']:.1f} s, plan {metrics['plan_seconds']:.1f} s, "
                f"extract {metrics['extract_seconds']:.1f} s, composite+encode {metrics['composite_seconds']:.1f} s)"
            )
            pose = metrics.get("pose_gate_seconds", 0.0) + metrics.get("pose_matte_seconds", 0.0)
            print(
                f"{tag}pose model (completeness gate + person mattes): {metrics.get('pose_calls', 0)} calls, "
                f"{pose:.2f} s = {1000 * pose / frames:.1f} ms per plate frame "
                f"(gate {metrics.get('pose_gate_seconds', 0.0):.2f} s, mattes {metrics.get('pose_matte_seconds', 0.0):.2f} s "
                "summed over the extraction threads)"
            )
            ratio = fps * baseline / frames
            print(f"{tag}ratio to ffmpeg decode+encode: {ratio:.3f} (tool takes {elapsed / baseline:.1f}x as long)")
            print(
                f"{tag}CPU per frame: tool {1000 * tool_cpu:.0f} ms ({1000 * python_cpu:.0f} in Python, "
                f"{1000 * (tool_cpu - python_cpu):.0f} in its ffmpeg decoders and encoders), ffmpeg {1000 * baseline_cpu:.0f} ms "
                f"(ratio {baseline_cpu / tool_cpu:.3f});"
                f" on {cores} idle cores the tool would reach at most {cores / tool_cpu:.1f} fps"
            )
            print(f"{tag}load average after: {os.getloadavg()[0]:.2f}")
        if args.repeat > 1:
            best_baseline = min(b for b, _c in baselines)
            best = min(runs)
            least_cpu = min(r[1] for r in runs)
            print(
                f"best of {args.repeat}: ffmpeg {frames / best_baseline:.1f} fps, crowd tool {frames / best[0]:.1f} fps, "
                f"ratio {best_baseline / best[0]:.3f}; least tool CPU {1000 * least_cpu:.0f} ms per frame "
                f"(at most {cores / least_cpu:.1f} fps on {cores} idle cores)"
            )


if __name__ == "__main__":
    main()
