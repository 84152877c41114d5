"""Proxies, posters, filmstrips and waveforms made from lavfi-generated sources."""

from __future__ import annotations

import dataclasses
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio_tools.media import (
    Limits,
    MediaCancelled,
    MediaIncomplete,
    MediaLimitExceeded,
    MediaRejected,
    make_filmstrip,
    make_poster,
    make_proxy,
    make_review_proxy,
    make_waveform,
    probe,
    remux_blockers,
)


def ffgen(target: Path, *args: str) -> Path:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args, str(target)],
        check=True,
        stdin=subprocess.DEVNULL,
    )
    return target


@pytest.fixture(scope="module")
def src(tmp_path_factory):
    folder = tmp_path_factory.mktemp("derivative-sources")
    recipes = {
        "wide.mov": (
            "-f lavfi -i smptebars=s=2048x1080:r=24:d=0.5 -f lavfi -i sine=r=48000:d=0.5 "
            "-c:v libx264 -preset ultrafast -c:a pcm_s16le"
        ),
        "tc.mov": (
            "-f lavfi -i testsrc2=s=320x180:r=30000/1001:d=2 -f lavfi -i sine=r=48000:d=2 "
            "-c:v libx264 -preset ultrafast -c:a aac -timecode 01:00:00;00"
        ),
        "anamorphic.mov": "-f lavfi -i testsrc2=s=720x576:r=25:d=0.4,setsar=16/15 -c:v libx264 -preset ultrafast",
        # Brightness rises with time (16 + 100 * t), so a tile's brightness says which moment it shows.
        "ramp.mp4": (
            "-f lavfi -i color=c=black:s=160x90:r=25:d=2,format=gray,geq=lum=16+100*T "
            "-c:v libx264 -preset ultrafast -pix_fmt yuv420p -g 12"
        ),
        "tone.wav": "-f lavfi -i sine=f=220:r=48000:d=1.5 -c:a pcm_s16le",
        "plate.exr": "-f lavfi -i testsrc2=s=96x64 -frames:v 1 -c:v exr -pix_fmt gbrpf32le",
        "two-mono.mov": (
            "-f lavfi -i testsrc2=s=160x90:r=25:d=0.4 -f lavfi -i sine=f=300:d=0.4 -f lavfi -i sine=f=500:d=0.4 "
            "-map 0 -map 1 -map 2 -c:v libx264 -preset ultrafast -c:a pcm_s24le"
        ),
    }
    made: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in made:
            made[name] = ffgen(folder / name, *recipes[name].split())
        return made[name]

    return get


def top_level_boxes(path: Path) -> list[bytes]:
    data, boxes, pos = path.read_bytes(), [], 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if size == 1:
            size = struct.unpack(">Q", data[pos + 8 : pos + 16])[0]
        boxes.append(kind)
        pos += size if size else len(data)
    return boxes


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


def test_proxy_of_a_2k_source(src, tmp_path):
    source = probe(src("wide.mov"))
    seen: list[float] = []
    out = make_proxy(src("wide.mov"), tmp_path / "proxy.mp4", source, progress=seen.append)
    boxes = top_level_boxes(out)
    assert boxes.index(b"moov") < boxes.index(b"mdat")  # faststart: playable while downloading
    info = probe(out)
    v = info.video
    assert (v.codec, v.pix_fmt, v.width, v.height, v.pixel_aspect) == ("h264", "yuv420p", 1920, 1012, "1:1")
    assert v.width / v.height == pytest.approx(2048 / 1080, rel=0.002)
    assert v.frame_rate == "24/1"
    assert info.audio.codec == "aac"
    assert seen and seen[-1] == 1.0 and seen == sorted(seen)
    assert leftovers(tmp_path) == []


