"""End to end, as a person uses it: a real ASGI server, a real browser, real email output."""

from __future__ import annotations

import json
import re
import time
import urllib.request

import pytest

from tests.browser_support import DEMO_PASSWORD, sign_in

pytestmark = pytest.mark.browser


def _get_json(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=15) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_server_runs_jobs_on_a_real_worker(portal_server):
    status, body = _get_json(portal_server.url("/healthz?deep=1"))
    assert status == 200, body
    assert body["mode"] == portal_server.mode
    assert body["worker"] == "pong"


def test_demo_logins_work_and_land_on_the_studio(portal_server, new_page):
    page = new_page()
    sign_in(page, portal_server, "producer@demo.test")
    assert page.url.endswith("/s/demo/"), page.url
    assert page.get_by_text("DEMO_S1").first.is_visible()
    page.goto(portal_server.url("/s/demo/p/DEMO_S1/"))
    assert page.get_by_text("producer@demo.test").first.is_visible()


def _wait_for_new_link(portal_server, known: set[str], timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        fresh = [link for link in portal_server.invitation_links() if link not in known]
        if fresh:
            return fresh[-1]
        time.sleep(0.2)
    raise AssertionError("no invitation email appeared in the server output")


def test_studio_admin_invites_a_partner_who_joins_the_project(portal_server, new_page):
    known = set(portal_server.invitation_links())
    admin = new_page()
    sign_in(admin, portal_server, "admin@demo.test")
    admin.goto(portal_server.url("/s/demo/"))
    form = admin.locator("form", has=admin.get_by_label(re.compile("^email", re.I)))
    form.get_by_label(re.compile("^email", re.I)).fill("new.partner@partner.test")
    project_select = form.get_by_label(re.compile("add to project", re.I))
    value = project_select.locator("option", has_text="DEMO_S1").get_attribute("value")
    project_select.select_option(value)
    form.get_by_label(re.compile("project role", re.I)).select_option("artist")
    form.get_by_role("button", name=re.compile("invite|send", re.I)).click()
    admin.wait_for_load_state("networkidle")
    assert admin.get_by_text(re.compile("Invitation sent to new.partner@partner.test")).is_visible()

    link = _wait_for_new_link(portal_server, known)
    newcomer = new_page()
    newcomer.goto(link)
    newcomer.get_by_label(re.compile("your name", re.I)).fill("Nina Newcomer")
    newcomer.get_by_label(re.compile("choose a password", re.I)).fill("a-long-unusual-passphrase-42")
    newcomer.get_by_label(re.compile("repeat", re.I)).fill("a-long-unusual-passphrase-42")
    newcomer.get_by_role("button", name=re.compile("accept|join", re.I)).click()
    newcomer.wait_for_load_state("networkidle")
    assert newcomer.url.endswith("/s/demo/"), newcomer.url

    newcomer.goto(portal_server.url("/s/demo/p/DEMO_S1/"))
    row = newcomer.locator("tr", has_text="new.partner@partner.test")
    assert re.search("artist", row.inner_text(), re.I)

    # The link is single use: a second visit explains, it does not sign anyone in.
    again = new_page()
    response = again.goto(link)
    assert response.status == 410
    assert again.get_by_role("heading", name=re.compile("already used", re.I)).is_visible()

    # And the studio admin sees it all on the audit page.
    admin.goto(portal_server.url("/s/demo/audit/?action=invitation."))
    body = admin.locator("main").inner_text()
    assert "invitation.accept" in body and "invitation.send" in body


def test_project_websocket_admits_members_only(portal_server, new_page):
    page = new_page()
    sign_in(page, portal_server, "viewer@demo.test")
    projects = page.request.get(portal_server.url("/api/v1/projects/")).json()["results"]
    project_id = next(p["id"] for p in projects if p["code"] == "DEMO_S1")
    script = """async (url) => await new Promise((resolve) => {
        const ws = new WebSocket(url);
        const timer = setTimeout(() => resolve({timeout: true}), 8000);
        ws.onmessage = (e) => { clearTimeout(timer); resolve({message: JSON.parse(e.data)}); ws.close(); };
        ws.onclose = (e) => { clearTimeout(timer); resolve({closed: e.code}); };
    })"""
    ws_url = portal_server.url(f"/ws/projects/{project_id}/").replace("http://", "ws://")
    assert page.evaluate(script, ws_url) == {"message": {"type": "hello", "project": project_id}}

    # Signed out: the same socket is refused before it opens.
    stranger = new_page()
    stranger.goto(portal_server.url("/account/sign-in/"))
    result = stranger.evaluate(script, ws_url)
    assert "message" not in result, result


def test_pages_speak_french(portal_server, new_page):
    page = new_page(locale="fr-FR")
    page.goto(portal_server.url("/account/sign-in/"))
    assert page.locator("html").get_attribute("lang") == "fr"
    assert page.get_by_role("button", name=re.compile("se connecter", re.I)).is_visible()


def test_five_wrong_passwords_lock_the_account(portal_server, new_page):
    # The lock also holds for this browser's address (127.0.0.1) for 15 minutes: lifted at the end,
    # as an operator would, so the other browser tests of the session can still sign in.
    page = new_page()
    try:
        for _ in range(5):
            sign_in(page, portal_server, "director@demo.test", "not-the-password")
            assert page.get_by_text(re.compile("not right|locked", re.I)).first.is_visible()
        sign_in(page, portal_server, "director@demo.test", DEMO_PASSWORD)
        assert "/account/sign-in/" in page.url
        assert page.get_by_text(re.compile("locked", re.I)).first.is_visible()
    finally:
        portal_server.manage("axes_reset")
