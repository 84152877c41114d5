"""Recap: a short "previously on" of one or more episodes, with grounded narration and an editable edit list.

Steps (each reported as a progress stage): inputs -> shots (cached per file content) -> moments ->
selection -> narration (Claude when allowed, else extractive; always verified) -> render -> edit lists.

External AI: the spec says `uses_external_ai=False` because by default nothing leaves the worker.
Sending the subtitle text to Anthropic is opt-in per run with the `external_ai` parameter, which is
marked in the parameter schema with `"x-external-ai": true` so the portal can refuse that parameter
(rather than the whole tool) for a studio that does not allow external AI. Without the parameter, or
without ANTHROPIC_API_KEY on the worker, the narration is extractive and labelled as such.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from studio_tools import ai
from studio_tools.core import (
    BadInput,
    InputKind,
    InputSlot,
    OutputFile,
    OutputKind,
    Progress,
    ToolInput,
    ToolParams,
    ToolResult,
    ToolSpec,
    out_dir,
)
from studio_tools.core.messages import define, message, texts
from studio_tools.recap import analysis as analysis_mod
from studio_tools.recap import assemble, edit, episodes, model_verify, moments, narration, select, thumbs, verify

# The outputs' fixed labels, defined as messages so a front end can word them in its reader's language.
OUTPUT_LABELS = {
    "timeline": "Edit (OpenTimelineIO)",
    "edl": "Edit (CMX 3600 EDL)",
    "moments": "Moment thumbnails (sprite sheet)",
}
for _name, _label in OUTPUT_LABELS.items():
    define(f"recap.output.{_name}", _label)

VERSION = "1.0.0"
EXTERNAL_AI_PARAM = "external_ai"
API_KEY_ENV = "ANTHROPIC_API_KEY"
WORDS_PER_SECOND = 2.6  # reading/speaking pace used to time a sentence without a voice-over


class EditMoment(BaseModel):
    """One moment of a reviewer's edit: a range of an episode (seconds from its start)."""

    model_config = ConfigDict(extra="forbid")
    episode: int = Field(ge=1, le=999)
    start: float = Field(ge=0, le=360_000)
    end: float = Field(gt=0, le=360_000)

    @model_validator(mode="after")
    def _ordered(self) -> EditMoment:
        if self.end <= self.start:
            raise ValueError(f"a moment must end after it starts (episode {self.episode}: {self.start:g} s to {self.end:g} s)")
        return self


