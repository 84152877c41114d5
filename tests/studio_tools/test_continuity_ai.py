"""The second opinion (agree / disagree with each measured finding) through the real `anthropic` SDK,
against a mock HTTP transport (no network).

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
from studio_tools.continuity.second_opinion import (
    MAX_LONG_SIDE,
    FindingToAsk,
    crop,
    downscale,
    parse_answer,
    second_opinion,
)
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


def verdict(v: str = "agree", reason: str = "The cup on the shelf is gone in B.") -> str:
    return json.dumps({"verdict": v, "reason": reason})


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


def test_the_model_agrees_or_disagrees_with_measured_findings_and_adds_none(stills, tmp_path):
    api = FakeAPI(ok(verdict("agree")))
    report = run(stills, tmp_path, api, KEY, external_ai=True, ai_model="claude-test-model")
    assert [(f["id"], f["type"], f["source"]) for f in report["findings"]] == [("M1", "prop", "measured")]
    (m,) = report["findings"]
    assert m["second_opinion"] == {
        "verdict": "agree",
        "reason": "The cup on the shelf is gone in B.",
        "model": "claude-test-model",
    }
    opinion = report["second_opinion"]
    assert opinion["ran"] and opinion["requests"] == 1 and opinion["agree"] == 1 and not opinion["rejected"]
    sent = opinion["frames_sent"]
    assert [(s["finding"], s["name"], s["frame"]) for s in sent] == [("M1", "a.png", 0), ("M1", "b.png", 0)]
    assert sent[0]["crop"] == m["outgoing"]["box"] and sent[1]["crop"] == m["incoming"]["box"]
    assert "never adds or removes a finding" in opinion["status"]
    assert report["summary"]["model_findings"] == 0 and report["summary"]["second_opinions"] == 1

    (request,) = api.requests
    assert request["model"] == "claude-test-model"
    assert request["output_config"]["format"]["type"] == "json_schema"
    content = request["messages"][0]["content"]
    images = [block for block in content if block["type"] == "image"]
    assert len(images) == 2 and all(i["source"]["media_type"] == "image/jpeg" for i in images)
    texts = " ".join(b["text"] for b in content if b["type"] == "text")
    assert "Finding M1: prop /" in texts and "'a.png', frame 0" in texts and "'b.png', frame 0" in texts
    # the crops, not the whole frames: smaller than the 480x270 stills
    for block in images:
        decoded = cv2.imdecode(np.frombuffer(base64.b64decode(block["source"]["data"]), np.uint8), cv2.IMREAD_COLOR)
        assert decoded.shape[0] < 270 or decoded.shape[1] < 480
    page = (tmp_path / "w" / "out" / "report.html").read_text()
    assert "The cup on the shelf is gone in B." in page


def test_a_disagreeing_model_changes_nothing_measured(stills, tmp_path):
    plain = run(stills, tmp_path / "plain", None, {})
    report = run(stills, tmp_path, FakeAPI(ok(verdict("disagree", "Only the camera moved."))), KEY, external_ai=True)
    (m,) = report["findings"]
    assert m["second_opinion"]["verdict"] == "disagree"
    (before,) = plain["findings"]
    assert {k: v for k, v in m.items() if k != "second_opinion"} == before
    assert report["second_opinion"]["disagree"] == 1


def test_malformed_json_is_rejected_and_the_run_goes_on(stills, tmp_path):
    api = FakeAPI(ok('{"verdict": "agr'))
    report = run(stills, tmp_path, api, KEY, external_ai=True)
    assert [f["source"] for f in report["findings"]] == ["measured"]
    assert "second_opinion" not in report["findings"][0]
    (rejected,) = report["second_opinion"]["rejected"]
    assert "not valid JSON" in rejected["problem"]
    assert report["second_opinion"]["verdicts"] == []


def test_an_answer_outside_the_schema_is_rejected(stills, tmp_path):
    answer = json.dumps({"verdict": "maybe", "reason": "hard to say"})
    report = run(stills, tmp_path, FakeAPI(ok(answer)), KEY, external_ai=True)
    (rejected,) = report["second_opinion"]["rejected"]
    assert rejected["problem"].startswith("M1: verdict: ")
    assert "second_opinion" not in report["findings"][0]


def test_rate_limit_is_retried_then_succeeds(stills, tmp_path):
    limited = {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}
    api = FakeAPI((429, limited, {"retry-after-ms": "10"}), ok(verdict("agree")))
    report = run(stills, tmp_path, api, KEY, external_ai=True)
    assert len(api.requests) == 2
    assert report["second_opinion"]["requests"] == 1 and not report["second_opinion"]["errors"]
    assert report["findings"][0]["second_opinion"]["verdict"] == "agree"


def test_persistent_server_error_is_reported_not_fatal(stills, tmp_path):
    overloaded = {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}
    api = FakeAPI(*[(529, overloaded, {"retry-after-ms": "1"})] * 4)
    report = run(stills, tmp_path, api, KEY, external_ai=True)
    assert len(api.requests) == 4  # the first try and the SDK's three retries
    (error,) = report["second_opinion"]["errors"]
    assert error.startswith("M1: the API answered 529 (") and "overloaded_error" in error
    assert [f["source"] for f in report["findings"]] == ["measured"]
    assert "second opinion: 1 request(s) to the model failed; those findings have no opinion" in report["warnings"]


def test_no_key_means_no_model_and_an_honest_report(stills, tmp_path):
    api = FakeAPI()  # any request would fail: it has no answers
    report = run(stills, tmp_path, api, {}, external_ai=True)
    assert api.requests == []
    assert report["second_opinion"]["ran"] is False
    assert report["second_opinion"]["status"].startswith(
        "Not run: external AI was allowed, but no model provider is configured on this worker"
    )
    assert all(f["source"] == "measured" and "second_opinion" not in f for f in report["findings"])
    # the local path ran instead of the one asked for: a warning the run page shows above the outputs
    assert "second opinion not run: external AI was allowed, but no model provider is configured on this worker" in " ".join(
        report["warnings"]
    )


def test_not_allowed_means_no_model_even_with_a_key(stills, tmp_path):
    api = FakeAPI()
    report = run(stills, tmp_path, api, KEY)  # external_ai defaults to off
    assert api.requests == []
    assert report["second_opinion"]["status"].startswith("Not run: external AI was not requested")
    assert not [w for w in report["warnings"] if "second opinion" in w]  # not asked for: nothing fell short
    page = (tmp_path / "w" / "out" / "report.html").read_text()
    assert "Not run: external AI was not requested" in page


def test_big_frames_are_downscaled_to_1568_and_models_come_from_env():
    big = np.zeros((1200, 2400, 3), np.uint8)
    big[:, :1200] = 200
    item = FindingToAsk(
        {"id": "M1", "type": "lighting", "check": "exposure", "measured": {"value": 1.0, "unit": "stops", "threshold": 0.3}},
        Frame(0, "a.mov", 10, 0.4, None, big, "tail"),
        Frame(1, "b.mov", 0, 0.0, None, big, "head"),
    )
    api = FakeAPI(ok("```json\n" + verdict("agree", "B is brighter.") + "\n```"))
    opinion = second_opinion(
        [item], allowed=True, environ={**KEY, "CONTINUITY_AI_MODEL": "claude-from-env"}, http_client=api.client()
    )
    assert opinion.ran and opinion.model == "claude-from-env" and opinion.rejected == []
    assert opinion.verdicts == [{"finding": "M1", "verdict": "agree", "reason": "B is brighter.", "model": "claude-from-env"}]
    (request,) = api.requests
    assert request["model"] == "claude-from-env"
    for block in (b for b in request["messages"][0]["content"] if b["type"] == "image"):
        decoded = cv2.imdecode(np.frombuffer(base64.b64decode(block["source"]["data"]), np.uint8), cv2.IMREAD_COLOR)
        assert decoded.shape[:2] == (784, MAX_LONG_SIDE)  # a light finding has no box: the whole frame
    assert downscale(big[:100, :200]).shape == (100, 200, 3)  # never enlarged


def test_crops_keep_a_margin_around_the_box_and_stay_inside_the_frame():
    image = np.zeros((400, 800, 3), np.uint8)
    assert crop(image, None).shape == image.shape
    part = crop(image, {"x": 0.5, "y": 0.5, "w": 0.1, "h": 0.1})
    assert part.shape[:2] == (40 + 2 * 48, 80 + 2 * 48)
    corner = crop(image, {"x": 0.0, "y": 0.0, "w": 0.05, "h": 0.05})
    assert corner.shape[:2] == (20 + 48, 40 + 48)


def test_parse_answer_checks_the_verdict():
    assert parse_answer(verdict("agree", " fine "), "M3", "m") == {
        "finding": "M3",
        "verdict": "agree",
        "reason": "fine",
        "model": "m",
    }
    assert parse_answer('{"verdict": "agree"}', "M3", "m")["problem"].startswith("M3: reason: ")
    assert parse_answer('{"verdict": "agree", "reason": "x", "boxes": []}', "M3", "m")["problem"].startswith("M3: boxes: ")
    assert "not valid JSON" in parse_answer("agree", "M3", "m")["problem"]
