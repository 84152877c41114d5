"""Local narration worth hearing and length honesty.

Without a model the narration quotes the lines that carry the story: speaker labels and stage
directions left out, spread over every episode of the cut in proportion to its share, never a line the
cut already plays, attributed only when asked. A cut that cannot reach its target says so with numbers,
and a short clip without subtitles is cut, not refused for "cutting a line of dialogue"."""

from __future__ import annotations

import pytest

from studio_tools.core import InputKind, ToolInput, run_tool
from studio_tools.recap import Recap
from studio_tools.recap.episodes import CueRef
from studio_tools.recap.moments import Salience
from studio_tools.recap.narration import EXTRACTIVE_LABEL, extractive_narration, split_speaker
from tests import real_media
from tests.studio_tools.recap_media import make_episode, write_srt

LABELLED = [
    CueRef("e1c1", 1, 1, 2.0, 4.4, "BORIS: Mary, you can see where the river bends from here."),
    CueRef("e1c2", 1, 2, 6.0, 8.4, "MARY: Yes."),
    CueRef("e1c3", 1, 3, 10.0, 12.4, "- Boris hid the silver compass under the mill."),
    CueRef("e1c4", 1, 4, 14.0, 16.4, "[door slams] MARY: The mill burns tonight, Boris."),
    CueRef("e2c1", 2, 1, 2.0, 4.4, "Helen: Nobody leaves Ashby until the compass is found."),
    CueRef("e2c2", 2, 2, 6.0, 8.4, "Helen: What?"),
    CueRef("e2c3", 2, 3, 10.0, 12.4, "<i>The constable found the compass in the mill.</i>"),
    CueRef("e2c4", 2, 4, 14.0, 16.4, "Mary swore to Helen she would never return to Ashby."),
    CueRef("e2c5", 2, 5, 18.0, 20.4, "(whispering) Boris, the constable is watching the mill."),
    CueRef("e2c6", 2, 6, 22.0, 24.4, "♪ Down by the river bend ♪"),
]
BY_ID = {c.id: c for c in LABELLED}
LABELS = ("BORIS:", "MARY:", "Helen:", "Boris:", "Mary:")


@pytest.mark.parametrize(
    "line, speaker, said",
    [
        ("BORIS: Mary, you can see where the river bends.", "Boris", "Mary, you can see where the river bends."),
        ("Helen: Nobody leaves Ashby.", "Helen", "Nobody leaves Ashby."),
        ("- Boris hid the compass.", None, "Boris hid the compass."),
        ("[door slams] MARY: The mill burns.", "Mary", "The mill burns."),
        ("<i>The constable found it.</i>", None, "The constable found it."),
        ("(whispering) Boris, look.", None, "Boris, look."),
        ("- Where? - Under the mill.", None, "Where? Under the mill."),
        ("At 10:30 we leave.", None, "At 10:30 we leave."),
    ],
)
def test_split_speaker(line, speaker, said):
    found_speaker, found_said = split_speaker(line)
    assert (found_speaker, found_said) == (speaker, said)


def test_quotes_carry_the_story_without_labels_spread_by_the_cut():
    salience = Salience.build(LABELLED)
    # The cut holds 4 s of episode 1 and 11 s of episode 2 and already plays e2c1.
    told = extractive_narration(LABELLED, {"e2c1"}, salience, sentences=4, shares={1: 4.0, 2: 11.0})
    assert told.mode == "extractive" and told.label == EXTRACTIVE_LABEL and "no AI model" in told.label
    cited = [s.cues[0] for s in told.sentences]
    episodes = [BY_ID[c].episode for c in cited]
    assert len(told.sentences) == 4 and episodes.count(1) == 1 and episodes.count(2) == 3  # 4:11 of four quotes
    assert episodes == sorted(episodes)  # story order
    assert "e2c1" not in cited  # the cut already plays it
    assert not {"e1c2", "e2c2", "e2c6"} & set(cited)  # "Yes.", "What?" and a song carry nothing
    for s in told.sentences:
        assert not s.text.startswith(LABELS) and "Episode" not in s.text and "[" not in s.text and "<i>" not in s.text
        assert "“" not in s.text  # not attributed: the line alone
        assert s.origin == "extractive"
    # Lines that name people and the compass win over the rest of episode 1.
    assert cited[0] in ("e1c3", "e1c4")


def test_attribution_only_when_asked_and_only_when_the_line_names_its_speaker():
    salience = Salience.build(LABELLED)
    told = extractive_narration(LABELLED, set(), salience, sentences=10, attribute=True)
    by_cue = {s.cues[0]: s.text for s in told.sentences}
    assert by_cue["e1c1"] == "Boris: “Mary, you can see where the river bends from here.”"
    assert by_cue["e2c4"] == "Mary swore to Helen she would never return to Ashby."  # no label: no speaker invented
    plain = extractive_narration(LABELLED, set(), salience, sentences=10)
    assert {s.cues[0]: s.text for s in plain.sentences}["e1c1"] == "Mary, you can see where the river bends from here."