class EditSentence(BaseModel):
    """One narration sentence of a reviewer's edit, with the ids of the subtitle lines it rests on."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=500)
    cues: list[str] = Field(default_factory=list, max_length=20)
    origin: Literal["claude", "extractive", "edited"] = Field(
        "edited", description="Where the text comes from: unchanged from an AI or extractive draft, or written by a reviewer."
    )

    @field_validator("text")
    @classmethod
    def _text(cls, value: str) -> str:
        value = " ".join(value.split())
        if not value:
            raise ValueError("a narration sentence cannot be empty")
        return value

    @field_validator("cues")
    @classmethod
    def _cue_ids(cls, value: list[str]) -> list[str]:
        for cue in value:
            if not episodes.CUE_ID.fullmatch(cue):
                raise ValueError(f"{cue!r} is not a subtitle line id (they look like e2c14)")
        return value


class RecapEdit(BaseModel):
    """A reviewer's edit of a recap: the moments in the order to play them and the narration sentences.
    Rendering it reuses the cached analysis and chooses nothing: what is listed is what is cut."""

    model_config = ConfigDict(extra="forbid")
    moments: list[EditMoment] = Field(min_length=1, max_length=100)
    sentences: list[EditSentence] = Field(default_factory=list, max_length=40)
    draft_model: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9.:@-]{1,79}$")


class RecapParams(ToolParams):
    target_seconds: float = Field(180.0, ge=30, le=600, description="Length of the recap in seconds.")
    spoiler_episode: int | None = Field(None, ge=1, description="Use nothing after this episode (1 = the first given).")
    spoiler_timecode: str | None = Field(
        None, max_length=20, description="Within spoiler_episode, use nothing after this time (HH:MM:SS[.mmm] or seconds)."
    )
    narration: bool = Field(True, description="Add a narration (subtitle track, SRT and, if espeak-ng is installed, a temp VO).")
    external_ai: bool = Field(
        False,
        description="Let Claude (Anthropic, an external AI provider) write the narration from the subtitle text. "
        "Off: the narration quotes the subtitles and no data leaves the worker.",
        json_schema_extra={"x-external-ai": True},
    )
    model: str | None = Field(
        None,
        pattern=r"^[a-z0-9][a-z0-9.:@-]{1,79}$",
        description="Claude model (default: the provider's default, STUDIO_TOOLS_RECAP_MODEL or claude-sonnet-4-6).",
        json_schema_extra={"x-ai-model": True},
    )
    ai_provider: str | None = Field(
        None,
        pattern=r"^[a-z0-9][a-z0-9-]{0,39}$",
        description="Which model provider to ask, when external_ai is on (default: the studio's default for this tool).",
        json_schema_extra={"x-ai-provider": True},
    )
    narration_attribution: bool = Field(
        False, description="Extractive narration: name the speaker of a quoted line (“Marta: …”) when its subtitle does."
    )
    language: str = Field("en", pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$", description="Language of the narration (ISO 639-1).")
    min_clip_seconds: float = Field(2.0, ge=0.5, le=30, description="Shortest moment.")
    max_clip_seconds: float = Field(12.0, ge=2, le=60, description="Longest moment.")
    dialogue_clips: bool = Field(True, description="Allow moments with dialogue (off: only moments without lines).")
    crossfade_seconds: float = Field(0.5, ge=0, le=2, description="Picture and sound crossfade between moments (0: hard cuts).")
    loudness_standard: Literal["ebu_r128", "atsc_a85"] = Field(
        "ebu_r128", description="ebu_r128: -23 LUFS; atsc_a85: -24 LKFS (both within 1 LU, true peak under -1 dBTP)."
    )
    temp_vo: bool = Field(True, description="Speak the narration with espeak-ng as a temp VO, when it is installed.")
    reuse_analysis: bool = Field(True, description="Reuse the cached shot analysis of an episode seen before.")
    edit: RecapEdit | None = Field(
        None,
        description="A reviewer's edit (moments in playing order and narration sentences), as the run page's editor "
        "writes it: rendered as given, without choosing moments or writing narration again.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> RecapParams:
        if self.spoiler_timecode is not None:
            if self.spoiler_episode is None:
                raise ValueError("spoiler_timecode needs spoiler_episode")
            try:
                episodes.parse_time(self.spoiler_timecode)
            except ValueError:
                raise ValueError("spoiler_timecode must look like 00:12:30 or 750") from None
        if self.min_clip_seconds > self.max_clip_seconds:
            raise ValueError("min_clip_seconds must not exceed max_clip_seconds")
        if self.crossfade_seconds * 2 > self.min_clip_seconds:
            raise ValueError("crossfade_seconds must be at most half of min_clip_seconds")
        return self


SPEC = ToolSpec(
    name="recap",
    version=VERSION,
    title="Recap",
    description="A short recap of episodes in story order, with narration grounded in the subtitles (each sentence cites "
    "its lines), as MP4, SRT, OpenTimelineIO and CMX 3600 EDL. Inputs in order: each episode video, followed by its "
    ".srt/.vtt if any; optionally a music bed. External AI only with the external_ai parameter.",
    inputs=(
        InputSlot(
            "media",
            (InputKind.FOOTAGE, InputKind.SUBTITLES, InputKind.MUSIC),
            1,
            None,
            "Episodes in story order, each followed by its subtitles (.srt/.vtt); optionally one music bed.",
        ),
    ),
    params_model=RecapParams,
    uses_external_ai=False,
)


class Recap:
    spec = SPEC

    def __init__(self, client_factory: Callable[[], Any] | None = None, *, ai_backoff: float = 2.0) -> None:
        self._client_factory = client_factory
        self._ai_backoff = ai_backoff

    def run(self, inputs: list[ToolInput], params: RecapParams, workdir: Path, progress: Progress) -> ToolResult:
        workdir = Path(workdir)
        out = out_dir(workdir)
        scratch = workdir / "recap-scratch"
        scratch.mkdir(parents=True, exist_ok=True)

        cancelled = progress.is_cancelled
        progress.update(0.0, stage="inputs")
        given, music = episodes.gather(inputs)
        limit = episodes.parse_time(params.spoiler_timecode)
        usable = episodes.apply_spoiler_boundary(given, params.spoiler_episode, limit)
        progress.check_cancelled()

        # shots
        cache = analysis_mod.cache_dir(workdir) if params.reuse_analysis else None
        analyses: dict[int, analysis_mod.VideoAnalysis] = {}
        span = 0.5 / len(usable)
        for i, episode in enumerate(usable):
            progress.update(0.02 + i * span, stage="shots", message=f"episode {episode.number}: {episode.name}")
            step = progress.scaled(0.02 + i * span, 0.02 + (i + 1) * span)
            analyses[episode.number] = analysis_mod.analyse(
                episode.video.path, episode.info, episode.sha256, cache=cache, progress=step.update, cancelled=cancelled
            )
            times = analyses[episode.number].times
            episode.picture_start = float(times[0]) if len(times) else 0.0
            progress.check_cancelled()

        # moments
        progress.update(0.55, stage="moments")
        cues = moments.all_cues(usable)
        salience = moments.Salience.build(cues)
        features = {e.number: moments.shot_features(e, analyses[e.number], salience, limit=e.limit) for e in usable}
        pools = {
            e.number: moments.candidates(
                e,
                analyses[e.number],
                features[e.number],
                salience,
                min_seconds=params.min_clip_seconds,
                max_seconds=params.max_clip_seconds,
                dialogue_clips=params.dialogue_clips,
            )
            for e in usable
        }
        # A clip too short to offer a moment of min_clip_seconds (and with no line to cut) is its own moment.
        shortest = max(0.5, 2 * params.crossfade_seconds + 0.1)
        for e in usable:
            if not pools[e.number]:
                whole = select.whole_clip(
                    e, analyses[e.number], features[e.number], salience, max_seconds=params.max_clip_seconds, shortest=shortest
                )
                pools[e.number] = [whole] if whole is not None else []
        if all(not pools[e.number] for e in usable) and params.edit is None:
            if any(e.eligible_cues() for e in usable):
                raise BadInput(
                    "no moment of at least min_clip_seconds could be cut from the episodes without cutting a line of dialogue"
                )
            longest = max(e.usable_end for e in usable)
            raise BadInput(f"no moment could be cut: the longest usable episode lasts {longest:.2f} s, under {shortest:.2f} s")

        # selection
        progress.update(0.6, stage="selection")
        first = usable[0].info.video
        assert first is not None
        # The recap keeps the first episode's true rate (its nominal rate if it is variable); another
        # episode at another rate is retimed to it (frames repeated or left out, never sped up).
        rate = usable[0].timecode.rate.rate
        if params.edit is not None:
            chosen = _selection_from_edit(params.edit, given, usable, analyses, features, salience, params, float(rate))
        else:
            chosen = select.choose(
                pools,
                usable,
                analyses,
                target_seconds=params.target_seconds,
                crossfade_seconds=params.crossfade_seconds,
                rate=float(rate),
            )
        progress.check_cancelled()

        # narration
        progress.update(0.62, stage="narration")
        cue_map = {c.id: c for c in cues}
        known_ids = {c.id for e in given for c in e.cues}
        in_recap = {cid for clip in chosen.clips for cid in clip.candidate.cues}
        if params.edit is not None:
            told = _edited_narration(params)
        else:
            shares: dict[int, float] = {}
            for clip in chosen.clips:
                shares[clip.episode] = shares.get(clip.episode, 0.0) + clip.duration
            told = self._narrate(params, cues, in_recap, salience, chosen.duration, shares, cancelled=progress.check_cancelled)
        verify.verify(told.sentences, cue_map, known_ids)
        verify_model = self._model_check(params, told, cue_map, progress.check_cancelled)
        if told.session is not None:
            told.session.close()  # no more requests; its calls stay for the report
        # Unverified sentences are rendered (a person must see them to sign them off); contradicted ones never are.
        shipped = [s for s in told.sentences if s.verdict in verify.SHIPPED]
        voices: list[tuple[Path, float]] | None = None
        vo_note = "temp VO off"
        if params.narration and params.temp_vo and shipped:
            voices = assemble.speak([s.text for s in shipped], params.language.split("-")[0], scratch / "vo", cancelled)
            vo_note = "temp VO by espeak-ng" if voices is not None else NO_TEMP_VO
        durations = {id(s): (voices[i][1] if voices else None) for i, s in enumerate(shipped)}
        timeline_starts = _timeline_starts(chosen)
        _place(shipped, chosen, timeline_starts, cue_map, durations)

        # render
        progress.update(0.65, stage="render")
        srt_path = out / "recap.srt"
        srt_count = edit.write_srt(told.sentences, srt_path)
        target_lufs = assemble.LOUDNESS_TARGETS[params.loudness_standard]
        width, height = _output_size(first)
        plan = assemble.RenderPlan(
            clips=[
                assemble.ClipSource(
                    path=_episode(usable, c.episode).video.path,
                    demuxer=_episode(usable, c.episode).info.demuxer,
                    video_index=_episode(usable, c.episode).info.video.index,
                    audio_index=(
                        _episode(usable, c.episode).info.audio.index if _episode(usable, c.episode).info.audio else None
                    ),
                    start=c.start + 0.0,
                    frames=c.frames,
                    source_rate=_episode(usable, c.episode).timecode.rate.rate,
                    display_size=_output_size(_episode(usable, c.episode).info.video),
                    constant_rate=not _episode(usable, c.episode).info.video.variable_frame_rate,
                )
                for c in chosen.clips
            ],
            rate=rate,
            width=width,
            height=height,
            crossfade_frames=chosen.crossfade_frames,
            loudness_target=target_lufs,
            subtitles=srt_path if srt_count else None,
            subtitle_language=assemble.ISO_639_2.get(params.language.split("-")[0], "und"),
            subtitle_title=_track_title(told),
            voices=[
                assemble.Voice(voices[i][0], s.start, voices[i][1])
                for i, s in enumerate(shipped)
                if voices is not None and s.start is not None
            ],
            music=(music.input.path, music.info.demuxer, music.info.audio.index)
            if music is not None and music.info.audio
            else None,
            comment=f"Recap draft by studio_tools recap {VERSION}. "
            + (told.label if params.narration else "No narration.")
            + (" Temp VO: espeak-ng scratch voice, not for broadcast." if voices else ""),
        )
        render_progress = progress.scaled(0.65, 0.95)
        rendered = assemble.render(
            plan, out / "recap.mp4", scratch / "render", progress=render_progress.update, cancelled=cancelled
        )

        # thumbnails of the chosen moments and of the suggested ones, for the run page's editor
        progress.update(0.95, stage="thumbnails")
        offered = select.suggestions(pools, chosen)
        grabs = [
            thumbs.Grab(_episode(usable, m.episode).video.path, _episode(usable, m.episode).info, (m.start + m.end) / 2)
            for m in [*chosen.clips, *offered]
        ]
        sheet = thumbs.sprite(grabs, out / "moments.jpg", cancelled=cancelled)
        progress.check_cancelled()

        # edit lists
        progress.update(0.96, stage="edit lists")
        timeline = edit.build_timeline(chosen, usable, told.sentences, name="Recap")
        edit.write_otio(timeline, out / "recap.otio")
        edit.write_edl(timeline, out / "recap.edl", float(rate))

        report = self._report(
            params, given, usable, analyses, features, pools, chosen, told, cue_map, rendered, rate, width, height, target_lufs,
            vo_note, voices is not None, music, cache, offered, sheet,
        )  # fmt: skip
        metrics = self._metrics(analyses, chosen, told, rendered, verify_model)
        outputs = [
            OutputFile("recap.mp4", OutputKind.GENERATED, "recap", "video/mp4", label=_video_label(told, voices is not None)),
            OutputFile("recap.srt", OutputKind.SUBTITLES, "narration", "application/x-subrip", label=told.label),
            OutputFile(
                "recap.otio", OutputKind.EDL, "timeline", "application/vnd.opentimelineio+json", label=OUTPUT_LABELS["timeline"]
            ),
            OutputFile("recap.edl", OutputKind.EDL, "edl", "text/plain", label=OUTPUT_LABELS["edl"]),
            OutputFile("moments.jpg", OutputKind.IMAGE, "moments", "image/jpeg", label=OUTPUT_LABELS["moments"]),
        ]
        return ToolResult(outputs=outputs, report=report, metrics=metrics)

    # --- narration -------------------------------------------------------------------------------

    def _narrate(self, params: RecapParams, cues, in_recap, salience, duration, shares=None, *, cancelled) -> narration.Narration:
        if not params.narration:
            return narration.Narration(mode="off", label="No narration (narration=false).")
        count = max(1, min(20, round(duration / 15)))
        quotes = max(1, min(20, round(duration / 8)))  # quoted lines are short: one about every 8 s
        reason, words = None, None
        if not cues:
            return narration.Narration(mode="off", label=TEMPLATES_NO_SUBTITLES)
        if params.external_ai:
            session, unavailable = self._open_ai(params)
            if session is None:
                words = message("recap.ai_unavailable", why=unavailable)
                reason = words["text"]
            else:
                model = session.model
                try:
                    told = narration.claude_narration(
                        session, cues, in_recap, model=model, sentences=count, language=params.language,
                        target_seconds=duration, backoff=self._ai_backoff, cancelled=cancelled,
                    )  # fmt: skip
                    told.session = session
                    return told
                except narration.NarrationUnavailable as exc:
                    words = message("recap.claude_unusable", model=model, provider=session.provider.label, why=exc.reason)
                    reason = words["text"]
                    fallback = narration.extractive_narration(
                        cues, in_recap, salience, sentences=quotes, shares=shares, attribute=params.narration_attribution
                    )
                    fallback.fallback_reason, fallback.fallback_words = reason, words
                    fallback.usage = exc.partial.usage
                    fallback.model = model
                    fallback.attempts = exc.partial.attempts
                    fallback.session = session
                    return fallback
        result = narration.extractive_narration(
            cues, in_recap, salience, sentences=quotes, shares=shares, attribute=params.narration_attribution
        )
        result.fallback_reason, result.fallback_words = reason, words
        return result

    def _model_check(self, params: RecapParams, told: narration.Narration, cue_map, cancelled) -> str | None:
        """The second verifier, a separate model request per sentence, where the run allows external AI and a key
        (or a client) is there; returns the model used, or None when only the local verifier ran."""
        if not params.external_ai or not told.sentences:
            return None
        session = told.session
        if session is None:
            session, _unavailable = self._open_ai(params)
            if session is None:
                return None
            told.session = session
        model_verify.check_all(
            session, told.sentences, cue_map, model=session.model, usage=told.usage,
            backoff=self._ai_backoff, cancelled=cancelled,
        )  # fmt: skip
        return session.model

    def _open_ai(self, params: RecapParams) -> tuple[ai.Session | None, str | None]:
        """The run's model session (the provider it names, or the one its policy gives), or why there is none.
        A provider the run may not use raises AIRefused: the run fails, and nothing was sent."""
        model = params.model or os.environ.get(narration.MODEL_ENV, "").strip() or None
        if self._client_factory is not None:
            return ai.session_for_client(self._client_factory(), model or narration.DEFAULT_MODEL), None
        try:
            return ai.open_session(params.ai_provider, model=model, default_model=narration.DEFAULT_MODEL, max_retries=4), None
        except ai.AIUnavailable as exc:
            return None, exc.reason

    # --- report ----------------------------------------------------------------------------------

    def _report(self, params, given, usable, analyses, features, pools, chosen, told, cue_map, rendered, rate, width, height,
                target_lufs, vo_note, has_vo, music, cache, offered, sheet) -> dict[str, Any]:  # fmt: skip
        usable_numbers = {e.number for e in usable}
        timeline_starts = _timeline_starts(chosen)

        def lines(ids: list[str]) -> list[dict[str, Any]]:
            return [cue_map[c].to_dict() for c in ids if c in cue_map]

        moments_out = []
        for i, (clip, at) in enumerate(zip(chosen.clips, timeline_starts, strict=True)):
            moments_out.append(
                {
                    **clip.to_dict(),
                    "recap_start": round(at, 3),
                    "recap_end": round(at + clip.duration, 3),
                    "thumb": i,
                    "lines": lines(clip.candidate.cues),
                }
            )
        offered_out = []
        for j, c in enumerate(offered):
            offered_out.append(
                {
                    "episode": c.episode,
                    "start": round(c.start, 6),
                    "end": round(c.end, 6),
                    "duration": round(c.duration, 6),
                    "scene": c.scene,
                    "shots": c.shots,
                    "cues": c.cues,
                    "score": round(c.score, 4),
                    "signals": {k: round(v, 3) for k, v in c.parts.items()},
                    "reasons": list(c.reasons),
                    "thumb": len(chosen.clips) + j,
                    "lines": lines(c.cues),
                }
            )
        sentences = [s.to_dict(cue_map) for s in told.sentences]
        videos = []
        rate_notes = _rate_notes(given, usable, rate)
        for episode in given:
            timecode = episode.timecode
            entry: dict[str, Any] = {
                "episode": episode.number,
                "name": episode.name,
                "sha256": episode.sha256,
                "duration": round(episode.duration, 6),
                "frame_rate": episode.info.video.frame_rate if episode.info.video else None,
                "variable_frame_rate": timecode.variable,
                "timecode_rate": timecode.rate.text,
                "timecode_note": timecode.note,
                "audio": episode.info.audio is not None,
                "subtitles": episode.subtitles.display_name if episode.subtitles else None,
                "cues": len(episode.cues),
            }
            if episode.number not in usable_numbers:
                entry["excluded"] = "after the spoiler boundary"
                videos.append(entry)
                continue
            a = analyses[episode.number]
            entry["usable_until"] = round(episode.usable_end, 3)
            entry["analysis"] = {
                "detector": f"PySceneDetect AdaptiveDetector + dissolve detector ({analysis_mod.DETECTOR_VERSION})",
                "decode_width": analysis_mod.ANALYSIS_WIDTH,
                "from_cache": a.from_cache,
                "decoded_frames": a.decoded_frames,
                "frames": int(len(a.times)),
                "faces": "measured (YuNet)" if a.faces_measured else "not measured (no face model installed)",
            }
            entry["shots"] = [f.to_dict() for f in features[episode.number]]
            entry["transitions"] = [
                {"time": round(b.time, 6), "frame": b.frame, "kind": b.kind, "frames": b.length} for b in a.boundaries
            ]
            entry["candidate_moments"] = len(pools[episode.number])
            entry["moments"] = [m for m in moments_out if m["episode"] == episode.number]
            entry["narration"] = [s for s in sentences if any(c["episode"] == episode.number for c in s["citations"])]
            videos.append(entry)
        shortfall = (
            None
            if params.edit is not None
            else select.shortfall(
                chosen,
                pools,
                usable,
                given,
                target_seconds=params.target_seconds,
                spoiler=params.spoiler_episode is not None,
                dialogue_clips=params.dialogue_clips,
            )
        )
        verdicts: dict[str, int] = {}
        for s in told.sentences:
            verdicts[s.verdict] = verdicts.get(s.verdict, 0) + 1
        return {
            # what the run page shows above the outputs: where the recap is not what was asked for
            "warnings": texts(warnings := _warnings(params, told, shortfall, vo_note)),
            "messages": {"warnings": warnings, "summary_lines": []},
            "videos": videos,
            "moments": moments_out,
            "suggestions": offered_out,
            "thumbnails": sheet.to_dict(),
            "edit_applied": params.edit is not None,
            "narration": {
                "mode": told.mode,
                "label": told.label,
                "model": told.model if told.mode == "claude" else None,
                "model_attempted": told.model if told.mode not in ("claude", "edited") else None,
                "draft_model": told.model if told.mode == "edited" else None,
                "fallback_reason": told.fallback_reason,
                "attempts": told.attempts,
                "verdicts": verdicts,
                "sentences": sentences,
                "temp_vo": vo_note,
            },
            "selection": {
                "target_seconds": params.target_seconds,
                "duration_seconds": round(chosen.duration, 3),
                "frames": chosen.total_frames,
                "crossfade_seconds": round(chosen.crossfade_frames / float(rate), 6),
                "episodes_used": [e.number for e in usable],
                "episodes_covered": sorted({c.episode for c in chosen.clips}),
                "spoiler_boundary": {"episode": params.spoiler_episode, "timecode": params.spoiler_timecode},
                "target_met": shortfall is None,
                "shortfall": shortfall,
            },
            "render": {
                "duration_seconds": round(rendered.duration, 3),
                "loudness_lufs": round(rendered.loudness, 2),
                "loudness_target_lufs": target_lufs,
                "loudness_standard": params.loudness_standard,
                "true_peak_dbtp": round(rendered.true_peak, 2),
                "gain_db": round(rendered.gain_db, 2),
                "loudness_passes": rendered.passes,
                "frame_rate": f"{rate.numerator}/{rate.denominator}",
                "frame_rate_notes": rate_notes,
                "width": width,
                "height": height,
                "video": "H.264 (libx264, yuv420p)",
                "audio": "AAC 48 kHz stereo",
                "subtitle_track": "mov_text narration" if told.sentences and any(s.shipped for s in told.sentences) else None,
                "temp_vo": has_vo,
                "music": music.input.display_name if music is not None else None,
                "seconds": round(rendered.seconds, 3),
            },
            "edit": {
                "otio": "recap.otio",
                "edl": "recap.edl",
                "rate": float(rate),
                "record_timecode_rate": f"{rate.numerator}/{rate.denominator}",
                "source_timecode_rates": {f"EP{e.number:02d}": e.timecode.rate.text for e in usable},
                "notes": [f"EP{e.number:02d}: {e.timecode.note}" for e in usable if e.timecode.note],
                "reels": {f"EP{e.number:02d}": e.name for e in usable},
            },
            "external_ai": {
                "allowed_by_params": params.external_ai,
                "used": told.mode == "claude" or bool(told.usage.requests),
                "provider": told.session.provider.label if told.session is not None and told.usage.requests else None,
            },
            "ai": told.session.summary() if told.session is not None and told.session.calls else None,
            "provider": told.session.provider.id if told.session is not None and told.session.calls else None,
            "region": told.session.provider.region if told.session is not None and told.session.calls else None,
            "cache": {"enabled": cache is not None},
        }

    def _metrics(self, analyses, chosen, told, rendered, verify_model: str | None = None) -> dict[str, Any]:
        decoded = sum(a.decoded_frames for a in analyses.values())
        seconds = sum(a.decode_seconds for a in analyses.values())
        usage = told.usage
        priced = told.model or verify_model
        cost = usage.cost(priced) if priced and usage.requests else (0.0 if not usage.requests else None)
        if told.session is not None and told.session.calls:
            cost = told.session.summary()["cost_usd"]  # per call, with the provider's price factor
        return {
            "episodes": len(analyses),
            "analysis_cache_hits": sum(1 for a in analyses.values() if a.from_cache),
            "decoded_frames": decoded,
            "analysis_fps": round(decoded / seconds, 2) if seconds > 0 else None,
            "moments": len(chosen.clips),
            "recap_seconds": round(rendered.duration, 3),
            "render_seconds": round(rendered.seconds, 3),
            "loudness_lufs": round(rendered.loudness, 2),
            "narration_mode": told.mode,
            "narration_sentences": len(told.sentences),
            "narration_shipped": sum(1 for s in told.sentences if s.shipped),
            "ai_requests": usage.requests,
            "ai_input_tokens": usage.input_tokens,
            "ai_output_tokens": usage.output_tokens,
            "ai_cache_write_tokens": usage.cache_write_tokens,
            "ai_cache_read_tokens": usage.cache_read_tokens,
            "ai_cost_usd": cost,
            "ai_model": priced if usage.requests else None,
            "verifier": "local claims + " + verify_model if verify_model else "local claims",
            "narration_verified": sum(1 for s in told.sentences if s.verdict == "verified"),
            "narration_unverified": sum(1 for s in told.sentences if s.verdict == "unverified"),
            "narration_contradicted": sum(1 for s in told.sentences if s.verdict == "contradicted"),
        }


def _episode(usable: list[episodes.Episode], number: int) -> episodes.Episode:
    return next(e for e in usable if e.number == number)


def _timeline_starts(selection: select.Selection) -> list[float]:
    starts, position = [], 0
    for clip in selection.clips:
        starts.append(position / selection.rate)
        position += clip.frames - selection.crossfade_frames
    return starts


def _place(sentences, selection: select.Selection, starts: list[float], cue_map, durations: dict[int, float | None]) -> None:
    """Put each shipped sentence on the recap timeline near the moment of its first cited line, in order, never overlapping."""
    total = selection.duration
    cursor = 0.2
    for sentence in sentences:
        anchor = 0.0
        cue = cue_map.get(sentence.cues[0]) if sentence.cues else None
        holder = None
        if cue is not None:
            # A reviewer may play moments out of story order: the moment holding the line comes first.
            holder = next(
                (at + cue.start - clip.start for clip, at in zip(selection.clips, starts, strict=True)
                 if clip.episode == cue.episode and clip.start - 1e-3 <= cue.start < clip.end),
                None,
            )  # fmt: skip
        if holder is not None:
            anchor = holder
        elif cue is not None:
            for clip, at in zip(selection.clips, starts, strict=True):
                if (clip.episode, clip.end) > (cue.episode, cue.start):
                    anchor = at + max(0.0, min(cue.start - clip.start, clip.duration)) if clip.episode == cue.episode else at
                    break
            else:
                anchor = starts[-1] if starts else 0.0
        length = durations.get(id(sentence)) or max(1.5, len(sentence.text.split()) / WORDS_PER_SECOND)
        start = max(cursor, anchor)
        if start + length > total - 0.1:
            start = cursor
        if start + length > total - 0.1:
            sentence.problems.append("no room left on the recap's timeline")
            continue
        sentence.start, sentence.end = round(start, 3), round(start + length, 3)
        cursor = sentence.end + 0.4


# What the recap tool says to people, by code (studio_tools.core.messages; the portal words each code).
define("recap.shorter", "shorter than asked: {shortfall}")
TEMPLATES_NO_SUBTITLES = "No narration: no episode has subtitles to ground it in."
define("recap.no_subtitles", TEMPLATES_NO_SUBTITLES)
define("recap.narration_off", "{label}")
define("recap.local_narration", "local narration used (quoted subtitles): {why}")
define("recap.ai_unavailable", "external_ai was on, but {why}")
define("recap.claude_unusable", "Claude ({model} on {provider}) could not be used: {why}")
# the narration's label, where it is one fixed sentence (the run page's recap block shows it)
define("recap.label.extractive", narration.EXTRACTIVE_LABEL)
define("recap.label.off", "No narration (narration=false).")
define("recap.label.edit_empty", "No narration: the reviewer's edit has no sentence.")
NO_TEMP_VO = "no temp VO (espeak-ng is not installed or has no voice for the language)"
define("recap.no_temp_vo", NO_TEMP_VO)


def _warnings(params, told: narration.Narration, shortfall: dict[str, Any] | None, vo_note: str) -> list[dict[str, Any]]:
    """Lines (studio_tools.core.messages) for each way the recap falls short of what the run asked for: shorter
    than the target, narration asked for but impossible, the local narration used instead of the model, no temp VO."""
    lines = []
    if shortfall is not None:
        lines.append(message("recap.shorter", shortfall=shortfall.get("words") or shortfall["message"]))
    if params.narration and told.mode == "off" and params.edit is None:
        # e.g. no episode has subtitles to ground a narration in
        lines.append(
            message("recap.no_subtitles")
            if told.label == TEMPLATES_NO_SUBTITLES
            else message("recap.narration_off", label=told.label)
        )
    if told.fallback_reason:
        lines.append(message("recap.local_narration", why=told.fallback_words or told.fallback_reason))
    if vo_note.startswith("no temp VO"):
        lines.append(message("recap.no_temp_vo", text=vo_note))
    return lines


def _rate_notes(given: list[episodes.Episode], usable: list[episodes.Episode], rate) -> list[str]:
    """What the report says about the recap's rate: where it comes from, and every episode that differs."""
    first = usable[0]
    label = f"{rate.numerator}/{rate.denominator}"
    notes = []
    if first.timecode.variable:
        notes.append(f"episode {first.number} has a variable frame rate: the recap is rendered at its nominal rate, {label}")
    for episode in given:
        if episode is first:
            continue
        own = episode.timecode.rate.text
        if own != label:
            notes.append(
                f"episode {episode.number} is at {own}"
                + (" (nominal, variable frame rate)" if episode.timecode.variable else "")
                + f", the recap at {label} (episode {first.number}'s): its moments are retimed to {label} "
                "(frames repeated or left out, no speed change); its source timecode in the EDL and OTIO stays at "
                f"its own {own}"
            )
    return notes


