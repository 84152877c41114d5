"""The claim-level narration verifier: unit cases, and the issue's three wrong sentences held back by the real tool."""

from __future__ import annotations

import json

import httpx2
import pytest
import srt

from studio_tools.core import InputKind, ToolInput, run_tool
from studio_tools.recap import EXTERNAL_AI_PARAM, Recap, model_verify
from studio_tools.recap.claims import check_sentence, split_speakers
from studio_tools.recap.episodes import CueRef
from studio_tools.recap.verify import SHIPPED, Sentence, verify
from tests.studio_tools.anthropic_mock import message, mock_client
from tests.studio_tools.recap_media import make_episode, write_srt


def judge(sentence: str, *lines: str) -> tuple[str, list[str]]:
    found = check_sentence(sentence, [(f"e1c{i}", 1, line) for i, line in enumerate(lines, 1)])
    return found.verdict, found.problems


def test_speaker_labels_are_parsed_apart_from_the_words():
    assert split_speakers("MARTA: I will not go.") == [("Marta", "I will not go.")]
    assert split_speakers("- Marta: Go now. - Jonas: No.") == [("Marta", "Go now."), ("Jonas", "No.")]
    assert split_speakers("DR. SHAH: She is awake.") == [("Dr. Shah", "She is awake.")]
    assert split_speakers("The train leaves at 11:40.") == [(None, "The train leaves at 11:40.")]
    cue = CueRef("e1c1", 1, 1, 1.0, 2.0, "MARTA: I will not go back.")
    assert cue.to_dict()["speaker"] == "Marta" and cue.to_dict()["text"] == "I will not go back."
    assert CueRef("e1c2", 1, 2, 1.0, 2.0, "No label here.").to_dict()["speaker"] is None


def test_the_speaker_is_known_apart_from_the_people_a_line_mentions():
    assert judge("Marta will not go back.", "MARTA: I will not go back.")[0] == "verified"
    assert judge("Marta refuses to go back.", "MARTA: I will not go back.")[0] == "verified"
    verdict, problems = judge("Jonas robs it.", "JONAS: Someone will rob it.")
    assert verdict == "unverified" and any("“someone” will rob; the sentence says Jonas" in p for p in problems)
    assert judge("Jonas says someone will rob it.", "JONAS: Someone will rob it.")[0] == "verified"
    assert judge("Marta says someone will rob it.", "JONAS: Someone will rob it.")[0] == "contradicted"
    # Without a label nobody knows who "I" is.
    assert judge("Marta will not go back.", "I will not go back.")[0] == "unverified"


def test_negation_numbers_days_antonyms_and_modality():
    assert judge("Helen never takes the cup.", "HELEN: I'm taking the cup.")[0] == "contradicted"
    assert judge("Helen takes the cup.", "HELEN: I won't take the cup.")[0] == "contradicted"
    assert judge("Four guards watch the gate.", "Four guards watch the gate.")[0] == "verified"
    assert judge("Three guards watch the gate.", "Four guards watch the gate.")[0] == "contradicted"
    assert judge("They meet on Friday.", "We meet on Thursday.")[0] == "contradicted"
    assert judge("The shop opens at dawn.", "The shop opens at dusk.")[0] == "contradicted"
    assert judge("The shop is open.", "The shop is closed.")[0] == "contradicted"
    assert judge("Someone robs the bank.", "Someone is planning to rob the bank.")[0] == "unverified"
    assert judge("Someone plans to rob the bank.", "Someone is planning to rob the bank.")[0] == "verified"
    assert judge("Clara opened the safe.", "Did Clara open the safe?")[0] == "unverified"  # a question is no fact
    assert judge("Nobody gets hurt.", "Give me the money and nobody gets hurt.")[0] == "unverified"  # a condition


def test_invented_words_motives_and_relationships_are_not_carried():
    verdict, problems = judge("Marta is secretly a spy working for the harbour master.", "MARTA: I work for the harbour master.")
    assert verdict == "unverified" and "“spy” (a word) is not in the cited lines" in problems
    assert judge("Owen's uncle built the boat.", "OWEN: My father built this boat.")[0] != "verified"
    assert judge("Owen's father built the boat.", "OWEN: My father built this boat.")[0] == "verified"
    assert judge("Hugo's father built the boat.", "OWEN: My father built this boat.", "HUGO: Nice.")[0] == "contradicted"
    verdict, problems = judge("Rosa sold the bakery because she was ill.", "ROSA: I sold the bakery.", "ROSA: I was ill.")
    assert verdict == "unverified" and any("a cause or motive" in p for p in problems)


