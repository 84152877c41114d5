"""The recap tool end to end on two generated episodes: the command line, the outputs, the edit lists, AI gating."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx2
import opentimelineio as otio
import pytest
import srt

import studio_tools
from studio_tools.core import BadInput, BadParams, InputKind, ToolInput, get, run_tool
from studio_tools.recap import EXTERNAL_AI_PARAM, Recap, model_verify
from studio_tools.recap.episodes import parse_time
from tests.studio_tools.anthropic_mock import message, mock_client
from tests.studio_tools.recap_media import make_episode, write_audio

REPO = Path(studio_tools.__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def episodes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("episodes")
    return [make_episode(folder, i, seconds=45.0) for i in range(2)]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("analysis-cache")


def cli(*args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STUDIO_TOOLS_CACHE": str(cache)}
    env.pop("ANTHROPIC_API_KEY", None)
    return subprocess.run(
        [sys.executable, "-m", "studio_tools", *args], capture_output=True, text=True, cwd=REPO, env=env, timeout=300, check=False
    )


def media_facts(path: Path) -> dict:
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)], capture_output=True, check=True
    )
    return json.loads(probe.stdout)


def integrated_loudness(path: Path) -> float:
    """Measured independently of the tool: ffmpeg's ebur128 summary."""
    done = subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-i", str(path), "-map", "0:a:0", "-af", "ebur128", "-f", "null", "-"],
        capture_output=True,
        text=True,
        check=True,
    )
    summary = done.stderr[done.stderr.rindex("Summary:") :]
    return float(re.search(r"I:\s+(-?[0-9.]+) LUFS", summary).group(1))


def run_cli(episodes, out: Path, cache: Path, *params: str, extra: tuple[str, ...] = ()) -> dict:
    (ep1, srt1), (ep2, srt2) = episodes
    args = ["run", "recap", "--input", str(ep1), "--input", str(srt1), "--input", str(ep2), "--input", str(srt2), *extra]
    for param in params:
        args += ["--param", param]
    done = cli(*args, "--out", str(out), cache=cache)
    assert done.returncode == 0, done.stderr
    return json.loads((out / "report.json").read_text())