def _output_size(video) -> tuple[int, int]:
    """The first episode's display size with square pixels, even on both sides."""
    display_width = getattr(video, "display_width", None)
    display_height = getattr(video, "display_height", None)
    if display_width and display_height:  # after pixel aspect and rotation (the measured probe)
        return max(2, round(display_width / 2) * 2), max(2, round(display_height / 2) * 2)
    width = max(2, round(video.width * video.pixel_aspect_ratio / 2) * 2)
    height = max(2, video.height - video.height % 2)
    return width, height


def _track_title(told: narration.Narration) -> str:
    if told.mode == "extractive":
        return "Narration (extractive)"
    if told.mode == "edited":
        return "Narration (edited by a reviewer" + (f", from an AI draft by {told.model})" if told.model else ")")
    return f"Narration (AI draft, {told.model})"


def _video_label(told: narration.Narration, vo: bool) -> str:
    parts = ["Recap draft"]
    unverified = sum(1 for s in told.sentences if s.verdict == "unverified")
    checked = f"{unverified} sentence(s) unverified, awaiting sign-off" if unverified else "verified"
    if told.mode == "claude":
        parts.append(f"narration drafted by {told.model} ({checked})")
    elif told.mode == "extractive":
        parts.append("extractive narration (quoted subtitles)")
    elif told.mode == "edited":
        parts.append(f"narration edited by a reviewer ({checked})")
    if vo:
        parts.append("TEMP VO (espeak-ng)")
    return "; ".join(parts)


