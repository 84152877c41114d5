"""The review proxy of every file of the conformance matrix: the true frame count at the true rate,
the display size (upright, square pixels), and frame N of the proxy shows frame N of the source
(read back from the bar pattern each frame carries). A variable-rate source gets a constant-rate
proxy whose missing frames hold the one before. Remux where the source allows it, encode elsewhere."""

from __future__ import annotations

import json
import subprocess
from fractions import Fraction

import numpy as np
import pytest

from studio_tools.media import make_review_proxy, probe
from tests.studio_tools import media_matrix

# Sources a browser plays as they are (H.264 8-bit 4:2:0, square, upright, CFR, MP4/MOV, AAC or no audio).
REMUXED = {"r23976.mp4", "r24.mov", "r2997df.mov", "r50.mp4", "r5994.mp4", "interlaced_tff.mp4", "audio_mono.mp4"}


def _decoded_numbers(path, width: int, height: int, rotation: int) -> list[int]:
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-i", str(path), "-map", "0:v:0", "-f", "rawvideo", "-pix_fmt", "gray", "-"],
        capture_output=True,
        check=True,
    ).stdout
    frames = np.frombuffer(raw, np.uint8).reshape(-1, height, width)
    # Turn the upright picture back the way it was encoded, to read its bars.
    return [media_matrix.read_bars(np.rot90(frame, k=rotation // 90)) for frame in frames]


@pytest.mark.parametrize("name", [spec.name for spec in media_matrix.SPECS])
def test_proxy_holds_every_frame_once_at_the_true_rate_upright_and_square(matrix, name, tmp_path):
    spec, path = matrix[name]
    info = probe(path)
    proxy = make_review_proxy(path, tmp_path / "proxy.mp4", info)
    assert proxy.method == ("remux" if name in REMUXED else "encode"), proxy.encode_reasons
    assert (proxy.width, proxy.height) == spec.display_size
    stream = json.loads(
        subprocess.run(
            ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_streams", "-of", "json", str(proxy.path)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )["streams"][0]
    assert stream.get("sample_aspect_ratio", "1:1") in ("1:1", "0:1")
    assert not any(d.get("rotation") for d in stream.get("side_data_list") or [])
    assert Fraction(stream["avg_frame_rate"]) == Fraction(spec.rate)
    numbers = _decoded_numbers(proxy.path, proxy.width, proxy.height, spec.rotation)
    # Constant rate: one proxy frame per source frame time; a dropped frame's slot holds the one before.
    expected, last = [], 0
    for n in range(spec.frames):
        last = last if n in spec.drop else n
        expected.append(last)
    assert numbers == expected
    assert proxy.frame_count == len(expected) == info.video.timeline_frame_count
