"""The review room in a real browser (Debian's Chromium through Playwright) against a real portal
(uvicorn + worker, demo data). The media are made through the product: a clip uploaded with tus,
a second version of it, and a contact sheet generated from it by a tool run.

The test clip is 29.97 fps drop-frame starting at 01:00:00;00, and each frame carries its own
number (mod 30) in the grey level of a small square in the top-left corner, so the page's frame counter is
checked against the picture actually on screen."""

from __future__ import annotations

import base64
import re
import subprocess
import time
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from studio_tools.media.timecode import frames_to_timecode, timecode_to_frames
from tests.browser_support import DEMO_PASSWORD, sign_in

pytestmark = pytest.mark.browser

# The real portal of tests/e2e (its conftest is not on this folder's path, so its fixtures are
# brought in here; `browser` is below).

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"  # git-ignored: screenshots to look at
PROJECT_PAGE = "/s/demo/p/DEMO_S1/"
RATE = "30000/1001"
START_TC = "01:00:00;00"
SQUARE = 32  # the frame-number square, top-left, in proxy pixels (the proxy keeps 320x180)


def _make_clip(path: Path, hue: int = 0) -> None:
    """3 s of testsrc2 at 29.97 DF with timecode; frame n paints the square with luma 16 + (n mod 30) * 7."""
    look = f",hue=h={hue}" if hue else ""
    subprocess.run(
        [
            "ffmpeg", "-v", "error", "-nostdin", "-y",
            "-f", "lavfi", "-i", f"testsrc2=size=320x180:rate={RATE}:duration=3",
            "-f", "lavfi", "-i", f"color=black:size={SQUARE}x{SQUARE}:rate={RATE}:duration=3",
            "-filter_complex",
            f"[0]null{look}[bg];[1]geq=lum='16+mod(N,30)*7':cb=128:cr=128[sq];"
            "[bg][sq]overlay=0:0:shortest=1,format=yuv420p",
            "-c:v", "mpeg4", "-q:v", "3", "-timecode", START_TC, str(path),
        ],
        check=True,
        timeout=120,
    )  # fmt: skip


def _expected_grey(frame: int) -> float:
    """What the browser shows for the square on `frame`: limited-range Y to full-range RGB."""
    return (frame % 30) * 7 * 255 / 219


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class Api:
    """The REST API with a signed-in browser context's session (and its CSRF token)."""

    def __init__(self, context, portal):
        self.context = context
        self.portal = portal

    def _csrf(self) -> str:
        return next(c["value"] for c in self.context.cookies() if c["name"] == "csrftoken")

    def get(self, path: str):
        return self.context.request.get(self.portal.url(path))

    def post(self, path: str, data=None):
        return self.context.request.post(self.portal.url(path), data=data, headers={"X-CSRFToken": self._csrf()})

    def upload(self, project_id: int, path: Path, **metadata) -> int:
        """tus: create, then PATCH in 256 KiB chunks. Returns the new version's id."""
        meta = ",".join(f"{k} {_b64(str(v))}" for k, v in {"filename": path.name, "kind": "footage", **metadata}.items())
        data = path.read_bytes()
        created = self.context.request.post(
            self.portal.url(f"/api/v1/projects/{project_id}/uploads/"),
            headers={
                "Tus-Resumable": "1.0.0",
                "Upload-Length": str(len(data)),
                "Upload-Metadata": meta,
                "X-CSRFToken": self._csrf(),
            },
        )
        assert created.status == 201, created.text()
        location = created.headers["location"]
        offset = 0
        while offset < len(data):
            chunk = data[offset : offset + 256 * 1024]
            sent = self.context.request.patch(
                location,
                data=chunk,
                headers={
                    "Tus-Resumable": "1.0.0",
                    "Upload-Offset": str(offset),
                    "Content-Type": "application/offset+octet-stream",
                    "X-CSRFToken": self._csrf(),
                },
            )
            assert sent.status == 204, sent.text()
            offset = int(sent.headers["upload-offset"])
        return int(created.headers["x-asset-version-id"])

    def wait_ready(self, project_id: int, version_id: int, timeout: float = 180) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            version = self.get(f"/api/v1/projects/{project_id}/versions/{version_id}/").json()
            if version["status"] == "ready":
                return version
            assert version["status"] != "rejected", version
            time.sleep(0.5)
        raise AssertionError(f"version {version_id} did not become ready: {version}\n{self.portal.log()[-3000:]}")


