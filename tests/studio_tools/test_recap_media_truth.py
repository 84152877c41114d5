"""The recap on media as it comes: episodes without sound, variable frame rates, episodes at different
rates, and the real Popeye episodes; the EDL read back with OTIO's cmx_3600 adapter lands on the
frames the recap shows.

The generated episodes carry their frame number as a bar code (recap_media.stamp_frame_number), so a
test reads from the rendered recap which source frame each of its frames is, and holds the EDL's
source timecode (parsed at the source's own rate) to it.
"""

from __future__ import annotations

import json
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest

from studio_tools.media.timecode import timecode_to_frames
from tests import real_media
from tests.studio_tools.recap_media import make_episode, read_frame_number
from tests.studio_tools.test_recap_tool import cli, media_facts

OUTPUTS = ["moments.jpg", "recap.edl", "recap.mp4", "recap.otio", "recap.srt", "report.json"]
SIZE = (320, 180)


def run_recap(files: list[Path], out: Path, cache: Path, *params: str) -> dict:
    args = ["run", "recap"]
    for path in files:
        args += ["--input", str(path)]
    for param in params:
        args += ["--param", param]
    done = cli(*args, "--out", str(out), cache=cache)
    assert done.returncode == 0, done.stderr
    return json.loads((out / "report.json").read_text())["report"]


def streams_of(path: Path) -> dict[str, dict]:
    facts = media_facts(path)
    return {s["codec_type"]: s for s in facts["streams"]}


def stamped_numbers(recap: Path, width: int, height: int) -> list[int]:
    """The source frame number stamped on every frame of the rendered recap, in order."""
    raw = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(recap), "-map", "0:v:0", "-f", "rawvideo", "-pix_fmt", "gray", "-"],
        capture_output=True,
        check=True,
    ).stdout
    frames = np.frombuffer(raw, np.uint8).reshape(-1, height, width)
    return [read_frame_number(f) for f in frames]


def edl_events(out: Path, rates: dict[str, str]) -> list[tuple[str, int, int]]:
    """(reel, source in frame, source out frame) of every event, the EDL read back with OTIO's cmx_3600
    adapter, each source label counted at the true rate of its episode (`rates`, by reel).

    The adapter reads a list at one rate; it is given the fastest nominal rate there is, at which every
    label is valid."""
    read_rate = max(round(Fraction(r)) for r in rates.values())
    timeline = otio.adapters.read_from_file(
        str(out / "recap.edl"), adapter_name="cmx_3600", rate=read_rate, ignore_timecode_mismatch=True
    )
    events = []
    for clip in timeline.find_clips():
        reel = clip.metadata["cmx_3600"]["reel"]
        visible = clip.visible_range()
        labels = [otio.opentime.to_timecode(t, read_rate) for t in (visible.start_time, visible.end_time_exclusive())]
        events.append((reel, *(timecode_to_frames(label, rates[reel]) for label in labels)))
    return events


def assert_edl_lands_on_the_frames_shown(
    out: Path,
    report: dict,
    rates: dict[str, str],
    recap_rate: str,
    *,
    size: tuple[int, int] = SIZE,
    picture_starts: dict[str, float] | None = None,
) -> None:
    """Each EDL event's source in/out, at its episode's true rate (`rates`, by reel), is the frame the
    recap (at `recap_rate`) shows there. `picture_starts`: when an episode's first frame shows, from its
    container's start (its timecode counts from that frame)."""
    rate = Fraction(recap_rate)
    shown = stamped_numbers(out / "recap.mp4", *size)
    moments = report["moments"]
    events = edl_events(out, {**rates, "record": recap_rate})
    assert len(events) == len(moments)
    xf = round(report["selection"]["crossfade_seconds"] * rate)
    for n, ((reel, source_in, source_out), moment) in enumerate(zip(events, moments, strict=True)):
        assert reel == f"EP{moment['episode']:02d}"
        source = Fraction(rates[reel])
        record_in = round(Fraction(moment["recap_start"]) * rate)
        record_out = round(Fraction(moment["recap_end"]) * rate)
        # The in-point is the moment's first frame, counted at the episode's own rate ...
        since_first_frame = Fraction(str(moment["start"])) - Fraction(str((picture_starts or {}).get(reel, 0.0)))
        assert source_in == round(since_first_frame * source), (reel, moment["start"], source_in)
        # ... and the first frame past the dissolve (or the event's first frame after a cut) shows that
        # frame moved on by the time elapsed since the in-point.
        k = xf + 1 if record_in else 0
        expected = source_in + round(k * source / rate)
        tolerance = 0 if source == rate else 1  # a retimed episode: the nearest frame either way
        assert abs(shown[record_in + k] - expected) <= tolerance, (reel, source_in, record_in, shown[record_in + k])
        assert abs((source_out - source_in) - (record_out - record_in) * source / rate) <= 1
        if source == rate:  # the out-point too: the last frame before the next dissolve
            tail = xf if n < len(moments) - 1 else 0
            assert shown[record_out - 1 - tail] == source_out - 1 - tail


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("analysis-cache")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("episodes")