def test_cli_two_episodes_give_a_60_second_recap_with_srt_otio_and_edl(episodes, cache, tmp_path):
    out = tmp_path / "recap"
    document = run_cli(episodes, out, cache, "target_seconds=60")
    assert sorted(p.name for p in out.iterdir()) == [
        "moments.jpg",
        "recap.edl",
        "recap.mp4",
        "recap.otio",
        "recap.srt",
        "report.json",
    ]
    report, metrics = document["report"], document["metrics"]
    assert document["uses_external_ai"] is False and document["params"][EXTERNAL_AI_PARAM] is False

    # The video: within 1 s of the target (here to the frame), 1 LU of -23 LUFS, the source's rate and size.
    facts = media_facts(out / "recap.mp4")
    streams = {s["codec_type"]: s for s in facts["streams"]}
    assert float(streams["video"]["duration"]) == pytest.approx(60.0, abs=1.0)
    assert abs(float(facts["format"]["duration"]) - 60.0) <= 1.0
    assert (
        streams["video"]["codec_name"],
        streams["video"]["r_frame_rate"],
        streams["video"]["width"],
        streams["video"]["height"],
    ) == (
        "h264",
        "25/1",
        320,
        180,
    )
    assert streams["audio"]["codec_name"] == "aac" and streams["subtitle"]["codec_name"] == "mov_text"
    loudness = integrated_loudness(out / "recap.mp4")
    assert abs(loudness - (-23.0)) <= 1.0
    assert abs(report["render"]["loudness_lufs"] - loudness) < 0.2
    print(f"recap: {float(streams['video']['duration']):.3f} s, {loudness:.2f} LUFS")

    # Per input video: shots tiling the episode, the chosen moments, the narration with citations.
    videos = report["videos"]
    assert [v["name"] for v in videos] == ["ep1.mp4", "ep2.mp4"] and [v["subtitles"] for v in videos] == ["ep1.srt", "ep2.srt"]
    cues = {}
    for number, (video, (_, subtitle)) in enumerate(zip(videos, episodes, strict=True), start=1):
        shots = video["shots"]
        assert shots[0]["start"] == 0 and len(shots) >= 8
        assert all(a["end"] == b["start"] for a, b in zip(shots, shots[1:], strict=False))
        assert shots[-1]["end"] == pytest.approx(video["duration"], abs=0.05)
        assert video["moments"], "every episode is covered"
        for item in srt.parse(subtitle.read_text()):
            cues[f"e{number}c{item.index}"] = (number, item.start.total_seconds(), item.end.total_seconds())
    moments = report["moments"]
    assert [(m["episode"], m["start"]) for m in moments] == sorted((m["episode"], m["start"]) for m in moments)  # story order
    for moment in moments:
        assert moment["score"] > 0 and moment["reasons"]
        assert moment["end"] - moment["start"] >= 2.0 - 1e-6
        for number, start, end in cues.values():
            if number == moment["episode"]:
                inside = start >= moment["start"] - 1e-3 and end <= moment["end"] + 1e-3
                outside = end <= moment["start"] + 1e-3 or start >= moment["end"] - 1e-3
                assert inside or outside, f"moment {moment['start']}-{moment['end']} cuts the line {start}-{end}"
    assert metrics["recap_seconds"] == pytest.approx(60.0, abs=1.0) and metrics["decoded_frames"] > 2000

    # Narration without external AI: extractive, labelled, every shipped sentence citing a real line.
    told = report["narration"]
    assert told["mode"] == "extractive" and "no AI model" in told["label"] and told["model"] is None
    assert metrics["ai_requests"] == 0 and metrics["narration_mode"] == "extractive"
    shipped = [s for s in told["sentences"] if s["shipped"]]
    assert shipped and all(s["citations"] and s["verdict"] in ("verified", "unverified") for s in shipped)
    assert all(s["local"] == s["verdict"] and s["model"] is None for s in told["sentences"])  # no model verifier ran
    subtitles = list(srt.parse((out / "recap.srt").read_text()))
    assert [s.content for s in subtitles] == [s["text"] for s in shipped]
    assert all(0 <= s.start.total_seconds() < s.end.total_seconds() <= 60.0 for s in subtitles)

    # The edit lists load back and point at the moments' source ranges.
    rate = 25
    timeline = otio.adapters.read_from_file(str(out / "recap.otio"))
    clips = list(timeline.find_clips())
    assert len(clips) == len(moments)
    assert timeline.duration().to_frames() == round(60.0 * rate)
    transitions = [t for t in timeline.tracks[0] if isinstance(t, otio.schema.Transition)]
    xf = round(report["selection"]["crossfade_seconds"] * rate)
    assert len(transitions) == len(moments) - 1
    for i, (clip, moment) in enumerate(zip(clips, moments, strict=True)):
        assert clip.media_reference.target_url == videos[moment["episode"] - 1]["name"]
        visible = clip.visible_range()  # the cut plus the dissolve handles: what the render used
        assert visible.start_time.to_frames() == round(moment["start"] * rate)
        assert visible.end_time_exclusive().to_frames() == round(moment["end"] * rate)
        head = xf // 2 if i > 0 else 0
        assert clip.source_range.start_time.to_frames() == round(moment["start"] * rate) + head
    edl = otio.adapters.read_from_file(str(out / "recap.edl"), rate=rate)
    edl_clips = list(edl.find_clips())
    assert len(edl_clips) == len(moments)
    for edl_clip, clip, moment in zip(edl_clips, clips, moments, strict=True):
        assert edl_clip.metadata["cmx_3600"]["reel"] == f"EP{moment['episode']:02d}"
        assert abs(edl_clip.visible_range().start_time.to_frames() - clip.visible_range().start_time.to_frames()) <= 1
        assert abs(edl_clip.visible_range().end_time_exclusive().to_frames() - round(moment["end"] * rate)) <= 1
    assert edl.duration().to_frames() == pytest.approx(timeline.duration().to_frames(), abs=1)

    # A second run, with the spoiler boundary, a music bed and the ATSC target, does not decode again.
    music = write_audio(tmp_path / "music.wav", 12.0, [(0.0, 12.0)], seed=42)
    out2 = tmp_path / "recap2"
    document = run_cli(
        episodes,
        out2,
        cache,
        "target_seconds=30",
        "spoiler_episode=2",
        "spoiler_timecode=00:00:20",
        "loudness_standard=atsc_a85",
        extra=("--input", str(music)),
    )
    report, metrics = document["report"], document["metrics"]
    assert metrics["analysis_cache_hits"] == 2 and metrics["decoded_frames"] == 0
    assert all(v["analysis"]["from_cache"] for v in report["videos"])
    assert report["render"]["music"] == "music.wav"
    assert abs(float(media_facts(out2 / "recap.mp4")["format"]["duration"]) - 30.0) <= 1.0
    assert abs(integrated_loudness(out2 / "recap.mp4") - (-24.0)) <= 1.0
    assert {m["episode"] for m in report["moments"]} == {1, 2}
    assert all(m["end"] <= 20.0 + 1e-6 for m in report["moments"] if m["episode"] == 2)
    for sentence in report["narration"]["sentences"]:
        for citation in sentence["citations"]:
            assert citation["episode"] == 1 or citation["end"] <= 20.0


