"""A reviewer's edit of a recap: rendered as given from the cached analysis, verified, refused clearly when it cannot be cut."""

from __future__ import annotations

import json

import cv2
import pytest
import srt

from studio_tools.core import BadInput, BadParams, get
from tests.studio_tools.recap_media import make_episode
from tests.studio_tools.test_recap_tool import media_facts, run_cli


@pytest.fixture(scope="module")
def episodes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("episodes")
    return [make_episode(folder, i, seconds=45.0) for i in range(2)]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("analysis-cache")


@pytest.fixture(scope="module")
def first(episodes, cache, tmp_path_factory):
    out = tmp_path_factory.mktemp("first")
    return out, run_cli(episodes, out, cache, "target_seconds=60")


def as_edit(report: dict) -> dict:
    return {
        "moments": [{"episode": m["episode"], "start": m["start"], "end": m["end"]} for m in report["moments"]],
        "sentences": [
            {"text": s["text"], "cues": [c["id"] for c in s["citations"]], "origin": s["origin"]}
            for s in report["narration"]["sentences"]
        ],
    }


def test_first_run_offers_thumbnails_and_suggestions(first):
    out, document = first
    report = document["report"]
    sheet = report["thumbnails"]
    moments, offered = report["moments"], report["suggestions"]
    assert offered, "a reviewer has moments to add"
    assert [m["thumb"] for m in moments + offered] == list(range(len(moments) + len(offered))) == list(range(sheet["count"]))
    image = cv2.imread(str(out / sheet["file"]))
    assert image.shape == (sheet["rows"] * sheet["tile_height"], sheet["columns"] * sheet["tile_width"], 3)
    # Each tile is a real frame (the generated episodes are colourful), not a black placeholder.
    for i in range(sheet["count"]):
        row, col = divmod(i, sheet["columns"])
        tile = image[row * 108 : (row + 1) * 108, col * 192 : (col + 1) * 192]
        assert tile.mean() > 20, f"tile {i} is black"
    for s in offered:  # suggestions never overlap a chosen moment
        assert not any(
            m["episode"] == s["episode"] and m["start"] < s["end"] - 1e-3 and s["start"] < m["end"] - 1e-3 for m in moments
        )
        assert s["score"] > 0 and s["reasons"]
    for m in moments:
        assert [line["id"] for line in m["lines"]] == m["cues"]


def test_edit_renders_the_reviewers_cut_from_the_cached_analysis(first, episodes, cache, tmp_path):
    _, document = first
    report = document["report"]
    edit = as_edit(report)
    removed = edit["moments"].pop(1)
    edit["moments"][0], edit["moments"][1] = edit["moments"][1], edit["moments"][0]
    added = report["suggestions"][0]
    edit["moments"].append({"episode": added["episode"], "start": added["start"], "end": added["end"]})
    cited = edit["sentences"][0]["cues"]
    edit["sentences"][0] = {"text": "Vasquez returns to the vault in 1987.", "cues": cited, "origin": "edited"}
    # the reviewer marks the second quoted line as a quotation: still its line's words, in order
    edit["sentences"][1]["text"] = "“" + edit["sentences"][1]["text"].strip(' “”"') + "”"
    edit["sentences"][1]["origin"] = "edited"

    out = tmp_path / "again"
    again = run_cli(episodes, out, cache, "target_seconds=60", "edit=" + json.dumps(edit))
    metrics, new = again["metrics"], again["report"]

    # Not analysed again: every episode from the cache, no frame decoded.
    assert metrics["analysis_cache_hits"] == 2 and metrics["decoded_frames"] == 0
    # The moments are the reviewer's, in the reviewer's order, and the removed one is gone.
    got = [(m["episode"], m["start"], m["end"]) for m in new["moments"]]
    assert got == [
        (m["episode"], pytest.approx(m["start"], abs=0.021), pytest.approx(m["end"], abs=0.021)) for m in edit["moments"]
    ]
    assert (removed["episode"], removed["start"]) not in [(e, s) for e, s, _ in got]
    assert new["edit_applied"] is True
    # The length is what the cut adds up to (frames minus crossfades), not the target.
    rate, xf = 25.0, round(0.5 * 25)
    frames = sum(round((m["end"] - m["start"]) * rate) for m in new["moments"]) - (len(new["moments"]) - 1) * xf
    video = next(s for s in media_facts(out / "recap.mp4")["streams"] if s["codec_type"] == "video")
    assert float(video["duration"]) == pytest.approx(frames / rate, abs=0.1)

    # The invented name and year leave the sentence unverified: rendered for a person to judge, never "verified";
    # the rest is labelled as edited.
    narration = new["narration"]
    assert narration["mode"] == "edited" and "written or changed by a reviewer" in narration["label"]
    invented = narration["sentences"][0]
    assert invented["verdict"] == "unverified" and invented["local"] == "unverified" and invented["model"] is None
    assert any("Vasquez" in p for p in invented["problems"]) and any("1987" in p for p in invented["problems"])
    assert narration["verdicts"]["unverified"] >= 1
    shipped_text = " ".join(s.content for s in srt.parse((out / "recap.srt").read_text()))
    assert invented["shipped"] and "Vasquez" in shipped_text
    assert narration["sentences"][1]["verdict"] == "verified"  # the reviewer's rewording still quotes its line
    assert all(s["text"] in shipped_text for s in narration["sentences"] if s["shipped"])
    subtitle = next(s for s in media_facts(out / "recap.mp4")["streams"] if s["codec_type"] == "subtitle")
    assert "edited by a reviewer" in subtitle["tags"]["handler_name"]