def test_objects_prepositions_disputes_and_facts_bound_to_their_action():
    assert judge("Kane shot Bruno.", "KANE: I shot Bruno.", "LOU: Bruno is my friend.")[0] == "verified"
    assert judge("Kane shot Lou.", "KANE: I shot Bruno.", "LOU: Bruno is my friend.")[0] == "contradicted"
    assert judge("The aunt left the farm to Maria.", "Your aunt left the house to Maria.", "The farm is sold.")[0] != "verified"
    assert judge("Nina voted against Carver.", "NINA: I voted for Carver.", "NINA: Ben voted against him.")[0] == "contradicted"
    # Two lines that disagree establish nothing.
    verdict, problems = judge("Eli burned the diary.", "- Where is it? - Eli burned it.", "JUNE: Eli would never burn it.")
    assert verdict == "unverified" and any("disagree" in p for p in problems)
    # A day said in another line than the action does not date the action.
    verdict, problems = judge(
        "The chef says they open on Sundays.", "CHEF: We open at seven.", "CHEF: On Sundays we stay closed."
    )
    assert verdict == "unverified" and any("does not say sunday" in p for p in problems)
    # A speech verb the line itself negates.
    assert judge("Anna answered Paul.", "ANNA: Paul wrote to me.", "ANNA: I never answered.")[0] == "contradicted"


def test_quotes_and_episode_numbers():
    assert judge("Marta: “I will not go back.”", "MARTA: I will not go back.")[0] == "verified"
    assert judge("Jonas: “I will not go back.”", "MARTA: I will not go back.")[0] == "contradicted"
    assert judge("“I will not … go back.”", "I will not, ever, go back.")[0] == "verified"
    assert judge("“I will go back.”", "I will not go back.")[0] == "unverified"
    # Local narration's lines without quotation marks: verbatim words are a quote, attributed or not.
    assert judge("I will not go back.", "MARTA: I will not go back.")[0] == "verified"
    assert judge("Marta: I will not go back…", "MARTA: I will not go back to Lisbon.")[0] == "verified"
    assert judge("Jonas: I will not go back.", "MARTA: I will not go back.")[0] == "contradicted"
    assert judge("I will go back.", "MARTA: I will not go back.")[0] != "verified"
    found = check_sentence("Episode 2: “I will not go back.”", [("e1c1", 1, "I will not go back.")])
    assert found.verdict == "contradicted" and "episode 2" in found.problems[0]


def test_sentence_dict_carries_ids_claims_and_both_verdicts():
    cues = {"e1c1": CueRef("e1c1", 1, 1, 1.0, 2.0, "MARTA: I will not go back to Lisbon.")}
    sentences = [
        Sentence("Marta will not go back to Lisbon.", ["e1c1"], "claude"),
        Sentence("Marta goes to Porto.", ["e1c1"], "claude"),
    ]
    verify(sentences, cues, set(cues))
    first, second = (s.to_dict(cues) for s in sentences)
    assert (first["id"], second["id"]) == ("s1", "s2")
    assert len(first["text_sha256"]) == 64 and first["text_sha256"] != second["text_sha256"]
    assert first["verdict"] == first["local"] == "verified" and first["model"] is None
    assert first["claims"] and all(c["verdict"] == "supported" for c in first["claims"])
    assert second["verdict"] == "contradicted" or second["verdict"] == "unverified"
    assert any(c["verdict"] != "supported" and c["reason"] for c in second["claims"])
    assert SHIPPED == ("verified", "unverified")


# --- the issue's three sentences, through the real tool ---------------------------------------------------------

LINES = [
    "BERNARD: The museum closes early on Friday.",
    "Someone is planning to rob it on Friday.",
    "HELEN: I'm taking the cup to Newcastle tomorrow.",
    "MARTA: I work for the harbour master.",
    "JONAS: You never told me that.",
    "MARTA: I will not go back to Lisbon.",
]
WRONG = {
    "Bernard robs the museum on Friday.": ["e1c1", "e1c2"],
    "Helen never takes the cup to Newcastle.": ["e1c3"],
    "Marta is secretly a spy working for the harbour master.": ["e1c4"],
}
RIGHT = {"Marta will not go back to Lisbon.": ["e1c6"]}