def _selection_from_edit(
    edit_: RecapEdit, given, usable, analyses, features, salience, params: RecapParams, rate: float
) -> select.Selection:
    """The reviewer's moments, in the reviewer's order, each snapped to frames and scored like a candidate.

    Nothing is chosen: a moment that cannot be cut (no such usable episode, past the spoiler boundary,
    too short for the crossfades) is a clear error naming it, and a cut inside a line of dialogue is
    noted on the moment, not silently moved."""
    by_number = {e.number: e for e in usable}
    xf = int(round(params.crossfade_seconds * rate))
    shortest = max(2 * xf + 1, int(round(0.5 * rate)))
    clips: list[select.Chosen] = []
    for n, m in enumerate(edit_.moments, 1):
        where = f"moment {n} of the edit (episode {m.episode}, {m.start:.2f} s to {m.end:.2f} s)"
        episode = by_number.get(m.episode)
        if episode is None:
            if any(e.number == m.episode for e in given):
                raise BadInput(f"{where} lies past the spoiler boundary")
            raise BadInput(f"{where}: there is no episode {m.episode}; the run has {len(given)}")
        analysis = analyses[m.episode]
        if m.start >= episode.usable_end - 0.5 / rate:
            raise BadInput(f"{where} starts after the usable end of the episode ({episode.usable_end:.2f} s)")
        if m.end > episode.usable_end + 0.5 / rate:
            boundary = "the spoiler boundary" if episode.limit is not None else "the end of the episode"
            raise BadInput(f"{where} ends after {boundary} ({episode.usable_end:.2f} s)")
        a = analysis.frame_nearest(m.start)
        b = min(analysis.frame_nearest(m.end), episode.usable_end)
        frames = int(round((b - a) * rate))
        if frames < shortest:
            raise BadInput(f"{where} is too short: a moment needs at least {shortest / rate:.2f} s with these crossfades")
        try:
            candidate = moments.moment_for_range(episode, a, b, features[m.episode], salience)
        except ValueError as exc:
            raise BadInput(f"{where}: {exc}") from None
        notes = [f"placed by a reviewer's edit, position {n}"]
        broken = moments.cut_lines(episode, a, b)
        if broken:
            notes.append("cuts into the line " + ", ".join(c.id for c in broken))
        for k, earlier in enumerate(clips, 1):
            if earlier.episode == m.episode and earlier.start < b and a < earlier.end:
                notes.append(f"repeats footage of moment {k}")
        clips.append(select.Chosen(candidate, a, frames, rate, notes))
    total = sum(c.frames for c in clips) - (len(clips) - 1) * xf
    return select.Selection(clips, total, xf, rate)