@pytest.fixture(scope="module")
def media(portal_server, browser, tmp_path_factory):
    """One clip in two versions and a generated contact sheet of v1, made through the product."""
    folder = tmp_path_factory.mktemp("review-media")
    first, second = folder / "street_take1.mov", folder / "street_take1_v2.mov"
    _make_clip(first)
    _make_clip(second, hue=120)

    context = browser.new_context()
    page = context.new_page()
    sign_in(page, portal_server, "artist@demo.test", DEMO_PASSWORD)
    page.goto(portal_server.url(PROJECT_PAGE))
    project_id = int(page.locator("[data-live-project]").first.get_attribute("data-live-project"))
    api = Api(context, portal_server)

    v1 = api.wait_ready(project_id, api.upload(project_id, first))
    v2_id = api.upload(project_id, second, asset=v1["asset"])
    run = api.post(
        f"/api/v1/projects/{project_id}/toolruns/",
        data={"tool": "contactsheet", "input_version_ids": [v1["id"]], "params": {"columns": 2, "rows": 2, "thumb_width": 160}},
    )
    assert run.status == 201, run.text()
    run_id = run.json()["id"]
    v2 = api.wait_ready(project_id, v2_id)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        state = api.get(f"/api/v1/projects/{project_id}/toolruns/{run_id}/").json()
        if state["status"] in ("succeeded", "failed", "cancelled"):
            break
        time.sleep(0.5)
    assert state["status"] == "succeeded", (state, portal_server.log()[-3000:])
    generated = api.wait_ready(project_id, state["outputs"][0]["version"])
    context.close()
    assert v1["media_info"]["video"]["start_timecode"] == START_TC
    assert generated["approval"] == "pending" and "download" not in generated["links"]
    return {"project": project_id, "v1": v1, "v2": v2, "generated": generated}


def _open_review(page, portal, version: dict):
    page.goto(portal.url(version["links"]["review"]))
    page.wait_for_selector("[data-review][data-media-ready='true']")
    page.wait_for_selector("[data-review][data-notes-loaded]")
    page.wait_for_selector("[data-review][data-live='open']")


def _settled_frame(page) -> int:
    """Wait until the video has finished seeking; the page's frame number then."""
    try:
        page.wait_for_function(
            """() => { const v = document.querySelector('video[data-media]');
                       return v && v.paused && !v.seeking && v.readyState >= 2
                           && document.querySelector('[data-review]').dataset.state === 'paused'; }""",
            timeout=60_000,  # a liveness bound, not a speed check: seeks crawl on a loaded 2-core CI machine
        )
    except PlaywrightTimeout:
        state = page.evaluate(
            """() => { const v = document.querySelector('video[data-media]');
                       return {paused: v.paused, seeking: v.seeking, readyState: v.readyState, time: v.currentTime,
                               error: v.error && v.error.code, state: document.querySelector('[data-review]').dataset.state}; }"""
        )
        raise AssertionError(f"the player never settled: {state}") from None
    return int(page.locator("[data-frame-number]").inner_text())


def _square_grey(page, selector: str = "video[data-media]") -> float:
    """Mean grey level of the frame-number square in what the video element shows now."""
    return page.evaluate(
        """([selector, size]) => {
            const video = document.querySelector(selector);
            const canvas = document.createElement('canvas');
            canvas.width = video.videoWidth; canvas.height = video.videoHeight;
            const ctx = canvas.getContext('2d');
            ctx.drawImage(video, 0, 0);
            const data = ctx.getImageData(8, 8, size - 16, size - 16).data;
            let sum = 0;
            for (let i = 0; i < data.length; i += 4) sum += (data[i] + data[i + 1] + data[i + 2]) / 3;
            return sum / (data.length / 4);
        }""",
        [selector, SQUARE],
    )


def _assert_picture_is_frame(page, frame: int, selector: str = "video[data-media]") -> None:
    grey = _square_grey(page, selector)
    distances = {f: abs(grey - _expected_grey(f)) for f in (frame - 1, frame, frame + 1)}
    assert min(distances, key=distances.get) == frame and distances[frame] < 4, (frame, grey, distances)


