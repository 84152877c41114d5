"""The studio settings page in a real browser: a studio admin sees the model providers platform staff
configured, each with what it promises (retention, training, region, terms and a link), allows one,
makes it a tool's default, and withdraws it again; each step lands in the audit log."""

from __future__ import annotations

import json
import re

import pytest

from tests.browser_support import sign_in

pytestmark = [pytest.mark.browser]

AUDIT = """
import json
from portal.audit.models import AuditEvent
from portal.providers.models import AllowedProvider, ToolProviderDefault
rows = AuditEvent.objects.filter(action__startswith="ai_").order_by("seq")
print(json.dumps({
    "audit": [[e.action, e.details.get("provider"), e.details.get("tool")] for e in rows],
    "allowed": list(AllowedProvider.objects.values_list("provider", flat=True)),
    "defaults": list(ToolProviderDefault.objects.values_list("tool", "provider", "model")),
}))
"""


def state(portal_server) -> dict:
    return json.loads(portal_server.manage("shell", "-c", AUDIT).strip().splitlines()[-1])


def test_studio_admin_sees_providers_and_their_promises_and_allows_one(portal_server, new_page):
    page = new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, portal_server, "admin@demo.test")
    page.goto(portal_server.url("/s/demo/"))
    page.get_by_role("link", name="Model providers").click()
    section = page.locator("#ai-providers")
    section.get_by_role("heading", name="Model providers").wait_for()

    bedrock = section.locator("article[data-provider='bedrock-eu']")
    anthropic = section.locator("article[data-provider='anthropic']")
    assert bedrock.get_by_role("heading").inner_text() == "Claude on AWS Bedrock (Frankfurt)"
    assert "Region eu-central-1" in bedrock.inner_text() and "Not allowed" in bedrock.inner_text()
    assert bedrock.locator(".promise-retention").inner_text() == "Not stored by the provider after the request"
    assert bedrock.locator(".promise-training").inner_text() == "Not used for training"
    assert bedrock.locator(".promise-region").inner_text() == "Frankfurt, EU (eu-central-1)"
    assert bedrock.locator(".promise-text").inner_text() == "Processed in the studio's own AWS account."
    assert (
        bedrock.get_by_role("link", name="The provider's own terms").get_attribute("href") == "https://example.com/bedrock-terms"
    )
    assert anthropic.locator(".promise-retention").inner_text() == "Inputs and outputs deleted after 30 days"
    assert "sk-ant-browser-test" not in page.content() and "AKIAIOSFODNN7EXAMPLE" not in page.content()
    # nothing allowed yet: no defaults to choose
    assert section.locator("form.tool-default").count() == 0

    bedrock.get_by_role("button", name=re.compile("^Allow")).click()
    page.wait_for_load_state("networkidle")
    page.get_by_text("Claude on AWS Bedrock (Frankfurt) is allowed for this studio.").wait_for()
    bedrock = page.locator("#ai-providers article[data-provider='bedrock-eu']")
    assert "Allowed by admin@demo.test" in bedrock.inner_text()
    assert bedrock.locator(".provider-allowed").count() == 1
    assert page.locator("#ai-providers article[data-provider='anthropic'] .provider-not-allowed").count() == 1

    recap = page.locator("form.tool-default[data-tool='recap']")
    recap.get_by_label("Recap").select_option("bedrock-eu|claude-sonnet-4-6")
    recap.get_by_role("button", name=re.compile("Save")).click()
    page.wait_for_load_state("networkidle")
    page.get_by_text("Default model provider for recap saved.").wait_for()
    assert page.locator("#default-recap").input_value() == "bedrock-eu|claude-sonnet-4-6"
    assert state(portal_server)["defaults"] == [["recap", "bedrock-eu", "claude-sonnet-4-6"]]

    # withdrawn again (the demo studio is shared with the other browser tests): its default goes with it
    page.locator("#ai-providers article[data-provider='bedrock-eu']").get_by_role(
        "button", name=re.compile("Stop allowing")
    ).click()
    page.wait_for_load_state("networkidle")
    page.get_by_text("Claude on AWS Bedrock (Frankfurt) is no longer allowed for this studio.").wait_for()
    found = state(portal_server)
    assert found["allowed"] == [] and found["defaults"] == []
    assert found["audit"] == [
        ["ai_provider.allow", "bedrock-eu", None],
        ["ai_tool_default.set", "bedrock-eu", "recap"],
        ["ai_provider.disallow", "bedrock-eu", None],
    ]