def test_spoiler_boundary_leaves_out_later_episodes(episodes, cache, tmp_path):
    report = run_cli(episodes, tmp_path / "out", cache, "target_seconds=30", "spoiler_episode=1", "narration=false")["report"]
    assert report["videos"][1]["excluded"] == "after the spoiler boundary" and "shots" not in report["videos"][1]
    assert {m["episode"] for m in report["moments"]} == {1}
    assert report["narration"]["mode"] == "off" and report["narration"]["sentences"] == []
    assert (tmp_path / "out" / "recap.srt").read_text() == ""


def claude_client(*texts: str, verdicts: dict[str, tuple[str, str]] | None = None):
    """A client whose narration requests get `texts` in turn and whose verifier requests (the model verifier's
    separate request) get, per sentence, {sentence: (verdict, span)} as one claim."""
    calls, checks = [], []

    def handle(request: httpx2.Request) -> httpx2.Response:
        sent = json.loads(request.content)
        if isinstance(sent["system"], str) and sent["system"] == model_verify.INSTRUCTIONS:
            checks.append(sent)
            sentence = sent["messages"][0]["content"].split("\n")[0].removeprefix("Sentence: ")
            verdict, span = (verdicts or {}).get(sentence, ("not in the lines", ""))
            text = json.dumps({"claims": [{"claim": sentence, "verdict": verdict, "span": span}]})
        else:
            calls.append(sent)
            text = texts[min(len(calls) - 1, len(texts) - 1)]
        body = message(text, input_tokens=900, output_tokens=120, cache_write=2000 if sent in calls else 0)
        return httpx2.Response(200, json=body)

    def factory():
        return mock_client(handle)

    factory.checks = checks
    return factory, calls


def inputs_of(episodes) -> list[ToolInput]:
    (ep1, srt1), (ep2, srt2) = episodes
    return [ToolInput(p, InputKind.SUBTITLES if p.suffix == ".srt" else InputKind.FOOTAGE) for p in (ep1, srt1, ep2, srt2)]