def _tc(frame: int) -> str:
    return frames_to_timecode(timecode_to_frames(START_TC, RATE) + frame, RATE)


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def _drag(page, selector: str, start: tuple[float, float], end: tuple[float, float]) -> None:
    page.locator(selector).scroll_into_view_if_needed()
    box = page.locator(selector).bounding_box()
    page.mouse.move(box["x"] + box["width"] * start[0], box["y"] + box["height"] * start[1])
    page.mouse.down()
    for i in range(1, 9):
        x = start[0] + (end[0] - start[0]) * i / 8
        y = start[1] + (end[1] - start[1]) * i / 8
        page.mouse.move(box["x"] + box["width"] * x, box["y"] + box["height"] * y)
    page.mouse.up()


XSS = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"> flare on the lamp post'


def test_step_to_frame_42_and_a_note_with_an_arrow_reaches_another_browser_live(portal_server, new_page, media):
    v1 = media["v1"]
    director = new_page()
    sign_in(director, portal_server, "director@demo.test")
    _open_review(director, portal_server, v1)
    assert director.locator("[data-timecode]").inner_text() == START_TC
    _assert_picture_is_frame(director, 0)

    # Frame stepping from the keyboard: Shift+→ is ten frames, → one; ← goes back.
    director.locator("body").click(position={"x": 5, "y": 5})
    for _ in range(4):
        director.keyboard.press("Shift+ArrowRight")
    for _ in range(3):
        director.keyboard.press("ArrowRight")
    director.keyboard.press("ArrowLeft")
    assert _settled_frame(director) == 42
    assert director.locator("[data-timecode]").inner_text() == _tc(42) == "01:00:01;12"
    _assert_picture_is_frame(director, 42)  # the counter names the frame on screen: no off-by-one

    # Shortcuts do not fire while typing.
    text = director.get_by_label("Note", exact=True)
    text.click()
    text.press("ArrowRight")
    text.press("l")
    text.press("k")
    assert _settled_frame(director) == 42
    assert director.evaluate("() => document.querySelector('video[data-media]').paused")

    # A second person has the same review open.
    producer = new_page()
    sign_in(producer, portal_server, "producer@demo.test")
    _open_review(producer, portal_server, v1)
    loads_before = int(producer.locator("[data-review]").get_attribute("data-notes-loaded"))

    # Draw an arrow and write the note.
    director.get_by_text("Arrow", exact=False).first.click()
    _drag(director, "[data-draw-layer]", (0.30, 0.30), (0.60, 0.65))
    assert director.locator("[data-draw-layer]").get_attribute("data-pending") == "1"
    text.fill(XSS + " @producer@demo.test")
    director.get_by_role("button", name="Add note").click()
    note = director.locator(".note-human", has_text="flare on the lamp post")
    note.wait_for()
    assert director.locator("[data-draw-layer]").get_attribute("data-shapes") == "1"  # saved, shown on its frame
    _shot(director, "review-note-with-arrow.png")

    # Saved as drawn: frame 42, one arrow in normalized coordinates.
    listed = director.request.get(portal_server.url(f"/api/v1/projects/{media['project']}/versions/{v1['id']}/notes/")).json()
    saved = next(n for n in listed["results"] if "lamp post" in n["text"])
    assert saved["frame_start"] == 42 and saved["frame_end"] is None and saved["timecode"] == "01:00:01;12"
    assert saved["mentions"] == ["producer@demo.test"]
    [arrow] = saved["shapes"]
    assert arrow["type"] == "arrow" and arrow["color"] == "#ff3b30"
    (x1, y1), (x2, y2) = arrow["points"]
    assert abs(x1 - 0.30) < 0.02 and abs(y1 - 0.30) < 0.02 and abs(x2 - 0.60) < 0.02 and abs(y2 - 0.65) < 0.02

    # The producer's page shows it without reloading, through the websocket.
    seen = producer.locator(".note-human", has_text="flare on the lamp post")
    started = time.monotonic()
    seen.wait_for(timeout=10000)
    delay = time.monotonic() - started
    assert int(producer.locator("[data-review]").get_attribute("data-notes-loaded")) > loads_before
    assert delay < 5, delay
    # Script in note text is text.
    assert "<script>window.__pwned = 1</script>" in seen.locator(".note-text").inner_text()
    assert producer.evaluate("() => window.__pwned") is None
    assert director.evaluate("() => window.__pwned") is None
    assert seen.locator("script, img").count() == 0

    # The drawing shows on its frame only; a click on the note goes there.
    assert producer.locator("[data-draw-layer]").get_attribute("data-shapes") == "0"
    seen.get_by_role("button", name=re.compile("Go to frame 42")).click()
    assert _settled_frame(producer) == 42
    assert producer.locator("[data-draw-layer]").get_attribute("data-shapes") == "1"
    _assert_picture_is_frame(producer, 42)

    # A reply and resolve from the producer reach the director live too.
    seen.get_by_role("button", name="Reply").click()
    producer.get_by_label("Reply to this note").fill("On it <b>now</b>")
    producer.get_by_role("button", name="Send reply").click()
    director.locator(".note-human .replies", has_text="On it <b>now</b>").wait_for()
    replies = director.locator(".note-human .replies").first.inner_text()
    assert "Paula Producer" in replies and "[object" not in replies  # the reply's author, by name
    seen.get_by_role("button", name="Resolve").click()
    director.locator(".note-human.is-resolved", has_text="lamp post").wait_for()
    _shot(producer, "review-note-live-second-browser.png")

    # A note past the end is refused with the server's message.
    response = director.request.post(
        portal_server.url(f"/api/v1/projects/{media['project']}/versions/{v1['id']}/notes/"),
        data={"frame_start": 5000, "text": "too far"},
        headers={"X-CSRFToken": next(c["value"] for c in director.context.cookies() if c["name"] == "csrftoken")},
    )
    assert response.status == 400 and "past the end" in response.json()["detail"]


