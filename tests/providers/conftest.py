"""Model-provider fixtures: the providers platform staff configure (through the environment, as in
production), a scripted endpoint the real SDK clients reach through an httpx2 MockTransport, and
the tool-run fixtures of tests/toolruns."""

from __future__ import annotations

import json

import httpx2
import pytest

from tests.footage.conftest import world_tx  # noqa: F401
from tests.studio_tools.test_ai_providers import CONFIG, ENV, FAKE_AWS, message
from tests.toolruns.conftest import TEST_TOOL_PACKAGES, clip_version, dispatched, lavfi_clip  # noqa: F401

PROVIDERS = {p["id"]: p for p in CONFIG["providers"]}
HOSTS = {
    "anthropic": "api.anthropic.com",
    "bedrock-eu": "bedrock-runtime.eu-central-1.amazonaws.com",
    "vertex-eu": "europe-west1-aiplatform.googleapis.com",
}


class Endpoint:
    """Every provider's endpoint at once: answers each request with a message, keeps them all."""

    def __init__(self) -> None:
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        request.read()
        self.requests.append(request)
        return httpx2.Response(200, json=message("A plate of the harbour."), headers={"request-id": f"req_{len(self.requests)}"})

    def client(self) -> httpx2.Client:
        return httpx2.Client(transport=httpx2.MockTransport(self))


@pytest.fixture
def providers_env(monkeypatch):
    for name, value in {**ENV, **FAKE_AWS}.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_BEARER_TOKEN_BEDROCK", "ANTHROPIC_BEDROCK_BASE_URL",
                 "ANTHROPIC_VERTEX_BASE_URL", "ANTHROPIC_BASE_URL", "AI_PROVIDERS_FILE"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    return json.loads(ENV["AI_PROVIDERS"])


@pytest.fixture
def endpoint(monkeypatch) -> Endpoint:
    """Where any request of any provider lands: the SDK clients get this transport."""
    found = Endpoint()
    monkeypatch.setattr("studio_tools.ai.call.http_client_factory", found.client)
    return found


@pytest.fixture(autouse=True)
def _tools(settings, tmp_path):
    settings.TOOLRUNS_EXTRA_TOOL_PACKAGES = [*TEST_TOOL_PACKAGES, "tests.providers.tool_ask"]
    settings.FOOTAGE_TEMP_DIR = str(tmp_path / "scratch")
    settings.TOOLRUN_LEASE_SECONDS = 600
    (tmp_path / "scratch").mkdir()