def test_claude_narration_through_the_tool_is_verified_before_it_ships(episodes, cache, tmp_path, monkeypatch):
    monkeypatch.setenv("STUDIO_TOOLS_CACHE", str(cache))
    answer = {
        "sentences": [
            {"text": "Mara learns the ledger is gone from the vault.", "cues": ["e1c1"]},
            {"text": "Only Tobias and the caretaker knew the combination.", "cues": ["e1c2", "e1c3"]},
            {"text": "Gregor waits for them in Harwick.", "cues": ["e1c4"]},
            {"text": "Velmont burns the ledger.", "cues": ["e2c77"]},
            {"text": "Tobias hid the ledger in the chapel.", "cues": []},
            {"text": "Velmont will be waiting for them in Harwick.", "cues": ["e1c4", "e1c5"]},
        ]
    }
    # The model verifier supports the first sentence and contradicts the last, which the local verifier passes.
    verdicts = {
        "Mara learns the ledger is gone from the vault.": ("supported", "the ledger is gone from the vault"),
        "Velmont will be waiting for them in Harwick.": ("contradicted", "Velmont will be waiting for us there"),
    }
    factory, calls = claude_client("{not json", json.dumps(answer), verdicts=verdicts)
    record = run_tool(
        Recap(client_factory=factory, ai_backoff=0.0),
        inputs_of(episodes),
        {"target_seconds": 30, EXTERNAL_AI_PARAM: True, "temp_vo": False},
        tmp_path / "work",
    )
    told = record.result.report["narration"]
    assert told["mode"] == "claude" and told["model"] == "claude-sonnet-4-6"
    assert told["attempts"][0].startswith("attempt 1: the answer was not valid JSON") and len(calls) == 2
    sentences = told["sentences"]
    assert [s["verdict"] for s in sentences] == [
        "verified",
        "unverified",
        "unverified",
        "unverified",
        "unverified",
        "contradicted",
    ]
    assert [s["local"] for s in sentences] == ["verified", "unverified", "unverified", "unverified", "unverified", "verified"]
    # The model verifier ran on every sentence with lines to check against, each in its own request holding only the
    # sentence and its cited lines (speakers apart), never the episode's other cues.
    assert [s["model"] for s in sentences] == ["verified", "unverified", "unverified", None, "unverified", "contradicted"]
    checks = factory.checks
    assert len(checks) == 5 and all(c["output_config"]["format"]["type"] == "json_schema" for c in checks)
    first = checks[0]["messages"][0]["content"]
    assert first.startswith("Sentence: Mara learns the ledger is gone from the vault.")
    assert "[e1c1] unnamed speaker: Mara, the ledger is gone from the vault." in first and "e1c2" not in first
    assert [c["id"] for c in sentences[4]["citations"]] == ["e2c2", "e2c3"]
    assert any("Gregor" in p for p in sentences[2]["problems"])
    shipped_texts = [s["text"] for s in sentences if s["shipped"]]
    subtitles = [s.content for s in srt.parse((record.out_dir / "recap.srt").read_text())]
    assert subtitles == shipped_texts and not any("Velmont will be waiting" in t for t in subtitles)
    metrics = record.result.metrics
    assert (metrics["ai_requests"], metrics["ai_input_tokens"], metrics["ai_output_tokens"]) == (7, 7 * 900, 7 * 120)
    assert metrics["ai_cache_write_tokens"] == 4000  # only the narration requests carry the cached cue block
    assert metrics["ai_cost_usd"] == pytest.approx((7 * 900 * 3 + 4000 * 3.75 + 7 * 120 * 15) / 1e6)
    assert metrics["verifier"] == "local claims + claude-sonnet-4-6"
    assert (metrics["narration_verified"], metrics["narration_unverified"], metrics["narration_contradicted"]) == (1, 4, 1)
    assert record.result.report["external_ai"] == {"allowed_by_params": True, "used": True, "provider": "Anthropic API"}
    # every request went through the provider seam, which keeps where it went and what it cost
    ai_record = record.result.report["ai"]
    assert (ai_record["provider"], ai_record["kind"], ai_record["model"]) == ("anthropic", "anthropic", "claude-sonnet-4-6")
    assert ai_record["requests"] == 7 and ai_record["input_tokens"] == 7 * 900
    assert ai_record["cost_usd"] == pytest.approx(metrics["ai_cost_usd"])
    assert "claude-sonnet-4-6" in next(o.label for o in record.result.outputs if o.name == "recap")
    assert "4 sentence(s) unverified" in next(o.label for o in record.result.outputs if o.name == "recap")