def test_proxy_keeps_rate_timecode_and_small_sizes(src, tmp_path):
    info = probe(make_proxy(src("tc.mov"), tmp_path / "proxy.mp4", probe(src("tc.mov"))))
    assert (info.video.width, info.video.height) == (320, 180)  # never scaled up
    assert info.video.frame_rate == "30000/1001"
    assert info.video.start_timecode == "01:00:00;00"
    assert info.duration == pytest.approx(2.0, abs=0.1)


def test_proxy_squares_anamorphic_pixels(src, tmp_path):
    v = probe(make_proxy(src("anamorphic.mov"), tmp_path / "p.mp4", probe(src("anamorphic.mov")))).video
    assert (v.width, v.height, v.pixel_aspect) == (768, 576, "1:1")


def test_proxy_merges_mono_tracks_into_stereo(src, tmp_path):
    source = probe(src("two-mono.mov"))
    assert [t.channels for t in source.audio_tracks] == [1, 1]
    proxy = probe(make_proxy(src("two-mono.mov"), tmp_path / "p.mp4", source))
    assert len(proxy.audio_tracks) == 1 and proxy.audio.channels == 2


def test_audio_only_proxy(src, tmp_path):
    info = probe(make_proxy(src("tone.wav"), tmp_path / "tone.m4a", probe(src("tone.wav"))))
    assert (info.container, info.kind, info.audio.codec, info.video) == ("mov", "audio", "aac", None)
    assert info.duration == pytest.approx(1.5, abs=0.1)


def test_still_proxy_and_poster_are_jpegs(src, tmp_path):
    plate = probe(src("plate.exr"))
    for make in (make_proxy, make_poster):
        out = make(src("plate.exr"), tmp_path / f"{make.__name__}.jpg", plate)
        with Image.open(out) as image:
            assert (image.format, image.size) == ("JPEG", (96, 64))
            # The EXR is linear light; with the sRGB curve applied its mid-greys are not crushed to black.
            assert np.asarray(image.convert("L")).mean() > 40


def test_poster_size_and_moment(src, tmp_path):
    with Image.open(make_poster(src("wide.mov"), tmp_path / "poster.jpg", probe(src("wide.mov")))) as image:
        assert (image.format, image.size) == ("JPEG", (1280, 674))
    ramp = probe(src("ramp.mp4"))
    with Image.open(make_poster(src("ramp.mp4"), tmp_path / "ramp.jpg", ramp)) as image:
        assert image.size == (160, 90)
        # 10 % into 2 s is 0.2 s, where the ramp is at 16 + 100 * 0.2; one frame off would be 4 levels off.
        assert np.asarray(image.convert("L")).mean() == pytest.approx(36, abs=3)


def test_filmstrip_tiles_are_evenly_spaced_frames(src, tmp_path):
    ramp = probe(src("ramp.mp4"))
    strip = make_filmstrip(src("ramp.mp4"), tmp_path / "strip.jpg", ramp, count=10, height=90)
    assert strip.times == pytest.approx([0.1 + 0.2 * i for i in range(10)])
    assert (strip.tile_width, strip.tile_height) == (160, 90)
    with Image.open(strip.path) as image:
        assert (image.format, image.size) == ("JPEG", (1600, 90))
        pixels = np.asarray(image.convert("L"), dtype=float)
    means = [pixels[:, i * 160 + 20 : (i + 1) * 160 - 20].mean() for i in range(10)]
    # Tiles are 20 levels apart and one frame is 4, so this pins every tile to (about) its own frame.
    assert means == pytest.approx([16 + 100 * t for t in strip.times], abs=3)


def test_filmstrip_png_with_anamorphic_source(src, tmp_path):
    strip = make_filmstrip(src("anamorphic.mov"), tmp_path / "strip.png", probe(src("anamorphic.mov")), count=4, height=45)
    assert (strip.tile_width, strip.tile_height) == (58, 44)  # 44 * (720 * 16/15) / 576 = 58.67 → nearest even
    with Image.open(strip.path) as image:
        assert (image.format, image.size) == ("PNG", (232, 44))


