"""SMPTE timecode against known frame/timecode pairs, drop-frame included."""

from __future__ import annotations

from fractions import Fraction

import pytest

from studio_tools.media.timecode import (
    Rate,
    frame_at,
    frame_start,
    frames_to_timecode,
    nearest_frame,
    source_rate,
    source_timecode,
    standard_rate,
    timecode_to_frames,
)

# (rate, frame, timecode): published pairs (SMPTE 12M drop-frame rules) and plain arithmetic.
KNOWN = [
    ("24000/1001", 0, "00:00:00:00"),
    ("24000/1001", 23, "00:00:00:23"),
    ("24000/1001", 24, "00:00:01:00"),
    ("24000/1001", 86400, "01:00:00:00"),  # 23.976 counts like 24: the label drifts from the clock
    ("24/1", 1439, "00:00:59:23"),
    ("24/1", 86399, "00:59:59:23"),
    ("25/1", 90000, "01:00:00:00"),
    ("25/1", 1234, "00:00:49:09"),
    ("30000/1001", 1799, "00:00:59;29"),
    ("30000/1001", 1800, "00:01:00;02"),  # ;00 and ;01 are skipped at the minute
    ("30000/1001", 3597, "00:01:59;29"),
    ("30000/1001", 3598, "00:02:00;02"),
    ("30000/1001", 17981, "00:09:59;29"),
    ("30000/1001", 17982, "00:10:00;00"),  # ... but not at every tenth minute
    ("30000/1001", 17983, "00:10:00;01"),
    ("30000/1001", 107892, "01:00:00;00"),  # one hour of 29.97 DF is 107892 frames
    ("60000/1001", 3599, "00:00:59;59"),
    ("60000/1001", 3600, "00:01:00;04"),  # four labels skipped at 59.94
    ("60000/1001", 35964, "00:10:00;00"),
    ("60000/1001", 215784, "01:00:00;00"),
]


@pytest.mark.parametrize(("rate", "frame", "timecode"), KNOWN)
def test_known_pairs(rate, frame, timecode):
    assert frames_to_timecode(frame, rate) == timecode
    assert timecode_to_frames(timecode, rate) == frame


@pytest.mark.parametrize("rate", ["24000/1001", "24/1", "25/1", "30000/1001", "60000/1001", "50/1"])
def test_round_trip_every_frame_of_the_first_eleven_minutes(rate):
    nominal = Rate.parse(rate).nominal
    for frame in range(0, nominal * 60 * 11, 7):
        assert timecode_to_frames(frames_to_timecode(frame, rate), rate) == frame


def test_labels_that_drop_frame_skips_do_not_exist():
    with pytest.raises(ValueError, match="does not exist"):
        timecode_to_frames("00:01:00;00", "30000/1001")
    with pytest.raises(ValueError, match="does not exist"):
        timecode_to_frames("00:01:00;03", "60000/1001")
    assert timecode_to_frames("00:10:00;00", "30000/1001") == 17982


def test_non_drop_29_97_on_request():
    assert frames_to_timecode(1800, "30000/1001", drop_frame=False) == "00:01:00:00"
    with pytest.raises(ValueError, match="drop-frame"):
        Rate.parse("25/1", drop_frame=True)


def test_bad_timecodes_are_refused():
    for bad in ("1:2:3", "00:00:00:25", "00:61:00:00", "banana"):
        with pytest.raises(ValueError):
            timecode_to_frames(bad, "25/1")


def test_seconds_and_frames_agree_without_off_by_one():
    rate = "30000/1001"
    for frame in (0, 1, 29, 30, 1799, 1800, 17982):
        assert frame_at(frame_start(frame, rate), rate) == frame
        assert frame_at(frame_start(frame, rate) + 0.5 / 29.97, rate) == frame


def test_any_rational_rate_counts_at_its_nominal_rate():
    # Rates SMPTE does not name still give timecode: 12.5 counts like 12 (round half to even), 2400/89 like 27.
    assert frames_to_timecode(27, "2400/89") == "00:00:01:00"
    assert timecode_to_frames("00:00:01:00", "2400/89") == 27
    assert frames_to_timecode(12, "25/2") == "00:00:01:00"
    assert frames_to_timecode(3, "1/2") == "00:00:03:00"  # one frame every two seconds counts like 1 fps


@pytest.mark.parametrize(
    ("measured", "standard"),
    [("2997/100", "30000/1001"), ("29.87", "30000/1001"), ("24/1", "24/1"), ("23.976", "24000/1001"), ("2400/89", "2400/89")],
)
def test_standard_rate_snaps_within_two_percent(measured, standard):
    assert standard_rate(measured) == Fraction(standard)


def test_constant_rate_source_counts_at_its_true_rate():
    counted = source_rate("24000/1001")
    assert counted.rate.text == "24000/1001" and not counted.rate.drop_frame and counted.note is None
    assert source_rate("30000/1001").rate.drop_frame
    assert source_rate(None, fps=25.0).rate.text == "25/1"


def test_variable_rate_source_counts_at_its_nominal_rate_with_a_note():
    # Frames dropped from 25 fps: 20 fps on average, the shortest frame 40 ms: nominal 25.
    counted = source_rate("20/1", variable=True, min_frame_duration=0.04)
    assert counted.variable and counted.rate.text == "25/1"
    assert "variable frame rate" in counted.note and "nominal 25 fps" in counted.note
    assert "40 to 240 ms apart" in source_rate("25/1", variable=True, min_frame_duration=0.04, max_frame_duration=0.24).note
    # A phone's 29.97 with some frames held: the shortest frame of a 29.97 clip rounded to the millisecond.
    assert source_rate("2850/100", variable=True, min_frame_duration=0.033).rate.text == "30000/1001"
    # An implausibly short frame (a glitch) does not make the nominal rate: the average does.
    assert source_rate("24/1", variable=True, min_frame_duration=0.001).rate.text == "24/1"
    # Never a crash: the nominal rate of an odd average is that average.
    assert source_rate("2400/89", variable=True).rate.nominal == 27


def test_nearest_frame_survives_millisecond_timestamps():
    # Matroska stores 24 fps frame 1 at 0.041 s: floor would say frame 0.
    assert frame_at(0.041, "24/1") == 0
    assert nearest_frame(0.041, "24/1") == 1
    assert [nearest_frame(round(n / 24, 3), "24/1") for n in range(0, 1440)] == list(range(1440))


def test_a_sources_frames_are_labelled_from_its_start_timecode():
    # A GoPro clip at 29.97 starting at 19:26:48:04 (non-drop, written with ':'), a 29.97 DF master.
    assert source_timecode(0, "30000/1001", start="19:26:48:04") == "19:26:48:04"
    assert source_timecode(26, "30000/1001", start="19:26:48:04") == "19:26:49:00"
    assert source_timecode(0, "30000/1001", start="01:00:00;00") == "01:00:00;00"
    assert source_timecode(1800, "30000/1001", start="00:00:00;00") == "00:01:00;02"
    assert source_timecode(1800, "30000/1001") == "00:01:00;02"  # no start: 29.97 counts drop-frame
    assert source_timecode(47, "24000/1001") == "00:00:01:23"
    # Never a crash: ';' at 25 counts plainly, an unreadable start is ignored, a still has no label.
    assert source_timecode(3, "25/1", start="01:00:00;00") == "01:00:00:03"
    assert source_timecode(5, "25/1", start="00:00:10:30") == "00:00:00:05"
    assert source_timecode(0, None) is None