def test_external_ai_needs_the_param_and_a_key(episodes, monkeypatch):
    calls = []
    tool = Recap(client_factory=lambda: calls.append(1))
    from studio_tools.recap import moments

    cues = [
        c for e in __import__("studio_tools.recap.episodes", fromlist=["gather"]).gather(inputs_of(episodes))[0] for c in e.cues
    ]
    salience = moments.Salience.build(cues)
    params = get("recap").spec.parse_params({"target_seconds": 60})
    told = tool._narrate(params, cues, set(), salience, 60.0, cancelled=lambda: None)
    assert told.mode == "extractive" and calls == []  # external_ai is off: the client is never even built

    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("AI_PROVIDERS", raising=False)
    monkeypatch.delenv("AI_PROVIDERS_FILE", raising=False)
    params = get("recap").spec.parse_params({"target_seconds": 60, EXTERNAL_AI_PARAM: True})
    told = Recap()._narrate(params, cues, set(), salience, 60.0, cancelled=lambda: None)
    assert told.mode == "extractive" and "no model provider is configured on this worker" in told.fallback_reason


def test_spec_declares_no_external_ai_and_marks_the_opt_in_param():
    spec = get("recap").spec
    assert spec.uses_external_ai is False
    schema = spec.params_schema()["properties"]
    assert schema[EXTERNAL_AI_PARAM]["x-external-ai"] is True and schema[EXTERNAL_AI_PARAM]["default"] is False
    assert [k for k, v in schema.items() if v.get("x-external-ai")] == [EXTERNAL_AI_PARAM]


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"spoiler_timecode": "00:10:00"}, "parameters"),
        ({"spoiler_episode": 1, "spoiler_timecode": "ten past"}, "parameters"),
        ({"target_seconds": 20}, "target_seconds"),
        ({"crossfade_seconds": 1.5, "min_clip_seconds": 2}, "parameters"),
        ({"language": "english"}, "language"),
    ],
)
def test_bad_params_are_refused(values, field):
    with pytest.raises(BadParams) as caught:
        get("recap").spec.parse_params(values)
    assert caught.value.problems[0].field == field


def test_subtitles_must_follow_their_episode(episodes, tmp_path):
    (ep1, srt1), _ = episodes
    with pytest.raises(BadInput, match="subtitles must follow the episode"):
        run_tool(
            "recap", [ToolInput(srt1, InputKind.SUBTITLES), ToolInput(ep1, InputKind.FOOTAGE)], {"target_seconds": 30}, tmp_path
        )
    with pytest.raises(BadInput, match="already has subtitles"):
        run_tool(
            "recap", [ToolInput(ep1, "footage"), ToolInput(srt1, "subtitles"), ToolInput(srt1, "subtitles")], {}, tmp_path / "b"
        )


def test_parse_time():
    assert parse_time("00:01:30.5") == 90.5 and parse_time("2:05") == 125 and parse_time("42") == 42.0
    with pytest.raises(ValueError):
        parse_time("-3")


def test_temp_vo_only_with_espeak_and_labelled(episodes, cache, tmp_path, monkeypatch):
    """With espeak-ng installed the narration is spoken and labelled temp VO; without it, there is none and the report says so."""
    monkeypatch.setenv("STUDIO_TOOLS_CACHE", str(cache))
    record = run_tool("recap", inputs_of(episodes), {"target_seconds": 30, "crossfade_seconds": 0}, tmp_path / "work")
    report = record.result.report
    label = next(o.label for o in record.result.outputs if o.name == "recap")
    tags = next(s for s in media_facts(record.out_dir / "recap.mp4")["streams"] if s["codec_type"] == "audio")["tags"]
    title = tags.get("title") or tags.get("handler_name", "")
    if shutil.which("espeak-ng"):
        assert report["render"]["temp_vo"] is True and "TEMP VO" in label and "TEMP VO" in title
    else:
        assert (
            report["render"]["temp_vo"] is False
            and "TEMP VO" not in label
            and "espeak-ng is not installed" in report["narration"]["temp_vo"]
        )
    assert abs(report["render"]["duration_seconds"] - 30.0) <= 1.0
    assert abs(report["render"]["loudness_lufs"] + 23.0) <= 1.0
