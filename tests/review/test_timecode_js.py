"""static/js/timecode.js, loaded in the browser from the running portal, against the same known
frame/timecode pairs as studio_tools/media/timecode.py (23.976, 24, 25, 29.97 DF, 59.94 DF)."""

from __future__ import annotations

import pytest

from studio_tools.media.timecode import frame_start, frames_to_timecode
from tests.studio_tools.test_media_timecode import KNOWN

pytestmark = pytest.mark.browser

RATES = ["24000/1001", "24/1", "25/1", "30000/1001", "60000/1001"]


@pytest.fixture(scope="module")
def timecode_page(portal_server, browser):
    context = browser.new_context()
    page = context.new_page()
    page.goto(portal_server.url("/healthz"))
    page.evaluate("async () => { window.tc = await import('/static/js/timecode.js'); }")
    yield page
    context.close()


def test_the_known_pairs_cover_every_rate_the_issue_names():
    assert {rate for rate, _f, _tc in KNOWN} == set(RATES)
    assert any(";" in tc for rate, _f, tc in KNOWN if rate == "30000/1001")
    assert any(";" in tc for rate, _f, tc in KNOWN if rate == "60000/1001")


def test_known_pairs_both_ways(timecode_page):
    got = timecode_page.evaluate(
        """(pairs) => pairs.map(([rate, frame, label]) =>
            [window.tc.framesToTimecode(frame, rate), window.tc.timecodeToFrames(label, rate)])""",
        [list(pair) for pair in KNOWN],
    )
    assert got == [[timecode, frame] for _rate, frame, timecode in KNOWN]


def test_same_labels_as_python_across_the_first_eleven_minutes(timecode_page):
    frames = list(range(0, 30 * 60 * 11, 37)) + [1799, 1800, 17981, 17982, 17983, 107892]
    for rate in RATES:
        js = timecode_page.evaluate("([frames, rate]) => frames.map((f) => window.tc.framesToTimecode(f, rate))", [frames, rate])
        assert js == [frames_to_timecode(f, rate) for f in frames], rate
        back = timecode_page.evaluate("([labels, rate]) => labels.map((l) => window.tc.timecodeToFrames(l, rate))", [js, rate])
        assert back == frames, rate


def test_drop_frame_labels_that_do_not_exist_are_refused(timecode_page):
    errors = timecode_page.evaluate(
        """() => [['00:01:00;00', '30000/1001'], ['00:01:00;01', '30000/1001'], ['00:01:00;03', '60000/1001'],
                  ['00:00:00:25', '25/1'], ['banana', '25/1']].map(([label, rate]) => {
            try { window.tc.timecodeToFrames(label, rate); return null; } catch (e) { return e.message; }
        })"""
    )
    assert all(errors), errors
    assert "does not exist in drop-frame" in errors[0] and "does not exist in drop-frame" in errors[2]
    assert timecode_page.evaluate("() => window.tc.timecodeToFrames('00:10:00;00', '30000/1001')") == 17982
    assert (
        timecode_page.evaluate("() => window.tc.framesToTimecode(1800, window.tc.parseRate('30000/1001', false))")
        == "00:01:00:00"
    )


def test_seconds_and_frames_agree_without_off_by_one(timecode_page):
    """The player seeks to frameStart(n) + half a frame and reads frameAt(currentTime) back."""
    for rate in RATES:
        frames = [0, 1, 23, 24, 29, 30, 1799, 1800, 17982, 86399]
        starts = timecode_page.evaluate("([frames, rate]) => frames.map((f) => window.tc.frameStart(f, rate))", [frames, rate])
        assert starts == pytest.approx([float(frame_start(f, rate)) for f in frames], abs=1e-9)
        back = timecode_page.evaluate(
            """([frames, rate]) => { const r = window.tc.parseRate(rate);
                return frames.map((f) => [window.tc.frameAt(window.tc.frameStart(f, r), r),
                                          window.tc.frameAt(window.tc.frameStart(f, r) + r.den / r.num / 2, r),
                                          window.tc.frameAt(window.tc.frameStart(f + 1, r) - 1e-4, r)]); }""",
            [frames, rate],
        )
        assert back == [[f, f, f] for f in frames], rate