def test_episodes_without_sound_give_a_recap_with_a_soundtrack(folder, cache, tmp_path):
    """Before: `ValueError: Encountered apad() ... a split filter is probably required` with two moments or more."""
    files = []
    for i in range(2):
        video, subtitles = make_episode(folder, i, seconds=30.0, audio=False, framecode=True, suffix=".mkv", name=f"mute{i + 1}")
        files += [video, subtitles]
    out = tmp_path / "recap"
    report = run_recap(files, out, cache, "target_seconds=30")
    assert sorted(p.name for p in out.iterdir()) == OUTPUTS
    assert len(report["moments"]) > 1 and not any(v["audio"] for v in report["videos"])
    streams = streams_of(out / "recap.mp4")
    assert streams["audio"]["codec_name"] == "aac" and streams["video"]["r_frame_rate"] == "25/1"
    assert float(streams["audio"]["duration"]) == pytest.approx(float(streams["video"]["duration"]), abs=0.1)
    assert float(streams["video"]["duration"]) == pytest.approx(30.0, abs=1.0)
    assert_edl_lands_on_the_frames_shown(out, report, {"EP01": "25/1", "EP02": "25/1"}, "25/1")


def test_variable_frame_rate_episode_is_timecoded_at_its_nominal_rate(folder, cache, tmp_path):
    """Before: `SMPTE timecode does not support this rate` after the whole render.

    Five of every 25 frames are left out of a 25 fps episode (20 fps on average, frames 40 ms or 240 ms
    long); the frames left keep their times, so the stamped number of each is its time x 25."""
    video, subtitles = make_episode(folder, 0, seconds=40.0, drop="gte(mod(n,25),20)", framecode=True, name="vfr")
    out = tmp_path / "recap"
    report = run_recap([video, subtitles], out, cache, "target_seconds=30")
    assert sorted(p.name for p in out.iterdir()) == OUTPUTS
    (entry,) = report["videos"]
    assert entry["variable_frame_rate"] is True and entry["timecode_rate"] == "25/1"
    assert "variable frame rate" in entry["timecode_note"] and "nominal 25 fps" in entry["timecode_note"]
    assert any("nominal" in note for note in report["edit"]["notes"])
    assert report["render"]["frame_rate"] == "25/1" and any("variable" in n for n in report["render"]["frame_rate_notes"])
    streams = streams_of(out / "recap.mp4")
    assert streams["video"]["r_frame_rate"] == "25/1" and streams["video"]["avg_frame_rate"] == "25/1"
    # As long as the moments chosen (one 43 s episode, no line cut: a little under the 30 s asked for).
    assert int(streams["video"]["nb_frames"]) == report["selection"]["frames"] and 25 * 25 < report["selection"]["frames"]
    # The held frames (where frames were left out) repeat in the recap; the timecode names the frame
    # shown at the in-point all the same.
    rate = Fraction(25)
    shown = stamped_numbers(out / "recap.mp4", *SIZE)
    xf = round(report["selection"]["crossfade_seconds"] * rate)
    for (reel, source_in, _), moment in zip(edl_events(out, {"EP01": "25/1"}), report["moments"], strict=True):
        assert reel == "EP01"
        record_in = round(Fraction(moment["recap_start"]) * rate)
        k = xf + 1 if record_in else 0
        expected = source_in + k
        if expected % 25 >= 20:  # left out of the episode: the last frame before the gap is held
            expected = expected - expected % 25 + 19
        assert shown[record_in + k] == expected


@pytest.mark.parametrize(
    ("rates", "recap_rate"),
    [(("25/1", "24000/1001"), "25/1"), (("24000/1001", "25/1"), "24000/1001")],
    ids=["25-then-23.976", "23.976-then-25"],
)
def test_edl_source_timecode_is_at_each_sources_own_rate(folder, cache, tmp_path, rates, recap_rate):
    """Before: every source timecode of the EDL was counted at the recap's rate (a 23.976 episode's at 25)."""
    files = []
    for i, rate in enumerate(rates):
        name = f"ep{i + 1}-" + rate.replace("/", "_")
        files += list(make_episode(folder, i, seconds=30.0, fps=rate, framecode=True, name=name))
    out = tmp_path / "recap"
    report = run_recap(files, out, cache, "target_seconds=30")
    assert report["render"]["frame_rate"] == recap_rate
    assert streams_of(out / "recap.mp4")["video"]["r_frame_rate"] == recap_rate
    assert {m["episode"] for m in report["moments"]} == {1, 2}
    truth = {"EP01": rates[0], "EP02": rates[1]}
    assert_edl_lands_on_the_frames_shown(out, report, truth, recap_rate)
    assert report["edit"]["source_timecode_rates"] == truth and report["edit"]["record_timecode_rate"] == recap_rate
    (note,) = report["render"]["frame_rate_notes"]
    assert f"episode 2 is at {rates[1]}" in note and f"the recap at {recap_rate}" in note
    # The OTIO file says the same: each clip's source range at its episode's rate, from the same frame.
    timeline = otio.adapters.read_from_file(str(out / "recap.otio"))
    for clip, (reel, source_in, _) in zip(timeline.find_clips(), edl_events(out, truth), strict=True):
        source = float(Fraction(truth[reel]))
        assert clip.source_range.start_time.rate == pytest.approx(source)
        assert round(clip.visible_range().start_time.rescaled_to(source).value) == source_in


