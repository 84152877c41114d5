"""probe(): what it reports for real media, and what it refuses.

Hostile inputs that point elsewhere (HLS, ffconcat, an AVI with a GAB2 playlist) are checked against
canaries: a named pipe that records whether anyone opened it for reading, and a TCP listener on
loopback that records connections. Control tests run a plain ffprobe on the same kind of file to show
each canary does fire when ffmpeg follows the reference, so a quiet canary means something.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import struct
import subprocess
import threading
import zlib
from pathlib import Path

import pytest

from studio_tools.media import MediaRejected, MediaToolError, probe, sandbox
from studio_tools.media.formats import ALLOWED_DEMUXERS


def ffgen(target: Path, *args: str) -> Path:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args, str(target)],
        check=True,
        stdin=subprocess.DEVNULL,
    )
    return target


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    """Lazily rendered samples, shared by the module: media("name") -> path."""
    folder = tmp_path_factory.mktemp("probe-media")
    recipes = {
        "tc25.mov": (
            "-f lavfi -i testsrc2=s=320x180:r=25:d=2 -f lavfi -i sine=r=48000:d=2 "
            "-c:v libx264 -preset ultrafast -c:a aac -ac 2 -timecode 01:00:00:00"
        ),
        "ntsc.mp4": "-f lavfi -i testsrc2=s=320x180:r=30000/1001:d=1 -c:v libx264 -preset ultrafast -timecode 01:00:00;00",
        "tone.wav": "-f lavfi -i sine=r=48000:d=1 -c:a pcm_s24le",
        "still.png": "-f lavfi -i testsrc2=s=64x48 -frames:v 1",
        "prores.mov": "-f lavfi -i testsrc2=s=64x48:r=24:d=0.5,setsar=2 -c:v prores_ks -pix_fmt yuv422p10le",
        "hdr.mp4": (
            "-f lavfi -i testsrc2=s=64x48:r=24:d=0.5 -c:v libx264 -preset ultrafast -pix_fmt yuv420p10le "
            "-color_primaries bt2020 -color_trc smpte2084 -colorspace bt2020nc"
        ),
        "clip.mxf": (
            "-f lavfi -i testsrc2=s=320x180:r=25:d=1 -f lavfi -i sine=r=48000:d=1 "
            "-c:v mpeg2video -c:a pcm_s16le -timecode 10:00:00:00"
        ),
        "clip.mkv": "-f lavfi -i testsrc2=s=160x90:r=25:d=1 -c:v libx264 -preset ultrafast",
        "clip.avi": "-f lavfi -i testsrc2=s=160x90:r=25:d=1 -c:v mpeg4",
        "tone.aiff": "-f lavfi -i sine=d=1",
        "tone.mp3": "-f lavfi -i sine=d=1",
        "still.jpg": "-f lavfi -i testsrc2=s=64x48 -frames:v 1",
        "still.tif": "-f lavfi -i testsrc2=s=64x48 -frames:v 1",
        "still.exr": "-f lavfi -i testsrc2=s=64x48 -frames:v 1 -c:v exr -pix_fmt gbrpf32le",
        "still.dpx": "-f lavfi -i testsrc2=s=64x48 -frames:v 1",
        "moov-at-end.mp4": "-f lavfi -i testsrc2=s=320x180:r=25:d=2 -c:v libx264 -preset ultrafast",
        "bulky.mp4": "-f lavfi -i testsrc2=s=640x360:r=25:d=1 -c:v libx264 -preset ultrafast -qp 0",
        "big.tif": "-f lavfi -i testsrc2=s=512x512 -frames:v 1 -compression_algo raw",
    }
    made: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in made:
            made[name] = ffgen(folder / name, *recipes[name].split())
        return made[name]

    return get


# --- what probe reports -----------------------------------------------------------------------------


def test_mov_with_timecode(media):
    info = probe(media("tc25.mov"))
    assert (info.container, info.kind, info.format_name) == ("mov", "video", "mov,mp4,m4a,3gp,3g2,mj2")
    assert info.duration == pytest.approx(2.0, abs=0.05)
    assert info.size == media("tc25.mov").stat().st_size
    v = info.video
    assert (v.codec, v.width, v.height, v.pixel_aspect, v.frame_rate, v.fps) == ("h264", 320, 180, "1:1", "25/1", 25.0)
    assert v.frame_count == 50
    assert v.start_timecode == "01:00:00:00"
    assert v.bit_depth == 8
    a = info.audio
    assert (a.codec, a.channels, a.sample_rate) == ("aac", 2, 48000)


def test_mp4_at_2997_with_drop_frame_timecode(media):
    info = probe(media("ntsc.mp4"))
    assert info.video.frame_rate == "30000/1001"
    assert info.video.fps == pytest.approx(29.97, abs=0.001)
    assert info.video.frame_count == 30
    assert info.video.start_timecode == "01:00:00;00"
    assert info.audio is None and info.audio_tracks == ()


def test_wav_is_audio(media):
    info = probe(media("tone.wav"))
    assert (info.container, info.kind, info.video) == ("wav", "audio", None)
    assert info.duration == pytest.approx(1.0, abs=0.01)
    assert (info.audio.codec, info.audio.channels, info.audio.sample_rate, info.audio.bit_depth) == ("pcm_s24le", 1, 48000, 24)


def test_png_is_a_still(media):
    info = probe(media("still.png"))
    assert (info.container, info.kind, info.demuxer, info.duration) == ("png", "still", "png_pipe", None)
    assert (info.video.width, info.video.height, info.video.frame_rate, info.video.frame_count) == (64, 48, None, 1)


def test_bit_depth_and_pixel_aspect(media):
    v = probe(media("prores.mov")).video
    assert v.codec == "prores" and v.bit_depth == 10 and v.pix_fmt == "yuv422p10le"
    assert v.pixel_aspect == "2:1" and v.display_aspect_ratio == pytest.approx(64 * 2 / 48)


def test_colour_description(media):
    v = probe(media("hdr.mp4")).video
    assert (v.colour_primaries, v.colour_transfer, v.colour_space, v.bit_depth) == ("bt2020", "smpte2084", "bt2020nc", 10)


@pytest.mark.parametrize(
    ("name", "container", "kind"),
    [
        ("clip.mxf", "mxf", "video"),
        ("clip.mkv", "matroska", "video"),
        ("clip.avi", "avi", "video"),
        ("tone.aiff", "aiff", "audio"),
        ("tone.mp3", "mp3", "audio"),
        ("still.jpg", "jpeg", "still"),
        ("still.tif", "tiff", "still"),
        ("still.exr", "exr", "still"),
        ("still.dpx", "dpx", "still"),
    ],
)
def test_every_allowed_format_is_recognised(media, name, container, kind):
    info = probe(media(name))
    assert (info.container, info.kind) == (container, kind)
    assert info.demuxer in ALLOWED_DEMUXERS


def test_mxf_timecode_and_exr_float_depth(media):
    assert probe(media("clip.mxf")).video.start_timecode == "10:00:00:00"
    assert probe(media("still.exr")).video.bit_depth == 32


def test_to_dict_is_json_ready(media):
    data = json.loads(json.dumps(probe(media("tc25.mov")).to_dict()))
    assert data["video"]["frame_rate"] == "25/1"
    assert data["audio"] == data["audio_tracks"][0]
    assert data["audio"]["sample_rate"] == 48000


def test_same_family_extension_and_missing_extension_are_fine(media, tmp_path):
    assert probe(media("tc25.mov"), filename="Reel 1.MP4").container == "mov"
    bare = tmp_path / "A001C003"
    bare.write_bytes(media("still.png").read_bytes())
    assert probe(bare).container == "png"


# --- plain rejections -------------------------------------------------------------------------------


def reject(path: Path, filename: str | None = None) -> str:
    with pytest.raises(MediaRejected) as caught:
        probe(path, filename=filename)
    return caught.value.reason


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_zero_bytes(tmp_path):
    assert "empty" in reject(write(tmp_path / "clip.mov", b""))


def test_text_named_mov(tmp_path):
    assert "text, not media" in reject(write(tmp_path / "clip.mov", b"The free trial of our editing suite...\n" * 20))


def test_unknown_binary(tmp_path):
    assert "format is not accepted" in reject(write(tmp_path / "clip.mov", os.urandom(4096)))


def test_truncated_mp4_without_moov(media, tmp_path):
    whole = media("moov-at-end.mp4").read_bytes()
    assert whole.rfind(b"moov") > whole.find(b"mdat")  # the index is at the end, so cutting loses it
    reason = reject(write(tmp_path / "cut.mp4", whole[: len(whole) // 2]))
    assert "incomplete" in reason and "moov" in reason


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("clip.mp4", b"#EXTM3U\n#EXTINF:10,\nfile:///etc/passwd\n", "HLS playlist"),
        ("clip.mov", b"\xef\xbb\xbf  #EXTM3U\n", "HLS playlist"),
        ("clip.mov", b"ffconcat version 1.0\nfile /etc/passwd\n", "concat list"),
        ("clip.mov", b"# no header, still a concat list\nfile '/etc/passwd'\n", "concat list"),
        ("clip.mov", b"1\n00:00:01,000 --> 00:00:02,000\nHello\n", "subtitle document"),
        ("still.jpg", b"<!DOCTYPE html><html><body>hi</body></html>", "web page"),
        ("still.png", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "XML or SVG"),
        ("clip.aac", b"\xff\xf1\x50\x80\x02\x1f\xfc" + bytes(200), "format is not accepted"),
        ("photo.mov", struct.pack(">I", 24) + b"ftypheic" + bytes(12), "HEIF/AVIF"),
    ],
)
def test_non_media_is_named_for_what_it_is(tmp_path, name, data, expected):
    assert expected in reject(write(tmp_path / name, data))


def test_extension_must_match_the_contents(media, tmp_path):
    png = media("still.png")
    assert "named “.mov” but its contents are a PNG image" in reject(png, filename="shot.mov")
    assert "“.html” are not accepted" in reject(png, filename="page.html")
    assert "“.m3u8” are not accepted" in reject(png, filename="x.m3u8")


# --- polyglots --------------------------------------------------------------------------------------


def test_png_with_html_appended(media, tmp_path):
    data = media("still.png").read_bytes() + b"<html><script>fetch('/api/keys')</script></html>"
    assert "web-page code" in reject(write(tmp_path / "still.png", data))


def test_html_with_a_png_header(tmp_path):
    data = b"\x89PNG\r\n\x1a\n<html><body onload=alert(1)>hello</body></html>"
    assert "web-page code" in reject(write(tmp_path / "still.png", data))


def test_png_with_other_data_after_iend(media, tmp_path):
    data = media("still.png").read_bytes() + b"PK\x03\x04 a zip file rides along"
    assert "appended after its end" in reject(write(tmp_path / "still.png", data))


def test_png_with_nul_padding_is_accepted(media, tmp_path):
    assert probe(write(tmp_path / "still.png", media("still.png").read_bytes() + bytes(64))).kind == "still"


def test_script_deep_inside_a_still_is_found_but_not_inside_a_video(media, tmp_path):
    tif = bytearray(media("big.tif").read_bytes())
    assert len(tif) > 4 * 64 * 1024  # so the marker sits far outside the head and tail windows
    marker = b"<script>alert(1)</script>"
    middle = len(tif) // 2
    tif[middle : middle + len(marker)] = marker
    assert "web-page code" in reject(write(tmp_path / "plate.tif", bytes(tif)))
    # The same bytes in the middle of a movie's sample data are not scanned for (documented trade-off).
    mov = bytearray(media("bulky.mp4").read_bytes())
    assert len(mov) > 4 * 64 * 1024
    mov[len(mov) // 3 : len(mov) // 3 + len(marker)] = marker
    assert probe(write(tmp_path / "clip.mp4", bytes(mov))).kind == "video"


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_image(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(bytes((1 + 3 * width) * height))
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def test_pictures_beyond_the_size_cap(tmp_path):
    assert probe(write(tmp_path / "wide.png", png_image(16384, 8))).video.width == 16384
    assert "16400×8 pixels" in reject(write(tmp_path / "wider.png", png_image(16400, 8)))
    # Far past what ffmpeg itself will size: refused before any decoding happens.
    huge = png_image(1, 1).replace(struct.pack(">II", 1, 1), struct.pack(">II", 40000, 40000))
    huge = huge.replace(huge[29:33], struct.pack(">I", zlib.crc32(huge[12:29])))  # IHDR's CRC, recomputed
    assert "no usable size" in reject(write(tmp_path / "huge.png", huge))


def test_truncated_png(media, tmp_path):
    data = media("still.png").read_bytes()
    assert "truncated or damaged" in reject(write(tmp_path / "still.png", data[: len(data) - 30]))


# --- canaries ---------------------------------------------------------------------------------------


class FifoCanary:
    """A named pipe with a writer blocked in open(): the open returns only when someone opens it to read.

    Named .ts because ffmpeg's HLS demuxer only follows segments with media-like extensions; the
    canary must be something a vulnerable ffmpeg would really open.
    """

    def __init__(self, folder: Path) -> None:
        self.path = folder / "canary.ts"
        os.mkfifo(self.path)
        self.url = f"file://{self.path}"
        self.touched = False
        self._releasing = False
        self._thread = threading.Thread(target=self._wait_for_reader, daemon=True)
        self._thread.start()

    def _wait_for_reader(self) -> None:
        fd = os.open(self.path, os.O_WRONLY)
        self.touched = not self._releasing
        os.close(fd)

    def close(self) -> None:
        self._thread.join(0.5)  # a reader that came during the test has released the writer by now
        if self._thread.is_alive():
            self._releasing = True
            fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
            self._thread.join(5)
            os.close(fd)


class TcpCanary:
    """A loopback listener that counts connections."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self._sock.settimeout(0.05)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}/segment.ts"
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            self.connections += 1
            conn.close()

    @property
    def touched(self) -> bool:
        return self.connections > 0

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()


