"""The second opinion through the real `anthropic` SDK, against a mock HTTP transport (no network).

anthropic 2.x sends its requests through httpx2, so the mock is an `httpx2.MockTransport` handed to the
SDK as `http_client`; everything above the transport (request building, retries, response parsing)
is the SDK's own code.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import cv2
import httpx2
import numpy as np
import pytest

from studio_tools.continuity import ContinuityTool
from studio_tools.continuity import synthetic as synth
from studio_tools.continuity.frames import Frame
from studio_tools.continuity.second_opinion import MAX_LONG_SIDE, PairToAsk, downscale, parse_answer, second_opinion
from studio_tools.core import ToolInput, run_tool

KEY = {"ANTHROPIC_API_KEY": "sk-test-not-a-real-key"}


def message(text: str) -> dict:
    return {
        "id": "msg_test",
        "type": "message",
        "role": "assistant",
        "model": "claude-test",
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 1200, "output_tokens": 80},
    }


def finding(**overrides) -> dict:
    base = {
        "type": "prop",
        "outgoing_frame": 0,
        "incoming_frame": 0,
        "outgoing_box": [0.1, 0.2, 0.1, 0.1],
        "incoming_box": [0.1, 0.2, 0.1, 0.1],
        "confidence": 0.7,
        "explanation": "The cup on the shelf is gone.",
    }
    return {**base, **overrides}


class FakeAPI:
    """Answers /v1/messages from a list of (status, body, headers), one per request, and keeps the requests."""

    def __init__(self, *answers) -> None:
        self.answers = list(answers)
        self.requests: list[dict] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        assert request.url.path == "/v1/messages"
        # the key, as this SDK version sends it (older ones used x-api-key)
        sent_key = request.headers.get("x-api-key") or request.headers.get("authorization", "").removeprefix("Bearer ")
        assert sent_key == KEY["ANTHROPIC_API_KEY"]
        self.requests.append(json.loads(request.content))
        status, body, headers = self.answers.pop(0)
        return httpx2.Response(status, json=body, headers=headers)

    def client(self) -> httpx2.Client:
        return httpx2.Client(transport=httpx2.MockTransport(self))


def ok(text: str):
    return (200, message(text), {})


@pytest.fixture(scope="module")
def stills(tmp_path_factory):
    folder = tmp_path_factory.mktemp("continuity-ai")
    pair = synth.make_pair(31, "prop_removed")
    return synth.write_still(folder / "a.png", pair.outgoing), synth.write_still(folder / "b.png", pair.incoming)


def run(stills, tmp_path: Path, api: FakeAPI | None, environ: dict, **params):
    tool = ContinuityTool(http_client=api.client() if api else None, environ=environ)
    inputs = [ToolInput(path, "still", metadata={"original_name": path.name}) for path in stills]
    return run_tool(tool, inputs, params, tmp_path / "w").result.report


def test_good_answer_becomes_model_findings_kept_apart(stills, tmp_path):
    api = FakeAPI(ok(json.dumps({"findings": [finding()]})))
    report = run(stills, tmp_path, api, KEY, external_ai=True, ai_model="claude-test-model")
    measured = [f for f in report["findings"] if f["source"] == "measured"]
    model = [f for f in report["findings"] if f["source"] == "model"]
    assert [(f["id"], f["type"]) for f in measured] == [("M1", "prop")]
    assert len(model) == 1
    (m,) = model
    assert (m["id"], m["type"], m["check"], m["model"], m["measured"]) == (
        "A1",
        "prop",
        "second_opinion",
        "claude-test-model",
        None,
    )
    assert m["explanation"].startswith("Model's opinion: ")
    assert m["outgoing"]["box"] == {"x": 0.1, "y": 0.2, "w": 0.1, "h": 0.1} and m["incoming"]["frame"] == 0
    opinion = report["second_opinion"]
    assert opinion["ran"] and opinion["requests"] == 1 and opinion["accepted"] == 1 and not opinion["rejected"]
    assert opinion["frames_sent"] == [
        {"pair": 0, "input": 0, "name": "a.png", "frame": 0},
        {"pair": 0, "input": 1, "name": "b.png", "frame": 0},
    ]
    assert "not measurements" in opinion["status"]
    assert report["summary"]["model_findings"] == 1 and report["summary"]["measured_findings"] == 1

    (request,) = api.requests
    assert request["model"] == "claude-test-model"
    assert request["output_config"]["format"]["type"] == "json_schema"
    images = [block for block in request["messages"][0]["content"] if block["type"] == "image"]
    assert len(images) == 2 and all(i["source"]["media_type"] == "image/jpeg" for i in images)
    texts = " ".join(b["text"] for b in request["messages"][0]["content"] if b["type"] == "text")
    assert "'a.png', frame 0" in texts and "'b.png', frame 0" in texts


def test_malformed_json_is_rejected_and_the_run_goes_on(stills, tmp_path):
    api = FakeAPI(ok('{"findings": [ {"type": "prop", '))
    report = run(stills, tmp_path, api, KEY, external_ai=True)
    assert [f["source"] for f in report["findings"]] == ["measured"]
    (rejected,) = report["second_opinion"]["rejected"]
    assert "not valid JSON" in rejected["reason"]
    assert report["second_opinion"]["accepted"] == 0


def test_finding_on_a_frame_that_was_not_sent_is_rejected(stills, tmp_path):
    answer = {"findings": [finding(incoming_frame=999), finding(type="lighting", outgoing_box=None, incoming_box=None)]}
    report = run(stills, tmp_path, FakeAPI(ok(json.dumps(answer))), KEY, external_ai=True)
    model = [f for f in report["findings"] if f["source"] == "model"]
    assert [(f["id"], f["type"]) for f in model] == [("A1", "lighting")]
    (rejected,) = report["second_opinion"]["rejected"]
    assert "refers to a frame that was not sent: incoming frame 999 (sent: 0)" in rejected["reason"]


def test_rate_limit_is_retried_then_succeeds(stills, tmp_path):
    limited = {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}
    api = FakeAPI((429, limited, {"retry-after-ms": "10"}), ok(json.dumps({"findings": [finding(type="costume")]})))
    report = run(stills, tmp_path, api, KEY, external_ai=True)
    assert len(api.requests) == 2
    assert report["second_opinion"]["requests"] == 1 and not report["second_opinion"]["errors"]
    assert [f["type"] for f in report["findings"] if f["source"] == "model"] == ["costume"]


def test_persistent_server_error_is_reported_not_fatal(stills, tmp_path):
    overloaded = {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}
    api = FakeAPI(*[(529, overloaded, {"retry-after-ms": "1"})] * 4)
    report = run(stills, tmp_path, api, KEY, external_ai=True)
    assert len(api.requests) == 4  # the first try and the SDK's three retries
    (error,) = report["second_opinion"]["errors"]
    assert error.startswith("pair 1: the API answered 529 (") and "overloaded_error" in error
    assert [f["source"] for f in report["findings"]] == ["measured"]


def test_no_key_means_no_model_and_an_honest_report(stills, tmp_path):
    api = FakeAPI()  # any request would fail: it has no answers
    report = run(stills, tmp_path, api, {}, external_ai=True)
    assert api.requests == []
    assert report["second_opinion"]["ran"] is False
    assert report["second_opinion"]["status"].startswith(
        "Not run: external AI was allowed, but no API key is set (ANTHROPIC_API_KEY)"
    )
    assert all(f["source"] == "measured" for f in report["findings"])


def test_not_allowed_means_no_model_even_with_a_key(stills, tmp_path):
    api = FakeAPI()
    report = run(stills, tmp_path, api, KEY)  # external_ai defaults to off
    assert api.requests == []
    assert report["second_opinion"]["status"].startswith("Not run: external AI was not requested")
    page = (tmp_path / "w" / "out" / "report.html").read_text()
    assert "Not run: external AI was not requested" in page


def test_big_frames_are_downscaled_to_1568_and_models_come_from_env():
    big = np.zeros((1200, 2400, 3), np.uint8)
    big[:, :1200] = 200
    pair = PairToAsk(0, Frame(0, "a.mov", 10, 0.4, None, big, "tail"), Frame(1, "b.mov", 0, 0.0, None, big, "head"))
    api = FakeAPI(ok('```json\n{"findings": []}\n```'))
    opinion = second_opinion(
        [pair], allowed=True, environ={**KEY, "CONTINUITY_AI_MODEL": "claude-from-env"}, http_client=api.client()
    )
    assert opinion.ran and opinion.model == "claude-from-env" and opinion.findings == [] and opinion.rejected == []
    (request,) = api.requests
    assert request["model"] == "claude-from-env"
    for block in (b for b in request["messages"][0]["content"] if b["type"] == "image"):
        decoded = cv2.imdecode(np.frombuffer(base64.b64decode(block["source"]["data"]), np.uint8), cv2.IMREAD_COLOR)
        assert decoded.shape[:2] == (784, MAX_LONG_SIDE)
    assert downscale(big[:100, :200]).shape == (100, 200, 3)  # never enlarged


def test_parse_answer_checks_every_finding_on_its_own():
    image = np.zeros((10, 10, 3), np.uint8)
    pair = PairToAsk(3, Frame(0, "a", 5, None, None, image, "tail"), Frame(1, "b", 0, None, None, image, "head"))
    answer = {
        "findings": [
            finding(outgoing_frame=5),
            finding(outgoing_frame=5, type="weather"),
            finding(outgoing_frame=5, outgoing_box=[0.9, 0.9, 0.5, 0.5]),
            finding(outgoing_frame=5, confidence=3),
        ]
    }
    parsed = parse_answer(json.dumps(answer), pair, "m")
    assert [item.get("source") for item in parsed] == ["model", None, None, None]
    reasons = [item["reason"] for item in parsed[1:]]
    assert reasons[0].startswith("pair 4, finding 2: type: ")
    assert "box outside the frame" in reasons[1]
    assert reasons[2].startswith("pair 4, finding 4: confidence: ")
    assert parse_answer('{"verdict": "fine"}', pair, "m")[0]["reason"] == "pair 4: the answer had no list of findings"