def test_transport_shuttle_range_loop_and_empty_note_error(portal_server, new_page, media):
    page = new_page()
    sign_in(page, portal_server, "artist@demo.test")
    _open_review(page, portal_server, media["v1"])
    page.locator("body").click(position={"x": 5, "y": 5})

    # Buttons and the go-to field.
    page.get_by_role("spinbutton", name="Go to frame").fill("10")
    page.get_by_role("button", name="Go", exact=True).click()
    assert _settled_frame(page) == 10
    page.get_by_role("button", name="Next frame").click()
    assert _settled_frame(page) == 11
    page.get_by_role("button", name="Back ten frames").click()
    assert _settled_frame(page) == 1
    page.get_by_role("button", name="Last frame").click()
    assert _settled_frame(page) == 89
    _assert_picture_is_frame(page, 89)

    # In/out range and a note on it.
    page.get_by_role("button", name="First frame").click()
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("i")
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("o")
    assert page.locator("[data-range-text]").inner_text().startswith("In 10")
    page.get_by_label("On the in–out range").check()
    assert page.locator("[data-note-where]").inner_text().startswith("Frames 10–20")

    # Empty note: a clear message, nothing sent. Too long: the server's 400 message, in the page.
    page.get_by_role("button", name="Add note").click()
    assert page.locator("[data-note-error]").inner_text() == "Write something in the note."
    page.get_by_label("Note", exact=True).evaluate("area => { area.value = 'x'.repeat(5001); }")  # past maxlength
    page.get_by_role("button", name="Add note").click()
    page.locator("[data-note-error]", has_text="text: Ensure this field has no more than 5000 characters.").wait_for()
    page.get_by_label("Note", exact=True).fill("Hold on this move")
    page.get_by_role("button", name="Add note").click()
    range_note = page.locator(".note-human", has_text="Hold on this move")
    range_note.wait_for()
    assert "10–20" in range_note.locator(".note-jump").inner_text()

    # Loop the range while playing at half speed: the player stays inside it.
    page.get_by_label("Playback speed").select_option("0.5")
    page.get_by_label("Loop").check()
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("Space")
    frames = []
    for _ in range(12):
        page.wait_for_timeout(150)
        frames.append(int(page.locator("[data-frame-number]").inner_text()))
    page.keyboard.press("k")
    assert all(10 <= f <= 20 for f in frames), frames
    assert len(set(frames)) > 3, frames  # it moved

    # J/K/L: L plays forward (again: faster), K pauses, J plays backwards.
    page.get_by_label("Loop").uncheck()
    page.get_by_role("button", name="First frame").click()
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("l")
    page.wait_for_timeout(400)
    page.keyboard.press("l")
    assert page.locator("[data-speed]").input_value() == "1.5"
    page.wait_for_timeout(300)
    page.keyboard.press("k")
    forward = _settled_frame(page)
    assert forward > 5, forward
    page.keyboard.press("j")
    page.wait_for_timeout(500)
    page.keyboard.press("k")
    backward = _settled_frame(page)
    assert backward < forward, (forward, backward)
    _assert_picture_is_frame(page, backward)


