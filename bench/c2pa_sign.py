"""Benchmark: signing an approved ProRes comp with content credentials (C2PA), against copying it.

Generates a 1920x1080 25 fps ProRes 422 HQ .mov (SECONDS long, default 10) with ffmpeg lavfi, a
throwaway CA and ES256 platform certificate, then times, alternately, a plain file copy of the comp
(the baseline: signing writes a full copy) and `portal.review.credentials.sign` (manifest, embedded
signature, read back and validated). Prints the file size and the best of REPEAT for each, with
their ratio and the signing throughput. Also signs an EDL as a sidecar.

    .venv/bin/python bench/c2pa_sign.py
    .venv/bin/python bench/c2pa_sign.py --seconds 30 --repeat 3
"""

from __future__ import annotations

import argparse
import datetime
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from portal.review import credentials
    from tests.review.c2pa_support import make_platform_certificate  # the tests' throwaway CA

    with tempfile.TemporaryDirectory(prefix="bench-c2pa-") as folder:
        work = Path(folder)
        comp = work / "comp.mov"
        subprocess.run(
            ["ffmpeg", "-v", "error", "-nostdin", "-y", "-f", "lavfi", "-i",
             f"testsrc2=size=1920x1080:rate=25:duration={args.seconds}",
             "-c:v", "prores_ks", "-profile:v", "3", "-pix_fmt", "yuv422p10le", str(comp)],
            check=True,
        )  # fmt: skip
        paths = make_platform_certificate(work)
        config = credentials.SignerConfig.from_paths(str(paths["cert"]), str(paths["key"]), trust_anchors=str(paths["ca"]))
        provenance = {
            "tool": "crowd",
            "tool_version": "1.3.0",
            "inputs": [{"name": "plate.mov", "sha256": "0" * 64, "version": 1, "kind": "plate", "slot": "plate"}],
        }

        def manifest(name, media_type):
            return credentials.build_manifest(
                title=name,
                media_type=media_type,
                provenance=provenance,
                approver={"name": "Bench", "email": "bench@example.com"},
                approved_at=datetime.datetime.now(datetime.UTC),
                decision_id=1,
                reviewed_sha256="0" * 64,
                portal_version="bench",
            )

        copies, signs = [], []
        for attempt in range(args.repeat):
            start = time.perf_counter()
            shutil.copyfile(comp, work / f"copy{attempt}.mov")
            copies.append(time.perf_counter() - start)
            (work / f"copy{attempt}.mov").unlink()
            start = time.perf_counter()
            result = credentials.sign(comp, work / f"signed{attempt}", manifest("comp.mov", "video/quicktime"), config)
            signs.append(time.perf_counter() - start)
            assert result.mode == "embedded" and result.report["state"] == "Trusted"
            shutil.rmtree(work / f"signed{attempt}")
        size = comp.stat().st_size / 2**20
        print(f"ProRes 422 HQ 1080p25, {args.seconds:g} s: {size:.1f} MiB")
        print(f"copy (baseline): best {min(copies):.2f} s ({size / min(copies):.0f} MiB/s)")
        print(
            f"sign + read back: best {min(signs):.2f} s ({size / min(signs):.0f} MiB/s), {min(signs) / min(copies):.1f}x the copy"
        )

        edl = work / "recap.edl"
        edl.write_text("TITLE: bench\n\n001  AX V C 00:00:00:00 00:00:01:00 01:00:00:00 01:00:01:00\n")
        start = time.perf_counter()
        result = credentials.sign(edl, work / "edl", manifest("recap.edl", "text/plain"), config)
        print(f"EDL sidecar: {time.perf_counter() - start:.3f} s, manifest {result.sidecar_path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
