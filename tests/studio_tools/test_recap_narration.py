"""Narration through the real anthropic SDK, served by an httpx MockTransport, and the verifier.

anthropic 2.x speaks through `httpx2` (httpx's successor, same API), so the mock transport and the
client come from there; everything above the transport (request building, retries with backoff on
429, response parsing) is the SDK's own code.
"""

from __future__ import annotations

import json

import httpx2
import pytest

from studio_tools.recap.episodes import CueRef
from studio_tools.recap.moments import Salience
from studio_tools.recap.narration import (
    EXTRACTIVE_LABEL,
    NarrationUnavailable,
    Usage,
    claude_narration,
    extractive_narration,
)
from studio_tools.recap.verify import verify
from tests.studio_tools.anthropic_mock import Server, message

CUES = [
    CueRef("e1c1", 1, 1, 2.0, 4.4, "Mara, the ledger is gone from the vault."),
    CueRef("e1c2", 1, 2, 6.0, 8.4, "Who else knew the combination?"),
    CueRef("e1c3", 1, 3, 10.0, 12.4, "Only Tobias and the old caretaker."),
    CueRef("e1c4", 1, 4, 14.0, 16.4, "Then we go to Harwick tonight."),
    CueRef("e1c5", 1, 5, 18.0, 20.4, "Velmont will be waiting for us there."),
    CueRef("e1c6", 1, 6, 22.0, 24.4, "I swore in 1987 that I would never go back."),
    CueRef("e2c1", 2, 1, 2.0, 4.4, "Harwick looks smaller than I remember."),
    CueRef("e2c2", 2, 2, 6.0, 8.4, "Tobias has been lying to us since the start."),
    CueRef("e2c3", 2, 3, 10.0, 12.4, "He hid the ledger in the chapel."),
]
USABLE = {c.id: c for c in CUES}
# e2c9 exists in the episode but lies after the spoiler boundary.
KNOWN = set(USABLE) | {"e2c9"}


def ok(body: dict) -> httpx2.Response:
    return httpx2.Response(200, json=body)


def answer(*sentences: tuple[str, list[str]]) -> str:
    return json.dumps({"sentences": [{"text": t, "cues": c} for t, c in sentences]})


def ask(server: Server, **kw) -> object:
    options = {"model": "claude-sonnet-4-6", "sentences": 4, "language": "en", "target_seconds": 60, "sleep": lambda s: None}
    options.update(kw)
    return claude_narration(server.client(), CUES, {"e1c1"}, **options)


def test_good_answer_is_parsed_verified_and_costed():
    server = Server(
        ok(
            message(
                answer(
                    ("Mara learns the ledger is gone from the vault.", ["e1c1"]),
                    ("Tobias hid the ledger in the chapel.", ["e2c2", "e2c3"]),
                )
            )
        )
    )
    result = ask(server)
    assert result.mode == "claude" and result.model == "claude-sonnet-4-6"
    verify(result.sentences, USABLE, KNOWN)
    assert [s.verdict for s in result.sentences] == ["verified", "verified"]
    assert result.sentences[1].cues == ["e2c2", "e2c3"]

    (request,) = server.requests
    # The numbered cues are the cached block of the system prompt; the answer is constrained by a JSON schema.
    cached = [b for b in request["system"] if b.get("cache_control") == {"type": "ephemeral"}]
    assert len(cached) == 1 and "[e1c3] episode 1, 00:00:10: Only Tobias and the old caretaker." in cached[0]["text"]
    assert "[e1c1] episode 1, 00:00:02 [in recap]:" in cached[0]["text"]
    assert request["output_config"]["format"]["type"] == "json_schema"
    assert request["output_config"]["format"]["schema"]["required"] == ["sentences"]
    assert request["model"] == "claude-sonnet-4-6"

    usage = result.usage
    assert (usage.requests, usage.input_tokens, usage.output_tokens, usage.cache_write_tokens) == (1, 1200, 150, 1000)
    # 1200 x $3 + 1000 x $3.75 + 150 x $15 per million tokens
    assert usage.cost("claude-sonnet-4-6") == pytest.approx((1200 * 3 + 1000 * 3.75 + 150 * 15) / 1e6)


