"""The model verifier through the real anthropic SDK, served by an httpx MockTransport: its request's contract
(only the sentence and its cited lines, structured output) and what it does with good, contradicting, malformed,
invented-quotation and error answers. Its accuracy is not tested: no model is reachable here."""

from __future__ import annotations

import json

import httpx2

from studio_tools.recap import model_verify
from studio_tools.recap.episodes import CueRef
from studio_tools.recap.narration import Usage
from studio_tools.recap.verify import Sentence, combine, verify
from tests.studio_tools.anthropic_mock import Server, message

CUES = [
    CueRef("e1c1", 1, 1, 2.0, 4.4, "MARTA: I will not go back to Lisbon."),
    CueRef("e1c2", 1, 2, 6.0, 8.4, "- Jonas: Someone will rob the bank. - Marta: Not tonight."),
    CueRef("e1c3", 1, 3, 10.0, 12.4, "The bank closes at six."),
]
USABLE = {c.id: c for c in CUES}


def reply(text: str, status: int = 200) -> httpx2.Response:
    if status != 200:
        return httpx2.Response(status, json={"type": "error", "error": {"type": "api_error", "message": text}})
    return httpx2.Response(200, json=message(text, input_tokens=150, output_tokens=40, cache_write=0))


def claims(*items: tuple[str, str, str]) -> str:
    return json.dumps({"claims": [{"claim": c, "verdict": v, "span": s} for c, v, s in items]})


def run(server: Server, sentence: str, cues: list[str], **kw) -> model_verify.ModelCheck:
    kw.setdefault("sleep", lambda s: None)
    return model_verify.check(server.client(max_retries=0), sentence, [USABLE[c] for c in cues], model="claude-sonnet-4-6", **kw)


def test_the_request_holds_only_the_sentence_and_its_lines_and_asks_for_structured_claims():
    server = Server(reply(claims(("Marta will not go back to Lisbon", "supported", "I will not go back to Lisbon"))))
    usage = Usage()
    found = run(server, "Marta will not go back to Lisbon.", ["e1c1"], usage=usage)
    assert found.verdict == "verified" and found.problem is None and found.requests == 1
    (request,) = server.requests
    assert request["model"] == "claude-sonnet-4-6"
    assert request["system"] == model_verify.INSTRUCTIONS
    assert "supported" in request["system"] and "contradicted" in request["system"] and "not in the lines" in request["system"]
    content = request["messages"][0]["content"]
    assert (
        content == "Sentence: Marta will not go back to Lisbon.\n\nCited lines:\n[e1c1] Marta says: I will not go back to Lisbon."
    )
    assert "bank" not in content  # no other line of the episode
    schema = request["output_config"]["format"]
    assert schema["type"] == "json_schema"
    item = schema["schema"]["properties"]["claims"]["items"]
    assert item["properties"]["verdict"]["enum"] == ["supported", "contradicted", "not in the lines"]
    assert item["required"] == ["claim", "verdict", "span"]
    assert (usage.requests, usage.input_tokens, usage.output_tokens) == (1, 150, 40)


def test_several_speakers_in_one_cue_are_listed_apart():
    text = model_verify.request_text("Jonas says someone will rob the bank.", [USABLE["e1c2"]])
    assert text.endswith("\n[e1c2] Jonas says: Someone will rob the bank. / Marta says: Not tonight.")


def test_a_contradicted_claim_contradicts_the_sentence():
    server = Server(
        reply(
            claims(
                ("Marta goes", "contradicted", "I will not go back to Lisbon"),
                ("to Lisbon", "supported", "Lisbon"),
            )
        )
    )
    found = run(server, "Marta goes back to Lisbon.", ["e1c1"])
    assert found.verdict == "contradicted"
    assert [c.verdict for c in found.claims] == ["contradicted", "supported"]
    assert found.claims[0].span == "I will not go back to Lisbon"


def test_not_in_the_lines_leaves_it_unverified():
    server = Server(reply(claims(("Jonas robs the bank", "not in the lines", ""))))
    found = run(server, "Jonas robs the bank.", ["e1c2"])
    assert found.verdict == "unverified" and found.claims[0].reason == "the model verifier: not in the lines"


def test_a_quotation_that_is_not_in_the_lines_establishes_nothing():
    server = Server(reply(claims(("the bank closes at six", "supported", "The bank shuts at six sharp"))))
    found = run(server, "The bank closes at six.", ["e1c3"])
    assert found.verdict == "unverified"
    assert "quoted words not in the cited lines" in found.claims[0].reason


def test_malformed_answers_are_asked_again_then_leave_it_unverified():
    slept: list[float] = []
    server = Server(
        reply('{"claims": [{"claim": "x"'), reply(json.dumps({"claims": [{"claim": "x", "verdict": "maybe", "span": ""}]}))
    )
    found = run(server, "The bank closes at six.", ["e1c3"], backoff=0.5, sleep=slept.append)
    assert len(server.requests) == 2 and slept == [0.5]
    assert found.verdict == "unverified" and found.claims == []
    assert "no usable answer after 2 attempts" in found.problem and "did not match the schema" in found.problem
    # A good second answer is used.
    server = Server(reply("not json"), reply(claims(("the bank closes at six", "supported", "The bank closes at six."))))
    assert run(server, "The bank closes at six.", ["e1c3"]).verdict == "verified"


def test_an_api_error_leaves_it_unverified_and_says_so():
    server = Server(reply("overloaded", status=529))
    found = run(server, "The bank closes at six.", ["e1c3"])
    assert found.verdict == "unverified" and "the API answered 529" in found.problem


def test_both_verifiers_must_agree_for_verified():
    assert combine("verified", "verified") == "verified"
    assert combine("verified", None) == "verified"  # the model verifier did not run (no external AI, no key)
    assert combine("verified", "unverified") == "unverified"
    assert combine("unverified", "verified") == "unverified"
    assert combine("verified", "contradicted") == "contradicted"
    assert combine("contradicted", "verified") == "contradicted"

    sentences = [
        Sentence("Marta will not go back to Lisbon.", ["e1c1"], "claude"),  # local: verified
        Sentence("Marta goes back to Lisbon.", ["e1c1"], "claude"),  # local: contradicted; the model is not asked
        Sentence("The bank closes at six.", ["e1c3"], "claude"),  # local: verified; the model says contradicted
    ]
    verify(sentences, USABLE, set(USABLE))
    assert [s.local for s in sentences] == ["verified", "contradicted", "verified"]
    server = Server(
        reply(claims(("Marta will not go back", "supported", "I will not go back to Lisbon"))),
        reply(claims(("closes at six", "contradicted", "The bank closes at six."))),
    )
    usage = Usage()
    made = model_verify.check_all(
        server.client(), sentences, USABLE, model="claude-sonnet-4-6", usage=usage, sleep=lambda s: None
    )
    assert made == 2 and len(server.requests) == 2 and usage.requests == 2
    assert [s.model for s in sentences] == ["verified", None, "contradicted"]
    assert [s.verdict for s in sentences] == ["verified", "contradicted", "contradicted"]
    d = sentences[2].to_dict(USABLE)
    assert d["local"] == "verified" and d["model"] == "contradicted" and d["verdict"] == "contradicted"
    assert any(c["reason"].startswith("the model verifier: contradicted") for c in d["claims"])
    assert d["citations"][0]["speaker"] is None and sentences[0].to_dict(USABLE)["citations"][0]["speaker"] == "Marta"
    assert sentences[0].to_dict(USABLE)["citations"][0]["text"] == "I will not go back to Lisbon."