def test_waveform(src, tmp_path):
    seen: list[float] = []
    out = make_waveform(
        src("tone.wav"), tmp_path / "wave.png", probe(src("tone.wav")), width=400, height=80, progress=seen.append
    )
    with Image.open(out) as image:
        assert (image.format, image.size, image.mode) == ("PNG", (400, 80), "RGBA")
        alpha = np.asarray(image)[:, :, 3]
    assert (alpha > 0).any(axis=0).mean() > 0.9  # the tone spans the whole width
    assert seen[-1] == 1.0


def test_derivatives_refuse_media_they_do_not_apply_to(src, tmp_path):
    with pytest.raises(ValueError, match="audio"):
        make_waveform(src("anamorphic.mov"), tmp_path / "w.png", probe(src("anamorphic.mov")))
    with pytest.raises(ValueError, match="moving video"):
        make_filmstrip(src("tone.wav"), tmp_path / "s.jpg", probe(src("tone.wav")))
    with pytest.raises(ValueError, match="moving video"):
        make_filmstrip(src("plate.exr"), tmp_path / "s.jpg", probe(src("plate.exr")))
    assert list(tmp_path.iterdir()) == []


def test_cancel_leaves_the_previous_output_untouched(src, tmp_path):
    dst = tmp_path / "proxy.mp4"
    dst.write_bytes(b"last week's proxy")
    with pytest.raises(MediaCancelled):
        make_proxy(src("wide.mov"), dst, probe(src("wide.mov")), cancelled=lambda: True)
    assert [p.name for p in tmp_path.iterdir()] == ["proxy.mp4"]
    assert dst.read_bytes() == b"last week's proxy"


def test_poster_falls_back_to_the_first_frame_when_the_duration_overstates(src, tmp_path):
    ramp = probe(src("ramp.mp4"))
    overstated = dataclasses.replace(ramp, duration=1000.0)  # 10 % in is far past the last frame
    with Image.open(make_poster(src("ramp.mp4"), tmp_path / "p.jpg", overstated)) as image:
        assert np.asarray(image.convert("L")).mean() == pytest.approx(16, abs=3)
    assert leftovers(tmp_path) == []


def test_time_cap_stops_a_transcode_and_leaves_nothing_behind(src, tmp_path):
    # The 2K encode takes the better part of a second; a 50 ms budget cannot cover it.
    with pytest.raises(MediaLimitExceeded) as caught:
        make_proxy(src("wide.mov"), tmp_path / "proxy.mp4", probe(src("wide.mov")), limits=Limits(wall_seconds=0.05))
    assert caught.value.limit == "wall"
    assert list(tmp_path.iterdir()) == []


# --- the proxy at the true rate, in display orientation; remux or encode ------------------------


def _stream(path: Path) -> dict:
    import json

    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_packets", "-show_streams", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out)["streams"][0]


def _frame_times(path: Path) -> list[float]:
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "frame=best_effort_timestamp_time",
            "-of",
            "csv=p=0",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [float(line.strip().rstrip(",")) for line in out.split() if line.strip().rstrip(",")]


def test_proxy_of_a_rotated_clip_is_upright_portrait(src, tmp_path):
    upright = ffgen(tmp_path / "landscape.mp4", *"-f lavfi -i testsrc2=s=320x180:r=25:d=1 -c:v libx264 -preset ultrafast".split())
    # A phone clip: stored landscape, shown portrait (display matrix of 90 degrees).
    rotated = ffgen(tmp_path / "phone.mp4", "-i", str(upright), "-c", "copy", "-metadata:s:v:0", "rotate=90")
    info = probe(rotated)
    proxy = make_review_proxy(rotated, tmp_path / "proxy.mp4", info)
    assert proxy.method == "encode", "a rotated source is never remuxed"
    stream = _stream(proxy.path)
    assert (int(stream["width"]), int(stream["height"])) == (180, 320)
    assert not any(d.get("rotation") for d in stream.get("side_data_list") or []), "upright pixels, no matrix left"
    assert (proxy.width, proxy.height, proxy.frame_count) == (180, 320, 25)