@pytest.fixture(params=["fifo", "tcp"])
def canary(request, tmp_path):
    made = FifoCanary(tmp_path) if request.param == "fifo" else TcpCanary()
    yield made
    made.close()


def hls(path: Path, url: str) -> Path:
    return write(path, f"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n#EXTINF:10.0,\n{url}\n#EXT-X-ENDLIST\n".encode())


def ffconcat(path: Path, url: str) -> Path:
    return write(path, f"ffconcat version 1.0\nfile '{url}'\n".encode())


def riff_chunk(fourcc: bytes, data: bytes) -> bytes:
    return fourcc + struct.pack("<I", len(data)) + data + (b"\x00" if len(data) % 2 else b"")


def gab2_avi(path: Path, document: bytes, title: str = "") -> Path:
    """An AVI whose only stream is a 'txts' subtitle stream and whose first packet is a GAB2 chunk
    carrying `document`: the container trick of CVE-2017-9993."""
    avih = struct.pack("<10I16x", 40000, 0, 0, 0x10, 1, 0, 1, 0, 160, 120)
    strh = struct.pack("<4s4sIHHIIIIIIII4h", b"txts", bytes(4), 0, 0, 0, 0, 1, 25, 0, 1, 0, 0, 0, 0, 0, 160, 120)
    desc = title.encode("utf-16-le")
    payload = b"GAB2\x00" + struct.pack("<HI", 2, len(desc)) + desc + struct.pack("<HI", 4, len(document)) + document
    strl = riff_chunk(b"LIST", b"strl" + riff_chunk(b"strh", strh) + riff_chunk(b"strf", b""))
    hdrl = riff_chunk(b"LIST", b"hdrl" + riff_chunk(b"avih", avih) + strl)
    movi = riff_chunk(b"LIST", b"movi" + riff_chunk(b"00tx", payload))
    body = b"AVI " + hdrl + movi
    return write(path, b"RIFF" + struct.pack("<I", len(body)) + body)


