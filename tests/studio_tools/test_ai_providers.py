"""The provider seam (studio_tools/ai) against each provider's real SDK client over an httpx2 MockTransport:
good answers with their provenance, API errors, 429 throttling, malformed answers, the region's
endpoint and its authentication (SigV4 for Bedrock, a bearer token for Vertex and the Anthropic API),
and a provider outside the run's policy refused before any request is made."""

from __future__ import annotations

import json

import anthropic
import httpx2
import pytest

from studio_tools import ai
from studio_tools.ai import call as ai_call

CONFIG = {
    "providers": [
        {
            "id": "anthropic",
            "kind": "anthropic",
            "label": "Anthropic API",
            "region": "us",
            "api_key_env": "TEST_ANTHROPIC_KEY",
            "promises": {"retention": "30 days", "training": "Never trained on", "link": "https://example.com/anthropic"},
        },
        {
            "id": "bedrock-eu",
            "kind": "bedrock",
            "label": "Claude on Bedrock (Frankfurt)",
            "region": "eu-central-1",
            "models": {"claude-sonnet-4-6": "eu.anthropic.claude-sonnet-4-6-v1:0"},
            "price_factor": 1.1,
        },
        {
            "id": "vertex-eu",
            "kind": "vertex",
            "label": "Claude on Vertex AI (Belgium)",
            "region": "europe-west1",
            "project_id": "studio-ai-test",
            "access_token_env": "TEST_VERTEX_TOKEN",
            "models": {"claude-sonnet-4-6": "claude-sonnet-4-6@default"},
        },
    ]
}
ENV = {
    "AI_PROVIDERS": json.dumps(CONFIG),
    "TEST_ANTHROPIC_KEY": "sk-ant-test-not-real",
    "TEST_VERTEX_TOKEN": "ya29.test-token-not-real",
}
FAKE_AWS = {"AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}


def message(text: str, *, input_tokens=1000, output_tokens=200, id_="msg_01") -> dict:
    return {
        "id": id_,
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-6",
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
    }


class Provider:
    """A scripted provider endpoint: answers each request with the next response, keeps every request."""

    def __init__(self, *responses: httpx2.Response) -> None:
        self.responses = list(responses)
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        request.read()
        self.requests.append(request)
        return self.responses.pop(0)

    def client(self) -> httpx2.Client:
        return httpx2.Client(transport=httpx2.MockTransport(self))


@pytest.fixture
def env(monkeypatch):
    for name, value in {**ENV, **FAKE_AWS}.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_BEARER_TOKEN_BEDROCK", "ANTHROPIC_BEDROCK_BASE_URL",
                 "ANTHROPIC_VERTEX_BASE_URL", "ANTHROPIC_BASE_URL", "AI_PROVIDERS_FILE"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    return dict(ENV)


def ask(provider_id: str, server: Provider, *, max_retries: int = 0, model: str = "claude-sonnet-4-6"):
    session = ai.open_session(provider_id, model=model, http_client=server.client(), max_retries=max_retries)
    answer = ai.complete(session, system="Be brief.", messages=[{"role": "user", "content": "Hello"}], max_tokens=64)
    return session, answer


# --- good answers, where they went and how they were authenticated ------------------------------------


def test_anthropic_api_good_answer_records_provenance(env):
    server = Provider(httpx2.Response(200, json=message("Hi."), headers={"request-id": "req_anthropic_1"}))
    session, answer = ask("anthropic", server)
    (request,) = server.requests
    assert request.url.host == "api.anthropic.com" and request.url.path == "/v1/messages"
    sent_key = request.headers.get("x-api-key") or request.headers.get("authorization", "").removeprefix("Bearer ")
    assert sent_key == "sk-ant-test-not-real"
    assert json.loads(request.content)["model"] == "claude-sonnet-4-6"
    assert answer.text == "Hi."
    call = answer.call
    assert (call.provider, call.kind, call.region, call.model) == ("anthropic", "anthropic", "us", "claude-sonnet-4-6")
    assert call.request_id == "req_anthropic_1" and call.message_id == "msg_01"
    assert (call.input_tokens, call.output_tokens) == (1000, 200)
    assert call.cost_usd == pytest.approx((1000 * 3 + 200 * 15) / 1e6)
    summary = session.summary()
    assert summary["provider"] == "anthropic" and summary["request_ids"] == ["req_anthropic_1"]
    assert summary["cost_usd"] == pytest.approx(0.006)


def test_bedrock_request_is_sigv4_signed_and_goes_to_the_regions_endpoint(env):
    server = Provider(httpx2.Response(200, json=message("Hallo."), headers={"x-amzn-RequestId": "b7a1-request"}))
    session, answer = ask("bedrock-eu", server)
    (request,) = server.requests
    assert request.url.host == "bedrock-runtime.eu-central-1.amazonaws.com"
    assert request.url.path == "/model/eu.anthropic.claude-sonnet-4-6-v1:0/invoke"
    auth = request.headers["authorization"]
    assert auth.startswith("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/")
    assert "/eu-central-1/bedrock/aws4_request" in auth and "Signature=" in auth
    assert request.headers["x-amz-date"] and "SignedHeaders=" in auth
    body = json.loads(request.content)
    assert "model" not in body and body["anthropic_version"]  # the model is in the path
    call = answer.call
    assert (call.provider, call.kind, call.region) == ("bedrock-eu", "bedrock", "eu-central-1")
    assert call.provider_model == "eu.anthropic.claude-sonnet-4-6-v1:0" and call.model == "claude-sonnet-4-6"
    assert call.request_id == "b7a1-request"
    # the price factor platform staff set for this provider
    assert call.cost_usd == pytest.approx((1000 * 3 + 200 * 15) * 1.1 / 1e6)
    assert session.summary()["region"] == "eu-central-1"


def test_bedrock_signature_changes_with_the_body(env):
    """The signature covers the body: a request with other content carries another signature."""
    server = Provider(httpx2.Response(200, json=message("a")), httpx2.Response(200, json=message("b")))
    session = ai.open_session("bedrock-eu", model="claude-sonnet-4-6", http_client=server.client(), max_retries=0)
    for word in ("one", "two"):
        ai.complete(session, system="x", messages=[{"role": "user", "content": word}], max_tokens=8)
    first, second = (r.headers["authorization"].split("Signature=")[1] for r in server.requests)
    assert first != second


def test_vertex_uses_the_access_token_and_the_regions_endpoint(env):
    server = Provider(httpx2.Response(200, json=message("Bonjour.", id_="msg_vrtx_01")))
    session, answer = ask("vertex-eu", server)
    (request,) = server.requests
    assert request.url.host == "europe-west1-aiplatform.googleapis.com"
    assert request.url.path == (
        "/v1/projects/studio-ai-test/locations/europe-west1/publishers/anthropic/models/claude-sonnet-4-6@default:rawPredict"
    )
    assert request.headers["authorization"] == "Bearer ya29.test-token-not-real"
    assert answer.text == "Bonjour."
    call = answer.call
    assert (call.provider, call.kind, call.region) == ("vertex-eu", "vertex", "europe-west1")
    assert call.message_id == "msg_vrtx_01" and call.cost_usd == pytest.approx(0.006)


# --- errors, throttling, malformed answers -------------------------------------------------------------

ERRORS = {
    "anthropic": {"type": "error", "error": {"type": "invalid_request_error", "message": "bad request"}},
    "bedrock-eu": {"message": "The provided model identifier is invalid."},
    "vertex-eu": {"error": {"code": 400, "message": "Invalid argument", "status": "INVALID_ARGUMENT"}},
}


@pytest.mark.parametrize("provider_id", ["anthropic", "bedrock-eu", "vertex-eu"])
def test_api_error_is_raised_and_recorded(env, provider_id):
    server = Provider(httpx2.Response(400, json=ERRORS[provider_id], headers={"request-id": "req_err"}))
    session = ai.open_session(provider_id, model="claude-sonnet-4-6", http_client=server.client(), max_retries=2)
    with pytest.raises(anthropic.BadRequestError):
        ai.complete(session, system="x", messages=[{"role": "user", "content": "y"}], max_tokens=8)
    assert len(server.requests) == 1  # a 400 is not retried
    (call,) = session.calls
    assert call.status == "error" and call.http_status == 400 and call.request_id == "req_err" and call.cost_usd == 0.0
    assert session.summary()["failed_requests"] == 1


@pytest.mark.parametrize("provider_id", ["anthropic", "bedrock-eu", "vertex-eu"])
def test_throttling_is_retried_then_answered(env, provider_id):
    throttled = httpx2.Response(429, json={"message": "Too many requests"}, headers={"retry-after-ms": "5"})
    server = Provider(throttled, throttled, httpx2.Response(200, json=message("Finally.")))
    session, answer = ask(provider_id, server, max_retries=3)
    assert len(server.requests) == 3 and answer.text == "Finally."
    assert session.summary()["requests"] == 1 and session.summary()["failed_requests"] == 0


@pytest.mark.parametrize("provider_id", ["anthropic", "bedrock-eu", "vertex-eu"])
def test_throttling_that_does_not_end_is_a_clear_failure(env, provider_id):
    throttled = httpx2.Response(429, json={"message": "Too many requests"}, headers={"retry-after-ms": "5"})
    server = Provider(*[throttled] * 3)
    session = ai.open_session(provider_id, model="claude-sonnet-4-6", http_client=server.client(), max_retries=2)
    with pytest.raises(anthropic.RateLimitError) as raised:
        ai.complete(session, system="x", messages=[{"role": "user", "content": "y"}], max_tokens=8)
    assert raised.value.status_code == 429 and len(server.requests) == 3
    assert session.calls[0].http_status == 429 and "RateLimitError" in session.calls[0].error


@pytest.mark.parametrize("provider_id", ["anthropic", "bedrock-eu", "vertex-eu"])
@pytest.mark.parametrize(
    "answer",
    [
        httpx2.Response(200, content=b"<html>gateway</html>", headers={"content-type": "application/json"}),
        httpx2.Response(200, json={"unexpected": True}),
    ],
    ids=["not-json", "not-a-message"],
)
def test_malformed_answer_is_an_api_error(env, provider_id, answer):
    server = Provider(answer)
    session = ai.open_session(provider_id, model="claude-sonnet-4-6", http_client=server.client(), max_retries=0)
    with pytest.raises(anthropic.APIError):
        ai.complete(session, system="x", messages=[{"role": "user", "content": "y"}], max_tokens=8)
    assert session.calls[0].status == "error"


# --- what may be reached --------------------------------------------------------------------------------


def test_provider_outside_the_policy_is_refused_before_any_request(env, monkeypatch):
    server = Provider(httpx2.Response(200, json=message("never")))
    monkeypatch.setattr(ai_call, "http_client_factory", server.client)
    with ai.policy({"bedrock-eu"}, default="bedrock-eu", owner="Northlight"):
        with pytest.raises(ai.AIRefused, match="“anthropic” is not allowed for Northlight; nothing was sent"):
            ai.open_session("anthropic", model="claude-sonnet-4-6")
    assert server.requests == []


def test_nothing_allowed_keeps_the_local_path(env, monkeypatch):
    server = Provider(httpx2.Response(200, json=message("never")))
    monkeypatch.setattr(ai_call, "http_client_factory", server.client)
    with ai.policy(set(), owner="Northlight"), pytest.raises(ai.AIUnavailable, match="no model provider is allowed"):
        ai.open_session(None)
    assert server.requests == []


def test_policy_default_is_used_when_the_run_names_no_provider(env):
    server = Provider(httpx2.Response(200, json=message("ok")))
    with ai.policy({"anthropic", "vertex-eu"}, default="vertex-eu"):
        session = ai.open_session(None, model="claude-sonnet-4-6", http_client=server.client())
    assert session.provider.id == "vertex-eu"


def test_a_model_the_provider_does_not_offer_is_refused(env):
    with pytest.raises(ai.AIRefused, match="does not offer the model claude-opus-4-6"):
        ai.open_session("bedrock-eu", model="claude-opus-4-6")


def test_missing_credentials_are_unavailable_not_a_crash(env, monkeypatch):
    monkeypatch.delenv("TEST_ANTHROPIC_KEY")
    with pytest.raises(ai.AIUnavailable, match=r"no API key is set \(TEST_ANTHROPIC_KEY\)"):
        ai.open_session("anthropic")


def test_configuration_from_a_secrets_file(tmp_path, monkeypatch):
    secret = tmp_path / "providers.json"
    secret.write_text(json.dumps({"providers": [{**CONFIG["providers"][0], "api_key": "sk-from-file"}]}))
    monkeypatch.delenv("AI_PROVIDERS", raising=False)
    monkeypatch.setenv("AI_PROVIDERS_FILE", str(secret))
    (provider,) = ai.load_providers().values()
    assert provider.id == "anthropic" and provider.promises.retention == "30 days"
    assert "sk-from-file" not in repr(provider) and "sk-from-file" not in json.dumps(provider.public())


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ("{not json", "not valid JSON"),
        (json.dumps({"providers": [{"id": "x", "kind": "openai", "region": "us"}]}), "kind must be one of"),
        (json.dumps({"providers": [{"id": "b", "kind": "bedrock", "region": "eu-west-1"}]}), "must list its models"),
        (json.dumps({"providers": [{"id": "a", "kind": "anthropic"}]}), "region is required"),
        (json.dumps({"providers": [{"id": "a", "kind": "anthropic", "region": "us", "promises": {"link": "ftp://x"}}]}), "link"),
    ],
)
def test_bad_configuration_says_what_is_wrong(config, problem):
    with pytest.raises(ai.ProviderConfigError, match=problem):
        ai.load_providers({"AI_PROVIDERS": config})