def test_compare_side_by_side_and_wipe_locked_to_the_same_frame(portal_server, new_page, media):
    page = new_page()
    sign_in(page, portal_server, "director@demo.test")
    _open_review(page, portal_server, media["v2"])
    options = page.locator("[data-compare-select] option")
    assert options.count() == 1 and options.first.get_attribute("value") == str(media["v1"]["id"])

    page.get_by_text("Side by side").click()
    page.wait_for_function("() => document.querySelector('video[data-compare-media]').readyState >= 2")
    page.get_by_role("spinbutton", name="Go to frame").fill("37")
    page.get_by_role("spinbutton", name="Go to frame").press("Enter")
    assert _settled_frame(page) == 37
    page.wait_for_function("() => !document.querySelector('video[data-compare-media]').seeking")
    _assert_picture_is_frame(page, 37)
    _assert_picture_is_frame(page, 37, "video[data-compare-media]")
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("ArrowRight")
    assert _settled_frame(page) == 38
    page.wait_for_function("() => !document.querySelector('video[data-compare-media]').seeking")
    _assert_picture_is_frame(page, 38, "video[data-compare-media]")
    _shot(page, "review-compare-side-by-side.png")

    # Play a little, pause: both land on the same frame.
    page.keyboard.press("Space")
    page.wait_for_timeout(600)
    page.keyboard.press("Space")
    frame = _settled_frame(page)
    page.wait_for_function("() => !document.querySelector('video[data-compare-media]').seeking")
    assert frame > 38
    _assert_picture_is_frame(page, frame)
    _assert_picture_is_frame(page, frame, "video[data-compare-media]")

    page.get_by_text("Wipe", exact=True).click()
    page.get_by_label("Wipe position").fill("30")
    assert page.locator("[data-stage]").evaluate("s => s.style.getPropertyValue('--wipe')") == "30%"
    assert page.locator("[data-stage]").get_attribute("data-compare-mode") == "wipe"
    _shot(page, "review-compare-wipe.png")


def test_producer_approves_a_generated_plate_director_cannot_download_gated(portal_server, new_page, media):
    project, generated = media["project"], media["generated"]
    decisions = f"/api/v1/projects/{project}/versions/{generated['id']}/decisions/"
    download = generated["links"]["review"].replace("/review/", "/download/")

    # The director: no decision buttons on the page, 403 from the API, no download before approval.
    director = new_page()
    sign_in(director, portal_server, "director@demo.test")
    _open_review(director, portal_server, generated)
    assert director.locator("[data-approval-state]").inner_text() == "Pending review"
    assert director.get_by_role("button", name=re.compile("^(Approve|Request changes|Reject)$")).count() == 0
    assert director.locator("[data-download]").is_hidden()
    assert director.locator("[data-viewer-mark]").first.inner_text().startswith("director@demo.test")
    director_api = Api(director.context, portal_server)
    denied = director_api.post(decisions, data={"verdict": "approved", "note": "", "sha256": generated["sha256"]})
    assert denied.status == 403, denied.text()
    assert director_api.get(download).status == 403
    _shot(director, "review-generated-director.png")

    # The producer: a note is required to reject; a stale page gets the server's 409 in the page.
    producer = new_page()
    sign_in(producer, portal_server, "producer@demo.test")
    _open_review(producer, portal_server, generated)
    producer_api = Api(producer.context, portal_server)
    assert producer_api.get(download).status == 403
    producer.get_by_role("button", name="Reject").click()
    producer.locator("[data-decision-error]", has_text="note is required").wait_for()
    producer.evaluate("() => { document.querySelector('[data-review]').dataset.sha256 = 'f'.repeat(64); }")
    producer.get_by_role("button", name="Approve").click()
    producer.locator("[data-decision-error]", has_text="changed since you opened it").wait_for()
    producer.evaluate(f"() => {{ document.querySelector('[data-review]').dataset.sha256 = '{generated['sha256']}'; }}")
    _shot(producer, "review-generated-producer-error.png")

    producer.get_by_label(re.compile("Decision note")).fill("Clean plate, good to go.")
    producer.get_by_role("button", name="Approve").click()
    producer.locator("[data-decision-list] li", has_text="Clean plate, good to go.").wait_for()
    assert producer.locator("[data-approval-state]").inner_text() == "Approved"
    assert producer.locator("[data-download]").is_visible()
    _shot(producer, "review-generated-approved.png")

    # The director's page follows live; now the original downloads, for both.
    director.locator("[data-approval-state]", has_text="Approved").wait_for(timeout=10000)
    assert director.locator("[data-download]").is_visible()
    original = director_api.get(download)
    assert original.status == 200 and original.body()[:8] == b"\x89PNG\r\n\x1a\n"
    with producer.expect_download() as got:
        producer.locator("[data-download]").click()
    assert got.value.suggested_filename.endswith(".png")