def test_every_bad_sentence_is_held_back():
    bad = answer(
        ("The ledger is gone from the vault, Mara.", []),  # no citation; a line carries it, but a person must check
        ("The weather turns cold over the mountains.", []),  # no citation and nothing carries it
        ("Tobias and the old caretaker knew.", ["e9c99"]),  # cites a cue that does not exist
        ("Velmont waits in Harwick.", ["e7c1"]),  # only a non-existent cue; support spans two lines
        ("Gregor hid the ledger in the chapel.", ["e2c3"]),  # a name no cue contains; the line says "he"
        ("In 1992 Mara swore never to go back.", ["e1c6"]),  # the wrong year (the cue says 1987)
        ("Tobias reveals the final betrayal.", ["e2c9"]),  # cites a line past the spoiler boundary
        ("Velmont will be waiting in Harwick.", ["e1c5"]),  # Harwick is only in a line it does not cite
        ("", ["e1c1"]),  # empty
    )
    server = Server(ok(message(bad)))
    result = ask(server)
    sentences = result.sentences
    verify(sentences, USABLE, KNOWN)
    verdicts = [s.verdict for s in sentences]
    assert verdicts == [
        "unverified",
        "unverified",
        "unverified",
        "unverified",
        "unverified",
        "contradicted",
        "unverified",
        "unverified",
        "contradicted",
    ]
    assert [s.id for s in sentences] == [f"s{n}" for n in range(1, 10)]
    assert sentences[0].cues == ["e1c1"] and sentences[0].cited_by_model == [] and sentences[0].local == "unverified"
    assert sentences[0].repairs and "for a person to check" in sentences[0].repairs[0]
    assert "cites e9c99, which does not exist" in sentences[2].problems and sentences[2].cues == ["e1c2", "e1c3"]
    assert set(sentences[3].cues) == {"e1c4", "e1c5"}
    assert "“Gregor” is not named in the cited lines" in sentences[4].problems
    assert any("1987" in p and "1992" in p for p in sentences[5].problems)
    assert "cites e2c9, a line after the spoiler boundary" in sentences[6].problems
    assert "“Harwick” is not named in the cited lines" in sentences[7].problems
    for sentence in sentences:
        sentence.start = 1.0  # placed on the timeline: unverified ones are rendered for a person to judge,
        assert sentence.shipped == (sentence.verdict == "unverified")  # contradicted ones never
        assert sentence.model is None  # no model verifier ran
        d = sentence.to_dict(USABLE)
        assert d["local"] == sentence.local and d["model"] is None and d["id"] == sentence.id
        assert all(set(c) == {"text", "verdict", "reason", "span"} for c in d["claims"])


def test_malformed_json_is_asked_again_with_backoff():
    slept: list[float] = []
    server = Server(
        ok(message('{"sentences": [{"text": "Mara', output_tokens=20)),
        ok(message(json.dumps({"sentences": "not a list"}))),
        ok(message(answer(("Tobias hid the ledger in the chapel.", ["e2c3"])), cache_write=0, cache_read=1000)),
    )
    result = ask(server, sleep=slept.append, backoff=0.5)
    assert len(server.requests) == 3
    assert slept == [0.5, 1.0]
    assert result.attempts[0].startswith("attempt 1: the answer was not valid JSON")
    assert result.attempts[1].startswith("attempt 2: the answer did not match the schema")
    assert result.attempts[2] == "attempt 3: 1 sentence(s)"
    # The second and third requests read the cue block from the prompt cache.
    assert result.usage.cache_read_tokens == 1000 and result.usage.requests == 3
    # The cached prefix is byte-identical across attempts, which is what makes the cache hit.
    assert server.requests[0]["system"] == server.requests[2]["system"]


def test_a_429_is_retried_by_the_sdk_then_succeeds():
    limited = httpx2.Response(
        429,
        headers={"retry-after-ms": "10"},
        json={"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}},
    )
    server = Server(limited, ok(message(answer(("Harwick looks smaller than remembered.", ["e2c1"])))))
    result = ask(server)
    assert len(server.requests) == 2
    assert result.sentences[0].text == "Harwick looks smaller than remembered."
    assert result.usage.requests == 1  # the SDK's retry is one logical request; only the answer's tokens are billed


def test_giving_up_raises_with_what_happened():
    server = Server(*(ok(message("I cannot help with that.")) for _ in range(3)))
    with pytest.raises(NarrationUnavailable) as caught:
        ask(server, attempts=3)
    assert "no usable answer after 3 attempts" in caught.value.reason
    assert caught.value.partial.usage.requests == 3


def test_an_api_error_is_reported_not_hidden():
    server = Server(
        *(
            httpx2.Response(
                401, json={"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}
            )
            for _ in range(4)
        )
    )
    with pytest.raises(NarrationUnavailable) as caught:
        ask(server)
    assert caught.value.reason.startswith("the API answered 401")


def test_extractive_narration_quotes_lines_and_says_so():
    salience = Salience.build(CUES)
    result = extractive_narration(CUES, {"e1c1"}, salience, sentences=3)
    assert result.mode == "extractive" and result.label == EXTRACTIVE_LABEL and "no AI model" in result.label
    assert result.model is None and result.usage == Usage()
    assert result.sentences and all(s.origin == "extractive" for s in result.sentences)
    assert {c for s in result.sentences for c in s.cues}.isdisjoint({"e1c1"})  # not a line the recap already plays
    assert {USABLE[s.cues[0]].episode for s in result.sentences} == {1, 2}  # both episodes
    for sentence in result.sentences:
        assert USABLE[sentence.cues[0]].text in sentence.text
    verify(result.sentences, USABLE, KNOWN)
    assert all(s.verdict == "verified" for s in result.sentences)


def test_salience_finds_recurring_names():
    salience = Salience.build(CUES)
    assert {"tobias", "harwick"} <= salience.names  # capitalised in mid-sentence; Velmont only ever opens a line here
    assert "only" not in salience.names and "combination" not in salience.names
    assert salience.weights["tobias"] > salience.weights["combination"] > 0
