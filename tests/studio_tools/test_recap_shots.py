"""Shot detection against generated sequences with cuts and dissolves at known frames, and the analysis cache."""

from __future__ import annotations

import numpy as np
import pytest

from studio_tools.media import probe, reader
from studio_tools.recap import analysis, thumbs
from studio_tools.recap.shots import ShotDetector
from tests.studio_tools import media_matrix
from tests.studio_tools.recap_media import ShotPlan, render_frames, vfr_times, write_video

# 16 shots, 15 transitions: 9 hard cuts and 6 dissolves of 4 to 20 frames, shots from 0.9 s to 3 s.
PLANS = [
    ShotPlan(40),
    ShotPlan(35),
    ShotPlan(50, dissolve_in=12),
    ShotPlan(30),
    ShotPlan(45, dissolve_in=8),
    ShotPlan(40),
    ShotPlan(42, dissolve_in=20),
    ShotPlan(26, dissolve_in=4),
    ShotPlan(60),
    ShotPlan(23),
    ShotPlan(38, dissolve_in=16),
    ShotPlan(31),
    ShotPlan(55),
    ShotPlan(33, dissolve_in=6),
    ShotPlan(29),
    ShotPlan(44),
]


def f1(found: list[int], truth: list[int], tolerance: int = 1) -> tuple[float, int, int, int]:
    """F1 of detected boundary frames against the truth, each truth matched at most once within `tolerance` frames."""
    unmatched = list(truth)
    hits = 0
    for frame in found:
        match = next((t for t in unmatched if abs(t - frame) <= tolerance), None)
        if match is not None:
            unmatched.remove(match)
            hits += 1
    precision = hits / len(found) if found else 0.0
    recall = hits / len(truth) if truth else 0.0
    score = 2 * precision * recall / (precision + recall) if hits else 0.0
    return score, hits, len(found) - hits, len(unmatched)


