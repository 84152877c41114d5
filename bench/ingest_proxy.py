"""Benchmark: ingest of a long 1080p H.264 file, proxy speed against realtime.

Generates the source with ffmpeg lavfi (testsrc2 1920x1080, 25 fps, H.264 yuv420p, stereo AAC, faststart
MP4; MINUTES long, default 10), then times the same steps ingest runs: probe, proxy, poster, filmstrip,
waveform. The source is browser-playable, so ingest makes its proxy by a remux; the same proxy is also
made by encoding (what any other source gets), in the same run, alternately, and the two are given side
by side with their ratio. Prints each step's seconds and the proxy's speed as a multiple of realtime
(target >= 4x on 2 cores).

    .venv/bin/python bench/ingest_proxy.py
    .venv/bin/python bench/ingest_proxy.py --minutes 1 --repeat 3
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

from studio_tools.media import (  # noqa: E402
    derivatives,
    make_filmstrip,
    make_poster,
    make_proxy,
    make_review_proxy,
    make_waveform,
    probe,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--repeat", type=int, default=1, help="times each proxy path (remux, encode) is made, alternately")
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
                "-ac", "2", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "23", "-pix_fmt", "yuv420p",
                "-c:a", "aac", "-shortest", "-movflags", "+faststart", str(source),
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
        # The proxy both ways, alternately (the machine is shared: alternating spreads its noise).
        spent: dict[str, list[float]] = {"remux": [], "encode": []}
        made = {}
        for _ in range(max(1, args.repeat)):
            for method in ("remux", "encode"):
                t = time.perf_counter()
                made[method] = make_review_proxy(source, work / f"proxy-{method}.mp4", info, remux=method == "remux")
                spent[method].append(time.perf_counter() - t)
                assert made[method].method == method, made[method]
        timings["proxy"] = min(spent["remux"])  # what ingest does with this source
        t = time.perf_counter()
        make_poster(source, work / "poster.jpg", info)
        timings["poster"] = time.perf_counter() - t
        t = time.perf_counter()
        make_filmstrip(source, work / "filmstrip.jpg", info)
        timings["filmstrip"] = time.perf_counter() - t
        t = time.perf_counter()
        make_waveform(source, work / "waveform.png", info)
        timings["waveform"] = time.perf_counter() - t
        for step, seconds_ in timings.items():
            print(f"{step:>10}: {seconds_:7.1f} s")
        total = sum(timings.values())
        duration = info.duration
        for method in ("remux", "encode"):
            best = min(spent[method])
            size = made[method].path.stat().st_size / 1e6
            runs = ", ".join(f"{x:.2f}" for x in spent[method])
            print(
                f"proxy by {method:<6}: {duration / best:7.1f}x realtime (best {best:.2f} s of {runs}), "
                f"{size:.0f} MB, {size * 8 / duration:.1f} Mbit/s, {made[method].frame_count} frames "
                f"{made[method].width}x{made[method].height} at {made[method].frame_rate}"
                + ("" if method == "remux" else f" ({derivatives.PROXY_PRESET})")
            )
        ratio = min(spent["encode"]) / min(spent["remux"])
        print(f"remux / encode: the remux is {ratio:.0f}x faster than the encode of the same source")
        print(
            f"whole ingest (all derivatives, proxy by remux): {duration / total:.1f}x realtime; "
            f"with the proxy encoded: {duration / (total - timings['proxy'] + min(spent['encode'])):.1f}x"
        )
        for preset in [p for p in args.presets.split(",") if p]:
            derivatives.PROXY_PRESET = preset
            t = time.perf_counter()
            make_proxy(source, work / f"proxy-{preset}.mp4", info, remux=False)
            took = time.perf_counter() - t
            size = (work / f"proxy-{preset}.mp4").stat().st_size / 1e6
            print(f"proxy encoded with preset {preset}: {info.duration / took:.1f}x realtime ({took:.1f} s), {size:.0f} MB, "
                  f"{size * 8 / info.duration:.1f} Mbit/s")  # fmt: skip


if __name__ == "__main__":
    main()