def test_an_anamorphic_episode_keeps_its_shape_in_the_recap(folder, cache, tmp_path):
    """An episode stored 240x180 with 4:3 pixels (it displays 320x180) beside a square-pixel 320x180 one:
    the recap shows both at 320x180, neither squeezed nor pillarboxed (before: the stored 240x180 was
    kept and padded). The stamped frame numbers read at their drawn places prove the shape."""
    files = list(make_episode(folder, 0, seconds=30.0, framecode=True, name="square"))
    files += make_episode(folder, 1, seconds=30.0, framecode=True, name="anamorphic", anamorphic=(240, 180, "4/3"))
    assert streams_of(files[2])["video"]["sample_aspect_ratio"] == "4:3"
    out = tmp_path / "recap"
    report = run_recap(files, out, cache, "target_seconds=30", "narration=false")
    video = streams_of(out / "recap.mp4")["video"]
    assert (video["width"], video["height"], video.get("sample_aspect_ratio", "1:1")) == (320, 180, "1:1")
    assert {m["episode"] for m in report["moments"]} == {1, 2}
    assert_edl_lands_on_the_frames_shown(out, report, {"EP01": "25/1", "EP02": "25/1"}, "25/1")


def test_a_picture_that_starts_after_the_sound_is_timecoded_from_its_first_frame(folder, cache, tmp_path):
    """An episode whose first frame shows 0.221 s into the file (its sound starts at 0): the EDL counts
    source frames from that first frame, as the file's frame numbers and any editor do."""
    files = list(make_episode(folder, 0, seconds=40.0, framecode=True, suffix=".mkv", name="late", video_delay=0.2))
    picture_start = float(streams_of(files[0])["video"]["start_time"])
    assert float(streams_of(files[0])["audio"]["start_time"]) == 0 and picture_start > 0.2
    out = tmp_path / "recap"
    report = run_recap(files, out, cache, "target_seconds=30", "narration=false")
    assert_edl_lands_on_the_frames_shown(out, report, {"EP01": "25/1"}, "25/1", picture_starts={"EP01": picture_start})


@pytest.mark.real_media
def test_popeye_episodes_without_sound_give_a_recap(cache, tmp_path):
    """The two real Popeye episodes: HEVC 1440x1074 at 24 fps, no audio, the container claiming 62-63 s
    while the frames span 60 s."""
    files = []
    for prefix in ("A12_popeye_ep1", "A13_popeye_ep2"):
        (video,) = [e for e in real_media.entries() if e["name"].startswith(prefix)]
        (subtitles,) = [e for e in real_media.entries(videos_only=False) if e.get("pairs_with") == video["name"]]
        assert video["audio"] is False and video["frame_rate_counted"]["decoded_frames"] == 1440
        files += [video["path"], subtitles["path"]]
    assert [p.suffix for p in files] == [".mkv", ".srt", ".mkv", ".srt"]
    out = tmp_path / "recap"
    report = run_recap(files, out, cache, "target_seconds=30")
    assert sorted(p.name for p in out.iterdir()) == OUTPUTS
    assert len(report["moments"]) > 1 and {m["episode"] for m in report["moments"]} == {1, 2}
    for entry in report["videos"]:
        assert entry["audio"] is False and entry["timecode_rate"] == "24/1" and not entry["variable_frame_rate"]
        # Inside the 1440 frames (to the half frame: starts are millisecond timestamps), not the claimed 62-63 s.
        assert all(round(m["end"] * 24) <= 1440 for m in entry["moments"])
    streams = streams_of(out / "recap.mp4")
    video = streams["video"]
    assert video["r_frame_rate"] == "24/1" and video["avg_frame_rate"] == "24/1"
    assert (video["width"], video["height"]) == (1440, 1074) and video.get("sample_aspect_ratio", "1:1") in ("1:1", "0:1")
    assert streams["audio"]["codec_name"] == "aac"
    assert float(video["duration"]) == pytest.approx(30.0, abs=1.0)
    assert int(video["nb_frames"]) == round(float(video["duration"]) * 24)
    assert report["render"]["frame_rate"] == "24/1" and report["render"]["frame_rate_notes"] == []
    events = edl_events(out, {"EP01": "24/1", "EP02": "24/1"})
    assert len(events) == len(report["moments"])
    for (reel, source_in, _), moment in zip(events, report["moments"], strict=True):
        assert reel == f"EP{moment['episode']:02d}"
        assert source_in == round(moment["start"] * 24)
    assert otio.adapters.read_from_file(str(out / "recap.otio")).duration().to_frames() == int(video["nb_frames"])
