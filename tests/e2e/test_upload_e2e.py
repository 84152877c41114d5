"""A person uploads two files in the browser, reloads the page mid-upload, resumes, and watches
both become playable without reloading again (Uppy + tus + ingest + the project websocket)."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest

from tests.browser_support import sign_in

pytestmark = pytest.mark.browser

PROJECT_PAGE = "/s/demo/p/DEMO_S1/"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"  # git-ignored: screenshots to look at


def _make_clip(path, seconds: int, colour_source: str) -> None:
    # Noise keeps the encoder from squeezing it: a few MB, many small chunks at the throttled speed.
    subprocess.run(
        [
            "ffmpeg", "-v", "error", "-nostdin", "-y",
            "-f", "lavfi", "-i", f"{colour_source}=size=640x360:rate=25:duration={seconds},noise=alls=16:allf=t",
            "-c:v", "mpeg4", "-q:v", "8", str(path),
        ],
        check=True,
        timeout=120,
    )  # fmt: skip


def _api_assets(page) -> list[dict]:
    """The project's assets through the API, with the browser's own session."""
    project_id = page.locator("[data-live-project]").first.get_attribute("data-live-project")
    origin = page.evaluate("() => window.location.origin")
    response = page.request.get(f"{origin}/api/v1/projects/{project_id}/assets/")
    assert response.ok, response.text()
    return response.json()["results"]


def _offsets(page) -> dict[str, tuple[int, int]]:
    return page.evaluate(
        """() => Object.fromEntries((window.portalUppy?.getFiles() || []).map(
            f => [f.name, [f.progress.bytesUploaded || 0, f.size]]))"""
    )


def test_upload_two_files_reload_midway_resume_and_watch_them_become_playable(portal_server, new_page, tmp_path):
    first, second = tmp_path / "take_one.avi", tmp_path / "take_two.avi"
    _make_clip(first, 6, "testsrc2")
    _make_clip(second, 6, "smptebars")
    sizes = {first.name: first.stat().st_size, second.name: second.stat().st_size}
    assert min(sizes.values()) > 1024 * 1024, sizes  # several 256 KiB chunks each (TUS_BROWSER_CHUNK_SIZE in conftest)

    page = new_page()
    sign_in(page, portal_server, "artist@demo.test")
    page.goto(portal_server.url(PROJECT_PAGE))
    before = {a["id"] for a in _api_assets(page)}

    # A slow link, so the reload really lands in the middle of both uploads.
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 5, "downloadThroughput": -1, "uploadThroughput": 1024 * 1024},
    )
    page.wait_for_function("() => window.portalUppy !== undefined")
    page.locator("input.uppy-Dashboard-input").first.set_input_files([str(first), str(second)])
    page.get_by_role("button", name=re.compile(r"^Upload \d+ files?", re.I)).click()
    # Past the first 256 KiB chunk of each file: the server has acknowledged at least one chunk.
    page.wait_for_function(
        """() => (window.portalUppy.getFiles()).every(f => (f.progress.bytesUploaded || 0) > 300000)""", timeout=30000
    )
    midway = _offsets(page)
    assert all(0 < done < total for done, total in midway.values()), midway

    # Reload mid-upload: the uploads on the server stay where they were.
    page.reload()
    page.wait_for_function("() => window.portalUppy !== undefined")
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 5, "downloadThroughput": -1, "uploadThroughput": 8 * 1024 * 1024},
    )
    in_progress = [a for a in _api_assets(page) if a["id"] not in before]
    assert len(in_progress) == 2 and all(a["latest_version"]["status"] == "uploading" for a in in_progress)

    # Resume: the person picks the same files again; tus finds the uploads on the server by
    # fingerprint and goes on from their offsets.
    page.locator("input.uppy-Dashboard-input").first.set_input_files([str(first), str(second)])
    page.wait_for_function("() => window.portalUppy.getFiles().length === 2")
    resumed_from = {}

    def on_request(request):
        if request.method == "PATCH" and "/api/v1/uploads/" in request.url:
            resumed_from.setdefault(request.url, int(request.headers.get("upload-offset", "0")))

    page.on("request", on_request)
    page.evaluate("() => window.portalUppy.upload()")

    # Both become ready and playable without another reload: the table updates live.
    rows = page.locator("[data-asset-list] tr[data-asset-id]")
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        statuses = rows.evaluate_all("rows => rows.map(r => r.dataset.status)")
        if statuses.count("ready") >= 2:
            break
        page.wait_for_timeout(300)
    statuses = rows.evaluate_all("rows => rows.map(r => r.dataset.status)")
    assert statuses.count("ready") >= 2, (statuses, portal_server.log()[-3000:])

    # Exactly two new assets (a resume, not a second upload), each the right size, each resumed mid-file.
    assets = [a for a in _api_assets(page) if a["id"] not in before]
    assert len(assets) == 2, assets
    by_name = {a["name"]: a["latest_version"] for a in assets}
    assert {name: v["size"] for name, v in by_name.items()} == sizes
    assert all(v["status"] == "ready" for v in by_name.values())
    assert resumed_from and all(offset > 0 for offset in resumed_from.values()), resumed_from

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "project-footage.png"), full_page=True)

    # Playable: the asset page's player loads the proxy.
    page.locator("[data-asset-list] a", has_text=first.name).click()
    video = page.locator("video[data-player]")
    video.wait_for()
    page.wait_for_function("() => document.querySelector('video[data-player]').readyState >= 1", timeout=20000)
    duration = page.evaluate("() => document.querySelector('video[data-player]').duration")
    assert 5.5 < duration < 6.5
    page.screenshot(path=str(ARTIFACTS / "asset-page.png"), full_page=True)


def test_a_rejected_file_shows_its_reason_in_the_page(portal_server, new_page, tmp_path):
    bogus = tmp_path / "notes.mov"
    bogus.write_text("Definitely not a movie.\n" * 100)
    page = new_page()
    sign_in(page, portal_server, "artist@demo.test")
    page.goto(portal_server.url(PROJECT_PAGE))
    page.wait_for_function("() => window.portalUppy !== undefined")
    page.locator("input.uppy-Dashboard-input").first.set_input_files([str(bogus)])
    page.get_by_role("button", name=re.compile(r"^Upload \d+ files?", re.I)).click()
    row = page.locator("[data-asset-list] tr[data-asset-id]", has_text="notes.mov").first
    row.locator("[data-version-status='rejected']").wait_for(timeout=30000)
    assert "text" in row.inner_text().lower()
