"""Benchmark: recap analysis throughput on 720p and 1080p, and render time against the recap's length.

For each size, generates an "episode" with ffmpeg lavfi (shots of different sources joined by hard
cuts, 25 fps H.264 + stereo AAC, SECONDS long, default 60) and measures in the same run:

- ffmpeg decode-only: `ffmpeg -i FILE -f null -` frames per second (the ceiling for any analysis);
- PySceneDetect's default detector (ContentDetector) alone, through its own OpenCV backend and default
  downscale, frames per second;
- the recap analysis (downscaled decode + AdaptiveDetector + dissolve detector + per-frame signals +
  the EBU R128 loudness pass), frames per second, and its ratio to the two above.

Then renders a recap (target RECAP seconds, default 30) of two such 1080p episodes with the full tool
and prints render seconds / recap seconds (target: under 1, i.e. faster than realtime, on 2 cores).

    .venv/bin/python bench/recap.py
    .venv/bin/python bench/recap.py --seconds 30 --recap 30
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from studio_tools.core import InputKind, ToolInput, file_sha256, run_tool  # noqa: E402
from studio_tools.media import probe  # noqa: E402
from studio_tools.recap import analysis  # noqa: E402

SOURCES = ["testsrc2", "smptehdbars", "rgbtestsrc", "testsrc", "yuvtestsrc", "pal100bars"]


def make_episode(target: Path, width: int, height: int, seconds: int, shot: float = 4.0) -> Path:
    parts, filters = [], []
    count = max(1, int(seconds / shot))
    for i in range(count):
        source = SOURCES[i % len(SOURCES)]
        parts += ["-f", "lavfi", "-i", f"{source}=size={width}x{height}:rate=25:duration={shot}"]
        filters.append(f"[{i}:v]hue=h={i * 47 % 360},format=yuv420p[v{i}]")
    joined = "".join(f"[v{i}]" for i in range(count))
    graph = ";".join(filters) + f";{joined}concat=n={count}:v=1:a=0[v]"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-y", *parts,
         "-f", "lavfi", "-i", f"sine=frequency=220:duration={count * shot}:sample_rate=48000",
         "-filter_complex", graph, "-map", "[v]", "-map", f"{count}:a", "-ac", "2",
         "-c:v", "libx264", "-preset", "ultrafast", "-crf", "23", "-g", "50", "-c:a", "aac", str(target)],
        check=True,
    )  # fmt: skip
    return target


def srt_for(target: Path, seconds: float) -> Path:
    lines, t, n = [], 1.0, 1
    while t + 2.5 < seconds:
        a, b = t, t + 2.0
        lines.append(f"{n}\n00:00:{int(a):02d},000 --> 00:00:{int(b):02d},000\nLine {n} about Mara and the ledger.\n")
        t += 4.0
        n += 1
        if t >= 59:
            break
    target.write_text("\n".join(lines))
    return target


def decode_only_fps(path: Path, frames: int) -> float:
    started = time.perf_counter()
    subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-i", str(path), "-map", "0:v:0", "-f", "null", "-"], check=True)
    return frames / (time.perf_counter() - started)


def pyscenedetect_fps(path: Path, frames: int) -> tuple[float, int]:
    from scenedetect import ContentDetector, detect

    started = time.perf_counter()
    scenes = detect(str(path), ContentDetector())
    return frames / (time.perf_counter() - started), len(scenes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=60, help="length of each generated episode")
    parser.add_argument("--recap", type=float, default=30, help="target length of the rendered recap")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-recap-") as tmp:
        work = Path(tmp)
        os.environ[analysis.CACHE_ENV] = str(work / "cache")
        print(f"cores: {os.cpu_count()}, episode length: {args.seconds} s")
        rows = []
        for label, (width, height) in (("720p", (1280, 720)), ("1080p", (1920, 1080))):
            path = make_episode(work / f"{label}.mp4", width, height, args.seconds)
            info = probe(path)
            frames = info.video.frame_count or int(info.duration * 25)
            decode = decode_only_fps(path, frames)
            psd, scenes = pyscenedetect_fps(path, frames)
            started = time.perf_counter()
            result = analysis.analyse(path, info, file_sha256(path), cache=None)
            total = time.perf_counter() - started
            ours = result.decoded_frames / total
            rows.append((label, decode, psd, ours, len(result.shots), scenes))
            picture = result.decoded_frames / result.decode_seconds
            print(
                f"{label}: decode-only {decode:7.1f} fps | PySceneDetect ContentDetector alone {psd:7.1f} fps ({scenes} scenes)"
                f" | recap analysis {ours:7.1f} fps ({len(result.shots)} shots; picture pass alone {picture:.1f} fps)"
                f" = {ours / decode:.2f}x decode-only, {ours / psd:.2f}x PySceneDetect"
            )

        second = make_episode(work / "1080p-b.mp4", 1920, 1080, args.seconds)
        inputs = []
        for video in (work / "1080p.mp4", second):
            inputs += [
                ToolInput(video, InputKind.FOOTAGE, metadata={"sha256": file_sha256(video)}),
                ToolInput(srt_for(video.with_suffix(".srt"), args.seconds), InputKind.SUBTITLES),
            ]
        started = time.perf_counter()
        record = run_tool("recap", inputs, {"target_seconds": args.recap}, work / "run")
        elapsed = time.perf_counter() - started
        metrics = record.result.metrics
        print(
            f"render 1080p: {metrics['render_seconds']:.1f} s for a {metrics['recap_seconds']:.1f} s recap = "
            f"{metrics['render_seconds'] / metrics['recap_seconds']:.2f}x realtime (whole run {elapsed:.1f} s, "
            f"analysis cache hits {metrics['analysis_cache_hits']}/2, loudness {metrics['loudness_lufs']} LUFS)"
        )
        print(json.dumps({"rows": rows, "metrics": metrics}, default=str))


if __name__ == "__main__":
    main()