@pytest.fixture(scope="module")
def sequence(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shots")
    frames, boundaries, kinds = render_frames(PLANS, 320, 180, seed=5)
    cfr = write_video(folder / "cfr.mp4", frames, fps=25)
    vfr = write_video(folder / "vfr.mp4", frames, vfr=True)
    return {"cfr": cfr, "vfr": vfr, "boundaries": boundaries, "kinds": kinds, "count": len(frames)}


def detect(path):
    info = probe(path)
    detector = ShotDetector(info.video.fps)
    size = reader.display_size(info.video, max_width=analysis.ANALYSIS_WIDTH)
    for frame in reader.read_frames(path, info, size=size, timeline="native"):
        detector.feed(frame.time, frame.image)
    return detector.finish()


@pytest.mark.parametrize("rate", ["cfr", "vfr"])
def test_cuts_and_dissolves_found_within_one_frame(sequence, rate):
    result = detect(sequence[rate])
    assert len(result.times) == sequence["count"]
    truth = sequence["boundaries"]
    assert sequence["kinds"].count("dissolve") == 6
    score, hits, false_positives, misses = f1([b.frame for b in result.boundaries], truth)
    print(f"{rate}: F1={score:.3f} hits={hits} false={false_positives} missed={misses}")
    assert score >= 0.95, (score, [(b.frame, b.kind) for b in result.boundaries], truth)
    # Dissolves are reported as dissolves, with their length, not as cuts somewhere inside them.
    found = {b.frame: b for b in result.boundaries}
    for frame, kind in zip(truth, sequence["kinds"], strict=True):
        near = [found[f] for f in (frame - 1, frame, frame + 1) if f in found]
        if near:
            assert near[0].kind == kind


def test_variable_frame_rate_times_are_each_frames_own(sequence):
    result = detect(sequence["vfr"])
    expected = np.asarray(vfr_times(sequence["count"]))
    assert np.max(np.abs(result.times - expected)) < 1e-4
    # Every boundary's time is its frame's real presentation time (a constant-rate guess would drift by seconds).
    for boundary in result.boundaries:
        assert boundary.time == pytest.approx(expected[boundary.frame], abs=1e-4)
    truth_times = [expected[f] for f in sequence["boundaries"]]
    nominal = [f / 25 for f in sequence["boundaries"]]
    assert max(abs(a - b) for a, b in zip(truth_times, nominal, strict=True)) > 1.0


def test_no_false_cuts_in_a_single_moving_shot(tmp_path):
    frames, _, _ = render_frames([ShotPlan(150)], 320, 180, seed=9)
    result = detect(write_video(tmp_path / "one.mp4", frames))
    assert result.boundaries == []


def test_second_run_reads_the_cache_and_does_not_decode(sequence, tmp_path, monkeypatch):
    monkeypatch.setenv(analysis.CACHE_ENV, str(tmp_path / "cache"))
    path = sequence["cfr"]
    info = probe(path)
    cache = analysis.cache_dir(tmp_path / "work")
    assert cache == tmp_path / "cache" / "recap"
    first = analysis.analyse(path, info, "a" * 64, cache=cache)
    assert not first.from_cache and first.decoded_frames == sequence["count"]
    assert len(first.shots) == len(PLANS)
    assert [s.start for s in first.shots[1:]] == [b.time for b in first.boundaries]

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again")

    monkeypatch.setattr(analysis, "read_frames", no_decoding)
    second = analysis.analyse(path, info, "a" * 64, cache=cache)
    assert second.from_cache and second.decoded_frames == 0
    assert [(s.start, s.end, s.transition_in) for s in second.shots] == [(s.start, s.end, s.transition_in) for s in first.shots]
    assert np.array_equal(second.times, first.times)
    assert all(np.allclose(a.hist, b.hist) for a, b in zip(first.shots, second.shots, strict=True))

    # A damaged entry is not trusted: it is decoded again (which here, with decoding disabled, is the proof).
    (entry,) = cache.glob("*.npz")
    entry.write_bytes(b"not a cache entry")
    with pytest.raises(AssertionError, match="decoded again"):
        analysis.analyse(path, info, "a" * 64, cache=cache)


def test_cache_folder_falls_back_beside_the_work_folder(tmp_path, monkeypatch):
    monkeypatch.delenv(analysis.CACHE_ENV, raising=False)
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    folder = analysis.cache_dir(tmp_path / "runs" / "run-1")
    assert folder == tmp_path / "runs" / ".studio_tools-cache" / "recap"


@pytest.mark.parametrize("name", ["avi_packed.avi", "rot90.mp4", "vfr.mkv"])
def test_analysis_reads_each_frame_once_at_its_true_time_and_upright(tmp_path, name):
    # An AVI whose header claims 50 fps for 25 fps frames is not doubled; a rotated clip is analysed upright.
    spec = next(s for s in media_matrix.SPECS if s.name == name)
    path = media_matrix.make(spec, tmp_path)
    info = probe(path)
    result = analysis.analyse(path, info, "b" * 64, cache=None)
    assert len(result.times) == spec.frame_count
    shown = [n for n in range(spec.frames) if n not in spec.drop]
    # counted from the container's start, where `ffmpeg -ss` counts from (this AVI's first frame is at 0.04 s)
    expected = np.asarray(shown, dtype=np.float64) / 25.0 + info.video.first_frame_time
    assert np.max(np.abs(result.times - expected)) < 2e-3
    width, height = reader.display_size(info.video, max_width=analysis.ANALYSIS_WIDTH)
    assert (width > height) == (spec.display_size[0] > spec.display_size[1])


@pytest.mark.parametrize("name", ["avi_packed.avi", "rot90.mp4"])
def test_moment_thumbnails_show_the_frame_at_their_time_upright(tmp_path, name):
    spec = next(s for s in media_matrix.SPECS if s.name == name)
    path = media_matrix.make(spec, tmp_path)
    info = probe(path)
    tile = thumbs.frame(thumbs.Grab(path, info, info.video.first_frame_time + 20 / 25 + 0.01))
    columns = np.nonzero(tile.max(axis=(0, 2)))[0]  # letterboxed: black beside a portrait picture
    picture = tile[:, columns.min() : columns.max() + 1]
    width, height = spec.display_size
    assert picture.shape[1] == pytest.approx(thumbs.TILE_HEIGHT * width / height, abs=2)
    assert media_matrix.read_bars(np.rot90(picture, k=spec.rotation // 90)) == 20