def hostile(kind: str, folder: Path, url: str) -> Path:
    if kind == "hls":
        return hls(folder / "clip.mp4", url)
    if kind == "ffconcat":
        return ffconcat(folder / "clip.mov", url)
    if kind == "self-hls":
        target = folder / "loop.mov"
        return write(target, f"#EXTM3U\n#EXTINF:1,\nfile://{target}\n#EXTINF:1,\n{url}\n#EXT-X-ENDLIST\n".encode())
    playlist = f"#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:10.0,\n{url}\n#EXT-X-ENDLIST\n".encode()
    return gab2_avi(folder / "clip.avi", playlist)


REASONS = {
    "hls": "HLS playlist",
    "ffconcat": "concat list",
    "self-hls": "HLS playlist",
    "avi-gab2": "embedded playlist",
}


@pytest.mark.parametrize("kind", sorted(REASONS))
def test_references_to_other_files_are_refused_and_never_followed(kind, canary, tmp_path):
    path = hostile(kind, tmp_path, canary.url)
    assert REASONS[kind] in reject(path)
    # Defence in depth: were sniffing ever wrong, forcing any allowed demuxer still opens nothing else.
    for demuxer in sorted(ALLOWED_DEMUXERS):
        with contextlib.suppress(MediaToolError, MediaRejected):
            sandbox.ffprobe(path, demuxer)
    canary.close()
    assert not canary.touched