def test_tablet_width_layout(portal_server, browser, media):
    context = browser.new_context(viewport={"width": 820, "height": 1180}, has_touch=True, is_mobile=True)
    try:
        page = context.new_page()
        sign_in(page, portal_server, "viewer@demo.test")
        _open_review(page, portal_server, media["v1"])
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 820, width  # nothing sticks out sideways
        # A viewer may comment (review.comment) but not download or approve.
        assert page.get_by_role("button", name="Add note").is_visible()
        assert page.locator("[data-download]").count() == 0
        _shot(page, "review-tablet.png")
    finally:
        context.close()


def _finding(state: str) -> dict:
    return {
        "id": 900001,
        "source": "machine",
        "author": None,
        "frame_start": 12,
        "frame_end": None,
        "timecode": _tc(12),
        "text": "Scarf <i>changes</i> colour between the shots",
        "shapes": [{"type": "rect", "points": [[0.2, 0.2], [0.5, 0.6]], "color": "#ffcc00"}],
        "mentions": [],
        "resolved": False,
        "resolved_by": None,
        "finding_type": "costume",
        "confidence": 0.87,
        "finding_state": state,
        "finding_data": {},
        "tool_run": None,
        "replies": [],
        "created_at": "2026-01-05T10:00:00Z",
    }


def test_machine_findings_are_apart_labelled_and_accepted_or_dismissed(portal_server, new_page, media):
    """The page's side of findings. Nothing in the portal creates machine findings yet (the tool-run
    engine never calls review.services.findings_import), so the notes list is served from here."""
    page = new_page()
    sign_in(page, portal_server, "artist@demo.test")
    state = {"finding": "open"}
    posted = []

    def notes(route):
        if route.request.method == "GET":
            route.fulfill(json={"count": 1, "next": None, "previous": None, "results": [_finding(state["finding"])]})
        else:
            route.continue_()

    def decide(route):
        posted.append((route.request.url, route.request.headers.get("x-csrftoken")))
        if route.request.url.endswith("/dismiss/"):
            route.fulfill(status=403, json={"detail": "You do not have permission to perform this action."})
            return
        state["finding"] = "accepted"
        route.fulfill(json=_finding("accepted"))

    page.route(re.compile(r".*/versions/\d+/notes/(\?.*)?$"), notes)
    page.route(re.compile(r".*/notes/900001/(accept|dismiss)/$"), decide)
    _open_review(page, portal_server, media["v2"])

    finding = page.locator("[data-findings-list] .note-machine")
    finding.wait_for()
    assert page.locator("[data-notes-list] .note").count() == 0  # not among people's notes
    badges = finding.locator(".note-badges").inner_text()
    assert "Machine-made" in badges and "confidence 87%" in badges and "costume" in badges and "Open" in badges
    assert finding.locator(".note-text").inner_text() == "Scarf <i>changes</i> colour between the shots"
    assert finding.locator("i").count() == 0

    # Its box shows on its frame.
    finding.get_by_role("button", name=re.compile("Go to frame 12")).click()
    assert _settled_frame(page) == 12
    assert page.locator("[data-draw-layer]").get_attribute("data-shapes") == "1"

    finding.get_by_role("button", name="Dismiss").click()
    finding.locator("[role=alert]", has_text="You do not have permission").wait_for()
    finding.get_by_role("button", name="Accept").click()
    page.locator("[data-findings-list] .note-machine .badge-finding-accepted").wait_for()
    assert page.locator("[data-findings-list]").get_by_role("button", name="Accept").count() == 0
    assert [url.rsplit("/", 2)[-2] for url, _csrf in posted] == ["dismiss", "accept"]
    assert all(csrf for _url, csrf in posted)
    _shot(page, "review-machine-findings.png")