def test_proxy_of_a_16_11_anamorphic_clip_is_stretched_to_square_pixels(tmp_path):
    pal = ffgen(
        tmp_path / "pal.mov", *"-f lavfi -i testsrc2=s=704x576:r=25:d=1,setsar=16/11 -c:v libx264 -preset ultrafast".split()
    )
    info = probe(pal)
    assert info.video.pixel_aspect == "16:11"
    proxy = make_review_proxy(pal, tmp_path / "proxy.mp4", info)
    assert proxy.method == "encode"
    stream = _stream(proxy.path)
    # 704 x 16/11 = 1024: people as wide as they were, not 31% too thin.
    assert (int(stream["width"]), int(stream["height"])) == (1024, 576)
    assert stream.get("sample_aspect_ratio", "1:1") in ("1:1", "0:1")


def test_proxy_of_a_vfr_clip_is_constant_rate_at_the_probed_rate(tmp_path):
    # 25 fps with every fifth frame dropped, timestamps kept: a variable frame rate (frames of 40 and 80 ms).
    vfr = ffgen(
        tmp_path / "vfr.mp4",
        *"-f lavfi -i testsrc2=s=320x240:r=25:d=4 -vf select=not(eq(mod(n\\,5)\\,3)) -fps_mode vfr".split(),
        *"-c:v libx264 -preset ultrafast -pix_fmt yuv420p".split(),
    )
    info = probe(vfr)
    assert info.video.variable_frame_rate and info.video.frame_rate == "25/1"
    assert info.video.frame_count == 80
    proxy = make_review_proxy(vfr, tmp_path / "proxy.mp4", info)
    assert proxy.method == "encode" and any("variable" in r for r in proxy.encode_reasons)
    times = _frame_times(proxy.path)
    steps = {round(b - a, 4) for a, b in zip(times, times[1:], strict=False)}
    assert steps == {0.04}, f"the proxy must be constant-rate at 25 fps: {sorted(steps)}"
    assert len(times) == proxy.frame_count == 100  # 4 s at 25 fps: the dropped frames are held
    assert proxy.frame_rate == "25/1"


def test_a_browser_playable_source_is_remuxed_otherwise_encoded(src, tmp_path):
    source = src("tc.mov")  # H.264 + AAC, 8-bit 4:2:0, square, CFR, 320x180 in MOV
    info = probe(source)
    assert remux_blockers(info) == []
    remuxed = make_review_proxy(source, tmp_path / "remux.mp4", info)
    encoded = make_review_proxy(source, tmp_path / "encode.mp4", info, remux=False)
    labelled = make_review_proxy(source, tmp_path / "label.mp4", info, burn_in="AI-GENERATED - NOT APPROVED")
    assert (remuxed.method, encoded.method, labelled.method) == ("remux", "encode", "encode")
    assert any("label" in r for r in labelled.encode_reasons)
    for proxy in (remuxed, encoded):
        boxes = top_level_boxes(proxy.path)
        assert boxes.index(b"moov") < boxes.index(b"mdat")
        again = probe(proxy.path)
        assert (again.video.codec, again.video.frame_rate, again.video.frame_count) == ("h264", "30000/1001", 60)
        assert again.video.start_timecode == "01:00:00;00"
        assert again.audio.codec == "aac"
        assert proxy.frame_count == 60 and (proxy.width, proxy.height) == (320, 180)
    # the remux copied the source's H.264 packets as they are; the encode made new ones
    assert _packets_md5(remuxed.path) == _packets_md5(source) != _packets_md5(encoded.path)


