"""Zero frames off in the review room: on three files that trip readers up (an AVI whose header claims
twice its rate, 29.97 drop-frame with a start timecode, a variable-rate Matroska file), uploaded through
the product, the player's frame stepping lands on every frame of the timeline once, in order, and the
picture on screen is the frame the counter names (each frame carries its number as a bar pattern,
tests/studio_tools/media_matrix.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from studio_tools.media.timecode import frames_to_timecode, timecode_to_frames
from tests.browser_support import DEMO_PASSWORD, sign_in
from tests.review.test_review_browser import PROJECT_PAGE, Api, _open_review, _settled_frame
from tests.studio_tools import media_matrix

pytestmark = pytest.mark.browser

_SPECS = {spec.name: spec for spec in media_matrix.SPECS}
FILES = (
    replace(_SPECS["avi_packed.avi"], frames=24),
    replace(_SPECS["r2997df.mov"], frames=24),
    replace(_SPECS["vfr.mkv"], frames=24, drop=frozenset({7, 8, 15})),
)

# The bars of media_matrix, read in the page from what the <video> element shows.
_READ_BARS = """([bits, columns, rows]) => {
    const video = document.querySelector('video[data-media]');
    const canvas = document.createElement('canvas');
    canvas.width = video.videoWidth; canvas.height = video.videoHeight;
    const ctx = canvas.getContext('2d');
    ctx.drawImage(video, 0, 0);
    const w = canvas.width, h = canvas.height;
    let n = 0;
    for (let k = 0; k < bits; k++) {
        const row = Math.floor(k / columns), col = k % columns;
        const x0 = col * w / columns, x1 = (col + 1) * w / columns;
        const y0 = row * h / rows, y1 = (row + 1) * h / rows;
        const cw = (x1 - x0) / 2, ch = (y1 - y0) / 2;
        const data = ctx.getImageData(x0 + cw / 2, y0 + ch / 2, cw, ch).data;
        let sum = 0;
        for (let i = 0; i < data.length; i += 4) sum += (data[i] + data[i + 1] + data[i + 2]) / 3;
        if (sum / (data.length / 4) > 125) n |= 1 << k;
    }
    return n;
}"""
_GRID = [media_matrix.BITS, media_matrix.COLUMNS, media_matrix.ROWS]


def _timeline(spec: media_matrix.Spec) -> list[int]:
    kept = [n for n in range(spec.frames) if n not in spec.drop]
    return [max(n for n in kept if n <= slot) for slot in range(kept[0], kept[-1] + 1)]


@pytest.fixture(scope="module")
def uploaded(portal_server, browser, tmp_path_factory):
    folder = tmp_path_factory.mktemp("player-conformance")
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, portal_server, "artist@demo.test", DEMO_PASSWORD)
    page.goto(portal_server.url(PROJECT_PAGE))
    project_id = int(page.locator("[data-live-project]").first.get_attribute("data-live-project"))
    api = Api(context, portal_server)
    ids = {spec.name: api.upload(project_id, media_matrix.make(spec, folder)) for spec in FILES}
    versions = {name: api.wait_ready(project_id, version_id) for name, version_id in ids.items()}
    context.close()
    return versions


@pytest.mark.parametrize("spec", FILES, ids=[spec.name for spec in FILES])
def test_stepping_lands_on_every_frame_once(portal_server, new_page, uploaded, spec):
    version = uploaded[spec.name]
    expected = _timeline(spec)
    video = version["media_info"]["video"]
    assert video["frame_rate"] == spec.rate  # the true rate, not the header's
    assert video["timeline_frame_count"] == len(expected)
    assert video["variable_frame_rate"] is spec.variable

    page = new_page()
    sign_in(page, portal_server, "director@demo.test")
    _open_review(page, portal_server, version)
    assert page.locator("[data-frame-last]").inner_text() == str(len(expected) - 1)
    page.locator("body").click(position={"x": 5, "y": 5})
    seen = []
    for frame in range(len(expected)):
        if frame:
            page.keyboard.press("ArrowRight")
        assert _settled_frame(page) == frame
        seen.append(page.evaluate(_READ_BARS, _GRID))
        if spec.start_timecode:
            start = timecode_to_frames(spec.start_timecode, spec.rate)
            assert page.locator("[data-timecode]").inner_text() == frames_to_timecode(start + frame, spec.rate)
    assert seen == expected
    # One step past the end stays on the last frame.
    page.keyboard.press("ArrowRight")
    assert _settled_frame(page) == len(expected) - 1