@pytest.mark.parametrize(
    ("moment", "message"),
    [
        ({"episode": 3, "start": 1, "end": 5}, "there is no episode 3; the run has 2"),
        ({"episode": 1, "start": 40, "end": 60}, "ends after the end of the episode"),
        ({"episode": 1, "start": 10, "end": 10.4}, "is too short"),
    ],
)
def test_an_edit_that_cannot_be_cut_is_refused_by_name(first, episodes, cache, tmp_path, moment, message):
    from studio_tools.core import run_tool
    from tests.studio_tools.test_recap_tool import inputs_of

    _, document = first
    edit = as_edit(document["report"])
    edit["moments"].insert(1, moment)
    with pytest.raises(BadInput, match="moment 2 of the edit") as caught:
        run_tool("recap", inputs_of(episodes), {"target_seconds": 60, "edit": edit}, tmp_path)
    assert message in str(caught.value)


def test_an_edit_past_the_spoiler_boundary_is_refused(first, episodes, tmp_path):
    from studio_tools.core import run_tool
    from tests.studio_tools.test_recap_tool import inputs_of

    edit = {"moments": [{"episode": 1, "start": 0, "end": 5}, {"episode": 2, "start": 0, "end": 5}]}
    with pytest.raises(BadInput, match=r"moment 2 of the edit \(episode 2.*lies past the spoiler boundary"):
        run_tool("recap", inputs_of(episodes), {"spoiler_episode": 1, "edit": edit}, tmp_path)
    edit = {"moments": [{"episode": 1, "start": 20, "end": 30}]}
    with pytest.raises(BadInput, match="ends after the spoiler boundary"):
        run_tool("recap", inputs_of(episodes), {"spoiler_episode": 1, "spoiler_timecode": "25", "edit": edit}, tmp_path / "b")


@pytest.mark.parametrize(
    "edit",
    [
        {"moments": []},
        {"moments": [{"episode": 1, "start": 5, "end": 2}]},
        {"moments": [{"episode": 1, "start": 0, "end": 5}], "sentences": [{"text": "  ", "cues": []}]},
        {"moments": [{"episode": 1, "start": 0, "end": 5}], "sentences": [{"text": "Hi.", "cues": ["line 4"]}]},
        {"moments": [{"episode": 1, "start": 0, "end": 5, "extra": 1}]},
    ],
)
def test_malformed_edits_are_refused_before_running(edit):
    with pytest.raises(BadParams) as caught:
        get("recap").spec.parse_params({"edit": edit})
    assert caught.value.problems[0].field.startswith("edit")