def test_every_episode_of_the_cut_gets_a_quote_even_with_a_small_share():
    salience = Salience.build(LABELLED)
    told = extractive_narration(LABELLED, set(), salience, sentences=2, shares={1: 0.8, 2: 25.0})
    assert {BY_ID[s.cues[0]].episode for s in told.sentences} == {1, 2}
    # An episode outside the cut gets none.
    told = extractive_narration(LABELLED, set(), salience, sentences=3, shares={2: 10.0})
    assert {BY_ID[s.cues[0]].episode for s in told.sentences} == {2}


def test_nothing_left_to_quote_is_no_narration_rather_than_a_repeat():
    salience = Salience.build(LABELLED)
    told = extractive_narration(LABELLED, {c.id for c in LABELLED}, salience, sentences=3)
    assert told.sentences == []


def test_short_clip_without_subtitles_is_cut_and_the_shortfall_is_said_with_numbers(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDIO_TOOLS_CACHE", str(tmp_path / "cache"))
    video, _ = make_episode(tmp_path / "media", 0, seconds=3.8)
    record = run_tool(Recap(), [ToolInput(video, InputKind.FOOTAGE)], {"target_seconds": 30, "temp_vo": False}, tmp_path / "w")
    report = record.result.report
    selection = report["selection"]
    assert selection["target_met"] is False
    shortfall = selection["shortfall"]
    assert shortfall["duration_seconds"] == pytest.approx(report["render"]["duration_seconds"], abs=0.1)
    assert 3.0 <= shortfall["duration_seconds"] <= 3.9 and shortfall["target_seconds"] == 30
    assert shortfall["missing_seconds"] == pytest.approx(30 - shortfall["duration_seconds"], abs=0.01)
    assert shortfall["moments"] == 1 and shortfall["moments_left"] == 0
    assert shortfall["message"].startswith(f"{shortfall['duration_seconds']:.1f} s of 30 s: only 1 usable moment")
    assert report["narration"]["mode"] == "off"
    # both said where the run page shows them, above the outputs
    assert report["warnings"] == [
        f"shorter than asked: {shortfall['message']}",
        "No narration: no episode has subtitles to ground it in.",
    ]


def test_a_cut_that_meets_its_target_reports_no_shortfall_and_quotes_both_episodes(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDIO_TOOLS_CACHE", str(tmp_path / "cache"))
    inputs = []
    for i in range(2):
        video, _ = make_episode(tmp_path / "media", i, seconds=40.0)
        lines = [c for c in LABELLED if c.episode == i + 1]
        srt = write_srt(tmp_path / "media" / f"labelled{i + 1}.srt", [(c.start, c.end, c.text) for c in lines])
        inputs += [ToolInput(video, InputKind.FOOTAGE), ToolInput(srt, InputKind.SUBTITLES)]
    record = run_tool(Recap(), inputs, {"target_seconds": 30, "temp_vo": False}, tmp_path / "w")
    report = record.result.report
    assert report["selection"]["target_met"] is True and report["selection"]["shortfall"] is None, report["selection"]
    assert report["warnings"] == []
    played = {c for m in report["moments"] for c in m["cues"]}
    sentences = report["narration"]["sentences"]
    assert sentences and report["narration"]["mode"] == "extractive"
    cut_episodes = {m["episode"] for m in report["moments"]}
    quoted = {c["episode"] for s in sentences for c in s["citations"]}
    assert quoted == cut_episodes & {1, 2}
    for s in sentences:
        assert not s["text"].startswith(LABELS)
        assert not {c["id"] for c in s["citations"]} & played


@pytest.mark.real_media
def test_a_real_short_clip_without_subtitles_is_cut_whole_and_the_shortfall_said(tmp_path, monkeypatch):
    """A03: a 2.6 s sign-language clip (Intel, CC-BY-4.0), one shot, no subtitles, shorter than the target."""
    monkeypatch.setenv("STUDIO_TOOLS_CACHE", str(tmp_path / "cache"))
    entry = real_media.entry("A03")
    record = run_tool(
        Recap(), [ToolInput(entry["path"], InputKind.FOOTAGE)], {"target_seconds": 30, "temp_vo": False}, tmp_path / "w"
    )
    report = record.result.report
    true_length = entry["duration_s_from_decoded_frames"]
    assert report["render"]["duration_seconds"] == pytest.approx(true_length, abs=0.1)
    shortfall = report["selection"]["shortfall"]
    assert report["selection"]["target_met"] is False and shortfall["moments"] == 1
    assert shortfall["missing_seconds"] == pytest.approx(30 - true_length, abs=0.1)
    assert shortfall["message"] == (
        f"{shortfall['duration_seconds']:.1f} s of 30 s: only 1 usable moment in the episodes, it is in the cut; "
        f"the clip lasts {shortfall['episodes_seconds']:.1f} s."
    )
    assert report["narration"]["mode"] == "off" and "no episode has subtitles" in report["narration"]["label"]