def test_without_configuration_an_anthropic_key_is_the_one_provider():
    assert list(ai.load_providers({"ANTHROPIC_API_KEY": "sk-x"})) == ["anthropic"]
    assert ai.load_providers({}) == {}


# --- the shipped tools go through the seam ------------------------------------------------------------


def test_continuity_second_opinion_on_bedrock_records_where_it_went(env):
    import numpy as np

    from studio_tools.continuity.frames import Frame
    from studio_tools.continuity.second_opinion import FindingToAsk, second_opinion

    still = np.full((90, 160, 3), 120, np.uint8)
    item = FindingToAsk(
        {"id": "M1", "type": "lighting", "check": "exposure", "measured": {"value": 1.0, "unit": "stops", "threshold": 0.3}},
        Frame(0, "a.mov", 10, 0.4, None, still, "tail"),
        Frame(1, "b.mov", 0, 0.0, None, still, "head"),
    )
    answer = json.dumps({"verdict": "agree", "reason": "B is brighter."})
    server = Provider(httpx2.Response(200, json=message(answer), headers={"x-amzn-RequestId": "amzn-1"}))
    with ai.policy({"bedrock-eu"}, default="bedrock-eu"):
        opinion = second_opinion([item], allowed=True, model="claude-sonnet-4-6", http_client=server.client())
    (request,) = server.requests
    assert request.url.host == "bedrock-runtime.eu-central-1.amazonaws.com"
    assert request.headers["authorization"].startswith("AWS4-HMAC-SHA256 ")
    described = opinion.describe()
    assert described["verdicts"][0]["verdict"] == "agree"
    assert (described["ai"]["provider"], described["ai"]["region"], described["ai"]["request_ids"]) == (
        "bedrock-eu",
        "eu-central-1",
        ["amzn-1"],
    )
    assert "Claude on Bedrock (Frankfurt), eu-central-1" in opinion.status