def test_control_plain_ffprobe_follows_an_hls_playlist_into_the_fifo(tmp_path):
    fifo = FifoCanary(tmp_path)
    playlist = hls(tmp_path / "plain.m3u8", fifo.url)
    subprocess.run(["ffprobe", "-v", "quiet", str(playlist)], timeout=30, stdin=subprocess.DEVNULL, check=False)
    fifo.close()
    assert fifo.touched


def test_control_ffprobe_allowed_the_network_follows_a_concat_list_to_the_listener(tmp_path):
    # ffmpeg 5.1 already confines nested opens from a local file to file,crypto,data; older builds
    # did not. Granting http here stands in for them and shows the listener notices a connection.
    listener = TcpCanary()
    listing = ffconcat(tmp_path / "plain.ffconcat", listener.url)
    argv = ["ffprobe", "-v", "quiet", "-protocol_whitelist", "file,http,tcp", "-safe", "0", str(listing)]
    subprocess.run(argv, timeout=30, stdin=subprocess.DEVNULL, check=False)
    listener.close()
    assert listener.touched


def test_hardening_refuses_the_nested_demuxer_a_gab2_chunk_asks_for(tmp_path):
    avi = gab2_avi(tmp_path / "subs.avi", b"1\n00:00:01,000 --> 00:00:02,000\nhello\n\n", title="English")
    plain = subprocess.run(
        ["ffprobe", "-v", "quiet", "-show_streams", "-of", "json", str(avi)],
        capture_output=True,
        timeout=30,
        check=True,
        stdin=subprocess.DEVNULL,
    )
    # Control: a plain ffprobe hands the GAB2 payload to the srt demuxer, proving the file is built right.
    assert json.loads(plain.stdout)["streams"][0]["codec_name"] == "subrip"
    hardened = sandbox.ffprobe(avi, "avi")
    assert hardened["streams"][0].get("codec_name") != "subrip"
    assert "embedded subtitle documents" in reject(avi)