def _edited_narration(params: RecapParams) -> narration.Narration:
    """The reviewer's sentences as given; the verifier judges them like any other draft afterwards."""
    edit_ = params.edit
    assert edit_ is not None
    if not params.narration:
        return narration.Narration(mode="off", label="No narration (narration=false).")
    if not edit_.sentences:
        return narration.Narration(mode="off", label="No narration: the reviewer's edit has no sentence.")
    sentences = [verify.Sentence(text=s.text, cues=list(s.cues), origin=s.origin) for s in edit_.sentences]
    counts = {o: sum(1 for s in sentences if s.origin == o) for o in ("edited", "claude", "extractive")}
    parts = []
    if counts["edited"]:
        parts.append(f"{counts['edited']} written or changed by a reviewer")
    if counts["claude"]:
        parts.append(f"{counts['claude']} kept from an AI draft" + (f" by {edit_.draft_model}" if edit_.draft_model else ""))
    if counts["extractive"]:
        parts.append(f"{counts['extractive']} quoted from the subtitles")
    label = (
        "Edited narration: "
        + "; ".join(parts)
        + ". Each sentence is checked claim by claim against the lines it cites; unverified ones need a person's sign-off."
    )
    model = edit_.draft_model if counts["claude"] else None
    return narration.Narration(mode="edited", label=label, sentences=sentences, model=model)