def test_continuity_second_opinion_refuses_a_provider_outside_the_policy(env):
    import numpy as np

    from studio_tools.continuity.frames import Frame
    from studio_tools.continuity.second_opinion import FindingToAsk, second_opinion

    still = np.zeros((90, 160, 3), np.uint8)
    item = FindingToAsk(
        {"id": "M1", "type": "prop", "check": "x"}, Frame(0, "a", 0, 0, None, still, "t"), Frame(1, "b", 0, 0, None, still, "h")
    )
    server = Provider()
    with ai.policy({"bedrock-eu"}), pytest.raises(ai.AIRefused, match="nothing was sent"):
        second_opinion([item], allowed=True, provider="vertex-eu", http_client=server.client())
    assert server.requests == []


@pytest.mark.parametrize("answers", [["{not json", "ok"], ["{not json", "{still not", "[]"]], ids=["retried", "given-up"])
def test_recap_narration_on_vertex_retries_malformed_output_then_answers_or_falls_back(env, answers):
    from studio_tools.recap.narration import NarrationUnavailable, claude_narration
    from tests.studio_tools.test_recap_narration import CUES

    good = json.dumps({"sentences": [{"text": "Mara learns the ledger is gone.", "cues": ["e1c1"]}]})
    texts = [good if a == "ok" else a for a in answers]
    server = Provider(*[httpx2.Response(200, json=message(t)) for t in texts])
    session = ai.open_session("vertex-eu", model="claude-sonnet-4-6", http_client=server.client(), max_retries=0)
    options = {"model": "claude-sonnet-4-6", "sentences": 1, "language": "en", "target_seconds": 30, "sleep": lambda s: None}
    if answers[-1] == "ok":
        told = claude_narration(session, CUES, {"e1c1"}, **options)
        assert [s.text for s in told.sentences] == ["Mara learns the ledger is gone."]
        assert told.attempts[0].startswith("attempt 1: the answer was not valid JSON")
    else:
        with pytest.raises(NarrationUnavailable, match="no usable answer after 3 attempts"):
            claude_narration(session, CUES, {"e1c1"}, **options)
    assert {r.url.host for r in server.requests} == {"europe-west1-aiplatform.googleapis.com"}
    summary = session.summary()
    assert summary["provider"] == "vertex-eu" and summary["requests"] == len(texts)