@pytest.fixture(scope="module")
def episode(tmp_path_factory):
    folder = tmp_path_factory.mktemp("issue14")
    video, subtitles = make_episode(folder, 0, seconds=40.0)
    write_srt(subtitles, [(2.0 + 4 * i, 4.4 + 4 * i, line) for i, line in enumerate(LINES)])
    return [ToolInput(video, InputKind.FOOTAGE), ToolInput(subtitles, InputKind.SUBTITLES)]


def fooled_model():
    """Claude writes the three wrong sentences and one right one; the model verifier, fooled, calls every claim
    supported (quoting a real line): the local verifier must still hold the wrong ones back."""
    narration = json.dumps({"sentences": [{"text": t, "cues": c} for t, c in {**WRONG, **RIGHT}.items()]})
    checks = []

    def handle(request: httpx2.Request) -> httpx2.Response:
        sent = json.loads(request.content)
        text = narration
        if sent["system"] == model_verify.INSTRUCTIONS:
            checks.append(sent)
            span = sent["messages"][0]["content"].split("says: ")[-1].split(" / ")[0]
            text = json.dumps({"claims": [{"claim": "all of it", "verdict": "supported", "span": span}]})
        return httpx2.Response(200, json=message(text, input_tokens=10, output_tokens=10, cache_write=0))

    def factory():
        return mock_client(handle)

    return factory, checks


def test_the_issues_three_wrong_sentences_are_held_back_by_the_tool(episode, tmp_path, monkeypatch):
    monkeypatch.setenv("STUDIO_TOOLS_CACHE", str(tmp_path / "cache"))
    factory, checks = fooled_model()
    record = run_tool(
        Recap(client_factory=factory, ai_backoff=0.0),
        episode,
        {"target_seconds": 30, EXTERNAL_AI_PARAM: True, "temp_vo": False},
        tmp_path / "claude",
    )
    told = record.result.report["narration"]
    by_text = {s["text"]: s for s in told["sentences"]}
    assert told["mode"] == "claude" and set(by_text) == set(WRONG) | set(RIGHT)
    assert len(checks) == 3  # the model verifier ran on all but the locally contradicted sentence ...
    for text in WRONG:  # ... and said "supported" to all: the wrong ones are still not verified
        assert by_text[text]["verdict"] in ("unverified", "contradicted"), text
        assert by_text[text]["local"] in ("unverified", "contradicted") and by_text[text]["problems"]
    bernard = by_text["Bernard robs the museum on Friday."]
    assert any("the sentence says Bernard" in p for p in bernard["problems"])
    helen = by_text["Helen never takes the cup to Newcastle."]
    assert helen["verdict"] == "contradicted" and not helen["shipped"] and helen["model"] is None
    assert any("the cited line says Helen takes" in p for p in helen["problems"])
    marta = by_text["Marta is secretly a spy working for the harbour master."]
    assert any("“spy”" in p for p in marta["problems"]) and any("“secretly”" in p for p in marta["problems"])
    right = by_text["Marta will not go back to Lisbon."]
    assert right["verdict"] == "verified" and right["local"] == right["model"] == "verified"
    assert right["citations"][0]["speaker"] == "Marta" and right["citations"][0]["text"] == "I will not go back to Lisbon."
    subtitles = " ".join(s.content for s in srt.parse((record.out_dir / "recap.srt").read_text()))
    assert "Helen never" not in subtitles  # contradicted: never rendered
    assert told["verdicts"].get("verified") == 1 and "ok" not in told["verdicts"] and "repaired" not in told["verdicts"]

    # A reviewer's edit with the same sentences, rendered from the cached analysis: held back the same way.
    edit = {
        "moments": [{"episode": m["episode"], "start": m["start"], "end": m["end"]} for m in record.result.report["moments"]],
        "sentences": [{"text": t, "cues": c, "origin": "edited"} for t, c in {**WRONG, **RIGHT}.items()],
    }
    again = run_tool(Recap(), episode, {"target_seconds": 30, "edit": edit, "temp_vo": False}, tmp_path / "edited")
    edited = {s["text"]: s for s in again.result.report["narration"]["sentences"]}
    assert [edited[t]["verdict"] for t in WRONG] == ["unverified", "contradicted", "unverified"]
    assert edited["Marta will not go back to Lisbon."]["verdict"] == "verified"
    assert all(s["model"] is None for s in edited.values())  # no external AI: the local verifier alone
