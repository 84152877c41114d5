"""Benchmark: ingest of a long 1080p H.264 file, proxy speed against realtime.

Generates the source with ffmpeg lavfi (testsrc2 1920x1080, 25 fps, H.264, stereo AAC; MINUTES long,
default 10), then times the same steps ingest runs: probe, proxy, poster, filmstrip, waveform.
Prints each step's seconds and the proxy's speed as a multiple of realtime (target >= 4x on 2 cores).

    .venv/bin/python bench/ingest_proxy.py
    .venv/bin/python bench/ingest_proxy.py --minutes 2
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from studio_tools.media import derivatives, make_filmstrip, make_poster, make_proxy, make_waveform, probe  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument(
        "--presets",
        default="",
        help="also time the proxy with these x264 presets (comma-separated), same source, same run",
    )
    args = parser.parse_args()
    seconds = int(args.minutes * 60)
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        work = Path(tmp)
        source = work / "episode.mp4"
        started = time.perf_counter()
        subprocess.run(
            [
                "ffmpeg", "-v", "error", "-nostdin", "-y",
                "-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate=25:duration={seconds}",
                "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}:sample_rate=48000",
                "-ac", "2", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "23", "-c:a", "aac", "-shortest", str(source),
            ],
            check=True,
        )  # fmt: skip
        print(
            f"source: {seconds} s of 1920x1080 25 fps H.264 + AAC, {source.stat().st_size / 1e6:.0f} MB "
            f"(generated in {time.perf_counter() - started:.0f} s); {os.cpu_count()} cores"
        )
        timings = {}
        t = time.perf_counter()
        info = probe(source)
        timings["probe"] = time.perf_counter() - t
        t = time.perf_counter()
        make_proxy(source, work / "proxy.mp4", info)
        timings["proxy"] = time.perf_counter() - t
        t = time.perf_counter()
        make_poster(source, work / "poster.jpg", info)
        timings["poster"] = time.perf_counter() - t
        t = time.perf_counter()
        make_filmstrip(source, work / "filmstrip.jpg", info)
        timings["filmstrip"] = time.perf_counter() - t
        t = time.perf_counter()
        make_waveform(source, work / "waveform.png", info)
        timings["waveform"] = time.perf_counter() - t
        for step, spent in timings.items():
            print(f"{step:>10}: {spent:7.1f} s")
        total = sum(timings.values())
        proxy_mb = (work / "proxy.mp4").stat().st_size / 1e6
        print(
            f"proxy speed ({derivatives.PROXY_PRESET}): {info.duration / timings['proxy']:.1f}x realtime (target >= 4x), "
            f"{proxy_mb:.0f} MB, {proxy_mb * 8 / info.duration:.1f} Mbit/s"
        )
        print(f"whole ingest (all derivatives): {info.duration / total:.1f}x realtime")
        for preset in [p for p in args.presets.split(",") if p]:
            derivatives.PROXY_PRESET = preset
            t = time.perf_counter()
            make_proxy(source, work / f"proxy-{preset}.mp4", info)
            spent = time.perf_counter() - t
            size = (work / f"proxy-{preset}.mp4").stat().st_size / 1e6
            print(f"proxy with preset {preset}: {info.duration / spent:.1f}x realtime ({spent:.1f} s), {size:.0f} MB, "
                  f"{size * 8 / info.duration:.1f} Mbit/s")  # fmt: skip


if __name__ == "__main__":
    main()