def test_why_a_source_is_encoded(src):
    reasons = remux_blockers(probe(src("wide.mov")))  # 2048 wide, PCM audio
    assert any("2048x1080" in r for r in reasons) and any("pcm_s16le" in r for r in reasons)
    assert any("16:15" in r for r in remux_blockers(probe(src("anamorphic.mov"))))
    assert any("two mono" in r or "pcm" in r for r in remux_blockers(probe(src("two-mono.mov"))))


def _packets_md5(path: Path) -> str:
    return subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-i", str(path), "-map", "0:v:0", "-c", "copy", "-f", "md5", "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def test_a_proxy_short_of_the_promised_frames_is_a_rejection_and_leaves_nothing(tmp_path):
    full = ffgen(
        tmp_path / "full.mp4",
        *"-f lavfi -i testsrc2=s=320x240:r=25:d=6 -c:v libx264 -preset ultrafast -pix_fmt yuv420p -movflags +faststart".split(),
    )
    data = full.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.4)])
    # The probe now sees that this file's pictures stop early; a description that still promises all
    # 150 frames (the index at the front lists them) stands for a case it cannot see.
    with pytest.raises(MediaRejected, match="cut short"):
        probe(cut)
    info = dataclasses.replace(probe(full), size=cut.stat().st_size)
    assert info.video.frame_count == 150
    out = tmp_path / "out"
    out.mkdir()
    for remux in (True, False):
        with pytest.raises(MediaIncomplete, match="ends early") as caught:
            make_review_proxy(cut, out / "proxy.mp4", info, remux=remux)
        assert "150 frames" in caught.value.reason
        assert list(out.iterdir()) == []
    with pytest.raises(MediaIncomplete, match="filmstrip"):
        make_filmstrip(cut, out / "strip.jpg", info)
    assert list(out.iterdir()) == []


@pytest.mark.real_media
@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("A16", "encode"),  # AVI
        ("A09", "encode"),  # full-range yuvj420p
        ("A04", "encode"),  # variable frame rate
        ("A14", "encode"),  # HEVC, 8:9 pixels
        ("A11", "remux"),  # H.264 in MP4, square, constant rate, no audio
    ],
)
def test_proxies_of_real_footage_have_the_true_rate_count_and_display_size(name, method, tmp_path):
    from tests.real_media import entry

    footage = entry(name)
    info = probe(footage["path"])
    counted = footage["frame_rate_counted"]
    assert info.video.frame_count == counted["decoded_frames"]
    proxy = make_review_proxy(footage["path"], tmp_path / "proxy.mp4", info)
    assert proxy.method == method, proxy.encode_reasons
    assert proxy.frame_count == info.video.timeline_frame_count
    assert (proxy.width, proxy.height) == (info.video.display_width, info.video.display_height)
    stream = _stream(proxy.path)
    assert int(stream["nb_read_packets"]) == proxy.frame_count
    assert stream["avg_frame_rate"] == info.video.frame_rate or method == "remux"
    if info.video.variable_frame_rate:
        times = _frame_times(proxy.path)
        assert {round(b - a, 4) for a, b in zip(times, times[1:], strict=False)} == {round(1 / info.video.fps, 4)}


def test_filmstrip_tiles_of_a_rotated_clip_are_portrait(tmp_path):
    upright = ffgen(tmp_path / "landscape.mp4", *"-f lavfi -i testsrc2=s=320x180:r=25:d=2 -c:v libx264 -preset ultrafast".split())
    rotated = ffgen(tmp_path / "phone.mp4", "-i", str(upright), "-c", "copy", "-metadata:s:v:0", "rotate=90")
    info = probe(rotated)
    strip = make_filmstrip(rotated, tmp_path / "strip.png", info, count=4, height=64)
    assert (strip.tile_width, strip.tile_height) == (36, 64)  # 180x320 shown: not squeezed into 114x64
    with Image.open(strip.path) as image:
        assert image.size == (4 * 36, 64)
