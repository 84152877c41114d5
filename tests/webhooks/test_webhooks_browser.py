"""The webhooks section in a real browser: the demo studio admin opens the project page, registers an
endpoint (a real HTTP receiver on 127.0.0.1 in this test process), copies the secret shown once,
presses "Send test event" and sees the delivery succeed in the log; the receiver got the event
signed with that secret. Then the secret is rotated (the confirm dialog accepted) and the next
test event carries both signatures. The portal server runs in development mode, where loopback
endpoints are allowed; its worker (in-process, or the Celery worker in services mode) delivers."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from portal.webhooks import signing
from tests.browser_support import sign_in
from tests.webhooks.receiver import Receiver

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PROJECT_PAGE = "/s/demo/p/DEMO_S1/"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"  # git-ignored: screenshots to look at


@pytest.fixture
def live_receiver():
    r = Receiver([200]).start()
    yield r
    r.stop()


def _wait_for_state(page, state: str, tries: int = 60) -> None:
    for _ in range(tries):
        if page.locator(f"article.webhook-delivery[data-state='{state}']").count():
            return
        page.wait_for_timeout(500)
        page.reload()
    raise AssertionError(f"no delivery reached {state!r}: {page.locator('article.webhook-delivery').first.inner_text()}")


def test_register_endpoint_send_test_event_and_rotate(portal_server, new_page, live_receiver):
    page = new_page()
    sign_in(page, portal_server, "admin@demo.test")
    page.goto(portal_server.url(PROJECT_PAGE))
    section = page.locator("section#webhooks")
    section.scroll_into_view_if_needed()
    assert "Webhooks" in section.locator("h2").inner_text()

    # bad input first: a clear message, nothing registered
    section.get_by_label("Endpoint URL").fill("ftp://nowhere.example/hook")
    section.get_by_role("button", name="Add endpoint").click()
    page.wait_for_load_state("networkidle")
    assert "The endpoint was not registered" in page.content()
    assert (
        page.locator("table.webhook-endpoints").count() == 0
        or "ftp://" not in page.locator("table.webhook-endpoints").inner_text()
    )

    section = page.locator("section#webhooks")
    section.get_by_label("Endpoint URL").fill(live_receiver.url)
    section.get_by_label("Description").fill("Compositing pipeline")
    section.get_by_label(re.compile("Tool run finished")).uncheck()
    section.get_by_role("button", name="Add endpoint").click()
    secret = page.locator("#webhook-secret").input_value()
    assert secret.startswith("whsec_")
    assert "shown this once" in page.content()

    page.get_by_role("button", name="I have copied it").click()
    row = page.locator("table.webhook-endpoints tr", has_text=live_receiver.url)
    assert secret[:10] in row.inner_text() and secret not in page.content()
    assert "Tool run finished" not in row.inner_text() and "Note added" in row.inner_text()

    row.get_by_role("button", name=re.compile("Send test event")).click()
    page.wait_for_url(re.compile(r"/webhooks/\d+/deliveries/"))
    (request,) = live_receiver.wait_for(1, timeout=60)
    signing.verify(secret, request.headers[signing.SIGNATURE_HEADER], request.body)
    assert json.loads(request.body)["type"] == "webhook.test"
    _wait_for_state(page, "succeeded")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "webhooks-delivery-log.png"), full_page=True)
    delivery = page.locator("article.webhook-delivery").first
    assert "webhook.test" in delivery.inner_text() and "HTTP 200" in delivery.inner_text()

    # rotate: the confirm dialog is accepted, a new secret is shown once, both sign for the grace window
    page.goto(portal_server.url(PROJECT_PAGE) + "#webhooks")
    page.locator("section#webhooks").screenshot(path=str(ARTIFACTS / "webhooks-section.png"))
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("table.webhook-endpoints tr", has_text=live_receiver.url).get_by_role(
        "button", name=re.compile("Rotate secret")
    ).click()
    new_secret = page.locator("#webhook-secret").input_value()
    assert new_secret.startswith("whsec_") and new_secret != secret
    assert "two signatures" in page.content()
    page.get_by_role("button", name="I have copied it").click()
    page.locator("table.webhook-endpoints tr", has_text=live_receiver.url).get_by_role(
        "button", name=re.compile("Send test event")
    ).click()
    _first, second = live_receiver.wait_for(2, timeout=60)
    header = second.headers[signing.SIGNATURE_HEADER]
    assert header.count("v1=") == 2
    signing.verify(new_secret, header, second.body)
    signing.verify(secret, header, second.body)
