"""Choosing moments: the best ones under the duration budget, every episode covered, in story order.

The recap's length is `x + sum(clip - x)` for crossfades of `x` seconds. Clips are counted in output
frames from the start so the budget is met to the frame, not to a rounding error per clip.

1. Each usable episode gets its best moment, so none is skipped.
2. The rest of the budget goes to the best remaining moments by score, first at most one per scene
   (variety), then any that still fit; none overlaps or nearly touches another.
3. The remainder (less than one moment) is closed by swapping a chosen moment for a longer or shorter
   one on other cut points, then, to the frame, by moving one moment's end (or start) within a stretch
   with no dialogue, never into a line and never leaving a sliver of a shot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from studio_tools.core.messages import define, joined, message
from studio_tools.recap.analysis import VideoAnalysis
from studio_tools.recap.episodes import Episode
from studio_tools.recap.moments import Candidate

_SAME_EPISODE_GAP = 1.0  # seconds between two moments of one episode, so no jump cut reads as a glitch
# A cut within a second of its target is on target (the budget is closed to the frame when the material
# allows; the moments' cut points may leave less than a second); shorter than that, the report says so.
ON_TARGET_SECONDS = 1.0


@dataclass
class Chosen:
    candidate: Candidate
    start: float
    frames: int  # length in output frames
    rate: float
    notes: list[str] = field(default_factory=list)

    @property
    def episode(self) -> int:
        return self.candidate.episode

    @property
    def end(self) -> float:
        return self.start + self.frames / self.rate

    @property
    def duration(self) -> float:
        return self.frames / self.rate

    def to_dict(self) -> dict[str, Any]:
        c = self.candidate
        return {
            "episode": c.episode,
            "start": round(self.start, 6),
            "end": round(self.end, 6),
            "duration": round(self.duration, 6),
            "scene": c.scene,
            "shots": c.shots,
            "cues": c.cues,
            "score": round(c.score, 4),
            "signals": {k: round(v, 3) for k, v in c.parts.items()},
            "reasons": c.reasons + self.notes,
        }


@dataclass
class Selection:
    clips: list[Chosen]
    target_frames: int
    crossfade_frames: int
    rate: float

    @property
    def total_frames(self) -> int:
        if not self.clips:
            return 0
        return sum(c.frames for c in self.clips) - (len(self.clips) - 1) * self.crossfade_frames

    @property
    def duration(self) -> float:
        return self.total_frames / self.rate


def choose(
    pools: dict[int, list[Candidate]],
    episodes: list[Episode],
    analyses: dict[int, VideoAnalysis],
    *,
    target_seconds: float,
    crossfade_seconds: float,
    rate: float,
) -> Selection:
    target = int(round(target_seconds * rate))
    xf = int(round(crossfade_seconds * rate))

    def frames_of(c: Candidate) -> int:
        return max(1, int(round(c.duration * rate)))

    chosen: list[Candidate] = []

    def total(items: list[Candidate]) -> int:
        return sum(frames_of(c) for c in items) - max(0, len(items) - 1) * xf

    def free(c: Candidate, items: list[Candidate]) -> bool:
        return not any(c.overlaps(o, _SAME_EPISODE_GAP) for o in items)

    # 1. one moment per episode, from those no longer than an equal share of the budget
    order = [e.number for e in episodes if pools.get(e.number)]
    share = (target + xf * max(0, len(order) - 1)) / max(1, len(order))
    for number in order:
        fitting = [c for c in pools[number] if frames_of(c) <= share] or sorted(pools[number], key=frames_of)[:1]
        chosen.append(max(fitting, key=lambda c: (c.score, c.duration)))

    # 2. fill: best first, one per scene, then any
    everything = sorted((c for n in order for c in pools[n]), key=lambda c: (-c.score, -c.duration, c.episode, c.start))
    for one_per_scene in (True, False):
        for c in everything:
            if c in chosen or not free(c, chosen):
                continue
            if one_per_scene and any(o.episode == c.episode and o.scene == c.scene for o in chosen):
                continue
            if total([*chosen, c]) <= target:
                chosen.append(c)

    # 3a. close the remainder by swapping a moment for a longer one on other cut points
    for _ in range(50):
        remainder = target - total(chosen)
        if remainder <= 0:
            break
        best: tuple[int, Candidate, Candidate] | None = None
        for i, current in enumerate(chosen):
            rest = chosen[:i] + chosen[i + 1 :]
            for c in pools[current.episode]:
                extra = frames_of(c) - frames_of(current)
                if extra <= 0 or extra > remainder or not free(c, rest) or c.score < current.score - 0.25:
                    continue
                gain = remainder - extra
                if best is None or gain < best[0]:
                    best = (gain, current, c)
        if best is None:
            break
        chosen[chosen.index(best[1])] = best[2]

    clips = sorted(chosen, key=lambda c: (c.episode, c.start))
    selection = Selection([Chosen(c, c.start, frames_of(c), rate) for c in clips], target, xf, rate)
    _fit_to_frame(selection, episodes, analyses)
    return selection


def _fit_to_frame(selection: Selection, episodes: list[Episode], analyses: dict[int, VideoAnalysis]) -> None:
    """Move moment edges within dialogue-free picture until the total is exactly the target.

    Each clip's end, then start, moves as far as the remainder asks and the material allows: never into
    a line of dialogue, never closer than the gap to another moment, never leaving under half a second
    of a shot (it stops on the shot's boundary instead). Clips with the least dialogue go first.
    """
    by_number = {e.number: e for e in episodes}
    for clip in sorted(selection.clips, key=lambda c: (c.candidate.dialogue, c.candidate.score)):
        for edge in ("end", "start"):
            remainder = selection.target_frames - selection.total_frames
            if remainder == 0:
                return
            moved = _move_edge(clip, edge, remainder, selection, by_number[clip.episode], analyses[clip.episode])
            if moved:
                direction = "extended" if moved > 0 else "trimmed"
                clip.notes.append(
                    f"{edge} {direction} by {abs(moved) / selection.rate:.2f} s to meet the duration (no dialogue there)"
                )


def _move_edge(clip: Chosen, edge: str, frames: int, selection: Selection, episode: Episode, analysis: VideoAnalysis) -> int:
    """Move one edge by up to `frames` (positive: longer); returns the frames actually moved."""
    rate = selection.rate
    cues = episode.eligible_cues()
    others = [o for o in selection.clips if o is not clip and o.episode == clip.episode]
    if edge == "end":
        edge_at = clip.end
        if frames > 0:
            limit = min(
                [episode.usable_end, analysis.end_time]
                + [o.start - _SAME_EPISODE_GAP for o in others if o.start >= clip.end]
                + [c.start - 0.04 for c in cues if c.start >= edge_at - 1e-3]
            )
        else:
            inside = [c.end + 0.04 for c in cues if c.start < edge_at and c.end > clip.start]
            limit = max([clip.start + 0.5] + inside)
    else:
        edge_at = clip.start
        if frames > 0:
            limit = max(
                [0.0]
                + [o.end + _SAME_EPISODE_GAP for o in others if o.end <= clip.start]
                + [c.end + 0.04 for c in cues if c.end <= edge_at + 1e-3]
            )
        else:
            inside = [c.start - 0.04 for c in cues if c.end > edge_at and c.start < clip.end]
            limit = min([clip.end - 0.5] + inside)
    outward = (edge == "end") == (frames > 0)  # does the edge move away from the clip's middle?
    room = (limit - edge_at) if edge == "end" else (edge_at - limit)
    room = room if outward else -room
    if room <= 0:
        return 0
    steps = min(abs(frames), int(room * rate + 1e-6))
    while steps > 0:
        delta = steps / rate
        if edge == "end":
            new_at = edge_at + delta if frames > 0 else edge_at - delta
        else:
            new_at = edge_at - delta if frames > 0 else edge_at + delta
        snapped = _no_sliver(new_at, analysis, towards=edge_at)
        if snapped is None or not min(edge_at, new_at) - 1e-6 <= snapped <= max(edge_at, new_at) + 1e-6:
            return 0
        if abs(snapped - new_at) < 1e-6:
            break
        steps = int(abs(snapped - edge_at) * rate + 1e-6)
    if steps <= 0:
        return 0
    moved = steps if frames > 0 else -steps
    if edge == "end":
        clip.frames += moved
    else:
        clip.start -= moved / rate
        clip.frames += moved
    return moved


def _no_sliver(t: float, analysis: VideoAnalysis, towards: float) -> float | None:
    """`t`, or the boundary of its shot on the side of `towards` if `t` would leave under half a second of that shot."""
    for shot in analysis.shots:
        if shot.start - 1e-6 <= t < shot.end - 1e-6:
            if abs(t - shot.start) < 1e-3:
                return t
            keep_after, keep_before = shot.end - t, t - shot.start
            if min(keep_before, keep_after) >= min(0.5, shot.duration / 2):
                return t
            boundary = shot.start if towards <= t else shot.end
            return boundary
    return t


def suggestions(
    pools: dict[int, list[Candidate]], selection: Selection, *, per_episode: int = 8, total: int = 40
) -> list[Candidate]:
    """Moments a reviewer could add: per episode the best-scored candidates that overlap neither a
    chosen moment nor each other (at most one per scene first, then any), in story order."""
    picked_all: list[Candidate] = []
    share = max(1, min(per_episode, total // max(1, len(pools))))
    for number in sorted(pools):
        taken = [c for c in selection.clips if c.episode == number]

        def clear(c: Candidate, picked: list[Candidate], taken: list[Chosen] = taken) -> bool:
            if any(c.start < t.end - 1e-3 and t.start < c.end - 1e-3 for t in taken):
                return False
            return not any(c.overlaps(p, gap=0.25) for p in picked)

        ranked = sorted(pools[number], key=lambda c: (-c.score, c.start))
        picked: list[Candidate] = []
        scenes: set[int] = set()
        for c in ranked:  # variety first: one per scene
            if len(picked) >= share:
                break
            if c.scene not in scenes and clear(c, picked):
                picked.append(c)
                scenes.add(c.scene)
        for c in ranked:
            if len(picked) >= share:
                break
            if c not in picked and clear(c, picked):
                picked.append(c)
        picked_all.extend(sorted(picked, key=lambda c: c.start))
    return picked_all


def whole_clip(
    episode: Episode, analysis: VideoAnalysis, features: list, salience, *, max_seconds: float, shortest: float
) -> Candidate | None:
    """For an episode that offers no candidate (a clip shorter than min_clip_seconds, one shot with no
    cut point inside): the clip itself from its first picture, up to max_seconds, when that cuts no
    line of dialogue and lasts at least `shortest` seconds. None otherwise."""
    from studio_tools.recap import moments

    start = float(analysis.times[0]) if len(analysis.times) else 0.0
    end = min(episode.usable_end, analysis.end_time, start + max_seconds)
    if end - start < shortest - 1e-6 or moments.cut_lines(episode, start, end):
        return None
    try:
        candidate = moments.moment_for_range(episode, start, end, features, salience)
    except ValueError:
        return None
    candidate.reasons.append("the whole clip: it is too short to offer a moment of min_clip_seconds")
    return candidate


# Why a recap is shorter than asked, by code (studio_tools.core.messages; the portal words each code).
define("recap.shortfall", "{duration:.1f} s of {target:g} s: {reasons}.")
define("recap.reason.only_one", "only {n} usable moment in the episodes, it is in the cut")
define("recap.reason.only_n", "only {n} usable moments in the episodes, all in the cut")
define(
    "recap.reason.overrun_one",
    "the {n} moment left would each overrun the target (the shortest is {shortest:.1f} s, {remain:.1f} s remain)",
)
define(
    "recap.reason.overrun_n",
    "the {n} moments left would each overrun the target (the shortest is {shortest:.1f} s, {remain:.1f} s remain)",
)
define("recap.reason.spoiler", "the spoiler boundary leaves {usable:.1f} s of the episodes' {total:.1f} s")
define("recap.reason.episodes_last", "the episodes last {total:.1f} s in all")
define("recap.reason.clip_lasts", "the clip lasts {total:.1f} s")
define("recap.reason.no_dialogue", "moments with dialogue are off (dialogue_clips=false)")


def shortfall(
    selection: Selection,
    pools: dict[int, list[Candidate]],
    episodes: list[Episode],
    given: list[Episode],
    *,
    target_seconds: float,
    spoiler: bool,
    dialogue_clips: bool,
) -> dict[str, Any] | None:
    """When the cut is shorter than its target by more than ON_TARGET_SECONDS: by how much, and why, in numbers."""
    if selection.target_frames - selection.total_frames <= ON_TARGET_SECONDS * selection.rate + 1e-6:
        return None
    duration = selection.duration
    chosen = [c.candidate for c in selection.clips]
    left = [c for n in pools for c in pools[n] if c not in chosen and not any(c.overlaps(o, _SAME_EPISODE_GAP) for o in chosen)]
    remainder = target_seconds - duration
    usable_seconds = sum(max(0.0, e.usable_end) for e in episodes)
    total_seconds = sum(e.duration for e in given)
    reasons = []
    if not left:
        n = len(chosen)
        reasons.append(message("recap.reason.only_one" if n == 1 else "recap.reason.only_n", n=n))
    else:
        shortest = round(min(c.duration for c in left), 1)
        code = "recap.reason.overrun_one" if len(left) == 1 else "recap.reason.overrun_n"
        reasons.append(message(code, n=len(left), shortest=shortest, remain=round(remainder, 1)))
    if usable_seconds < 0.999 * total_seconds or spoiler:
        reasons.append(message("recap.reason.spoiler", usable=round(usable_seconds, 1), total=round(total_seconds, 1)))
    else:
        several = len(given) > 1
        reasons.append(
            message("recap.reason.episodes_last" if several else "recap.reason.clip_lasts", total=round(total_seconds, 1))
        )
    if not dialogue_clips:
        reasons.append(message("recap.reason.no_dialogue"))
    said = message("recap.shortfall", duration=round(duration, 1), target=round(target_seconds, 3), reasons=joined(reasons, "; "))
    return {
        "duration_seconds": round(duration, 3),
        "target_seconds": round(target_seconds, 3),
        "missing_seconds": round(remainder, 3),
        "moments": len(chosen),
        "moments_left": len(left),
        "usable_seconds": round(usable_seconds, 3),
        "episodes_seconds": round(total_seconds, 3),
        "message": said["text"],
        "words": said,  # the message's machine form (studio_tools.core.messages)
    }
