"""From shots and cues to scored candidate moments.

- Scenes: consecutive shots whose colours stay close to the scene so far (compared with the last few
  shots, so a shot / reverse-shot dialogue stays one scene) and no dialogue line runs across the cut.
- Per shot: motion, loudness (EBU R128 momentary), faces (when measured), dialogue density (subtitle
  words per second) and salience of its subtitle words across all episodes: names that recur across
  episodes and rare terms weigh most, function words nothing.
- Cut points: shot boundaries that no subtitle cue runs across, and pauses between cues; a moment
  starts and ends on cut points, so no line of dialogue is ever cut mid-sentence.
- Candidates: every stretch between two cut points of one scene lasting between the minimum and the
  maximum clip length, scored from the shots and cues inside it, with the reasons in words.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from studio_tools.recap.analysis import Shot, VideoAnalysis
from studio_tools.recap.audio import SILENCE_LUFS
from studio_tools.recap.episodes import CueRef, Episode

_WORD = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿ][A-Za-zÀ-ÖØ-öø-ÿ'’-]*")
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below between both but by
    can could did do does doing down during each few for from further had has have having he her here hers herself him himself
    his how i if in into is it its itself just let me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them themselves then there these they this
    those through to too under until up very was we were what when where which while who whom why will with would you your
    yours yourself yourselves yes oh okay ok hey well get got go going gone come came know think want need tell told said say
    see look like right just really here there now then tonight today tomorrow yesterday never always ever also still even
    back one two three thing things something nothing everything anything someone everyone nobody anybody man woman people
    time way good bad make made take took give gave us i'm you're it's don't can't won't that's we're they're i'll you'll
    we'll i've you've didn't isn't wasn't aren't weren't let's there's what's he's she's mr mrs ms sir""".split()
)
WEIGHTS = {"salience": 0.35, "dialogue": 0.15, "loudness": 0.2, "motion": 0.15, "faces": 0.15}
_SCENE_DISTANCE = 0.45  # L1 distance between colour histograms (0..2) above which a shot starts a new scene
_CUE_PAD = 0.25  # seconds kept after a line before a cut in a pause


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def content_words(text: str) -> list[str]:
    return [w.lower().strip("'’-") for w in words(text) if len(w) > 2 and w.lower() not in STOPWORDS]


@dataclass
class Salience:
    """How telling each word is across all usable cues of all episodes."""

    weights: dict[str, float]
    names: set[str]

    @classmethod
    def build(cls, cues: list[CueRef]) -> Salience:
        df: Counter[str] = Counter()
        episodes: dict[str, set[int]] = defaultdict(set)
        mid: Counter[str] = Counter()  # uses not at the start of a sentence, where any word is capitalised
        capitalised: Counter[str] = Counter()
        for cue in cues:
            seen = set()
            for match in _WORD.finditer(cue.text):
                token = match.group(0)
                low = token.lower().strip("'’-")
                if len(low) <= 2 or low in STOPWORDS:
                    continue
                seen.add(low)
                episodes[low].add(cue.episode)
                before = cue.text[: match.start()].rstrip()
                if before and not before.endswith((".", "!", "?", ":", '"', "“", "-", "—")):
                    mid[low] += 1
                    capitalised[low] += token[0].isupper()
            df.update(seen)
        total = max(1, len(cues))
        weights: dict[str, float] = {}
        names: set[str] = set()
        for word, count in df.items():
            idf = math.log((1 + total) / (1 + count)) + 0.5
            # A capitalised word seen mostly capitalised is a name; one that recurs (in several cues or
            # episodes) is a character or a place the story keeps coming back to.
            is_name = capitalised[word] >= 1 and capitalised[word] >= 0.6 * mid[word]
            recurring = len(episodes[word]) > 1 or count >= 3
            weight = idf
            if is_name:
                names.add(word)
                weight *= 2.0 if recurring else 1.3
            elif recurring and count <= max(3, 0.05 * total):
                weight *= 1.3  # a rare term that comes back (an object, a plan)
            weights[word] = weight
        return cls(weights, names)

    def of_text(self, text: str) -> tuple[float, list[str]]:
        """Salience of a line (sum of its three strongest words) and those words."""
        scored = sorted({(self.weights.get(w, 0.0), w) for w in content_words(text)}, reverse=True)[:3]
        return sum(s for s, _ in scored), [w for _, w in scored]


@dataclass
class ShotFeatures:
    shot: Shot
    scene: int
    dialogue_wps: float  # subtitle words per second of the shot
    salience: float
    key_words: list[str]
    score: float = 0.0
    parts: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.shot.to_dict(),
            "scene": self.scene,
            "dialogue_words_per_second": round(self.dialogue_wps, 3),
            "salience": round(self.salience, 3),
            "key_words": self.key_words,
            "score": round(self.score, 4),
        }


@dataclass
class Candidate:
    episode: int
    start: float
    end: float
    scene: int
    shots: list[int]  # indexes of the shots it touches
    cues: list[str]  # ids of the cues inside it
    score: float
    parts: dict[str, float]
    reasons: list[str]
    dialogue: bool

    @property
    def duration(self) -> float:
        return self.end - self.start

    def overlaps(self, other: Candidate, gap: float = 0.0) -> bool:
        return self.episode == other.episode and self.start < other.end + gap and other.start < self.end + gap


def group_scenes(shots: list[Shot], cues: list[CueRef]) -> list[int]:
    """Scene number of each shot."""
    scenes: list[int] = []
    scene = 0
    recent: list[np.ndarray] = []
    for shot in shots:
        if recent:
            distance = min(float(np.abs(shot.hist - h).sum()) for h in recent[-3:])
            crossing = any(c.start < shot.start - 0.05 and c.end > shot.start + 0.05 for c in cues)
            if distance > _SCENE_DISTANCE and not crossing:
                scene += 1
                recent = []
        recent.append(shot.hist)
        scenes.append(scene)
    return scenes


def shot_features(
    episode: Episode, analysis: VideoAnalysis, salience: Salience, *, limit: float | None = None
) -> list[ShotFeatures]:
    cues = episode.eligible_cues()
    scenes = group_scenes(analysis.shots, cues)
    result = []
    for shot, scene in zip(analysis.shots, scenes, strict=True):
        if limit is not None and shot.start >= limit:
            break
        overlapping = [c for c in cues if c.start < shot.end and c.end > shot.start]
        word_count = 0.0
        best, best_words = 0.0, []
        for cue in overlapping:
            share = (min(cue.end, shot.end) - max(cue.start, shot.start)) / max(cue.end - cue.start, 1e-3)
            word_count += share * len(words(cue.text))
            value, top = salience.of_text(cue.text)
            if value > best:
                best, best_words = value, top
        result.append(ShotFeatures(shot, scene, word_count / max(shot.duration, 1e-3), best, best_words))
    _score_shots(result, faces_measured=analysis.faces_measured, has_audio=analysis.has_audio)
    return result


def _percentiles(values: list[float]) -> list[float]:
    """Each value's rank among the others, 0..1 (ties share a rank)."""
    if not values:
        return []
    order = sorted(values)
    n = len(values)
    if n == 1 or order[0] == order[-1]:
        return [0.5] * n
    return [
        (np.searchsorted(order, v, side="left") + np.searchsorted(order, v, side="right") - 1) / (2 * (n - 1)) for v in values
    ]


def _score_shots(features: list[ShotFeatures], *, faces_measured: bool, has_audio: bool) -> None:
    signals: dict[str, list[float]] = {
        "salience": [f.salience for f in features],
        "dialogue": [f.dialogue_wps for f in features],
        "motion": [f.shot.motion for f in features],
    }
    if has_audio:
        signals["loudness"] = [max(f.shot.loudness, SILENCE_LUFS) for f in features]
    if faces_measured:
        signals["faces"] = [f.shot.faces or 0.0 for f in features]
    ranks = {name: _percentiles(values) for name, values in signals.items()}
    total_weight = sum(WEIGHTS[name] for name in signals)
    for i, feature in enumerate(features):
        parts = {name: ranks[name][i] for name in signals}
        # No dialogue at all is not "a little salience": it is none.
        if feature.salience == 0:
            parts["salience"] = 0.0
        if feature.dialogue_wps == 0:
            parts["dialogue"] = 0.0
        feature.parts = parts
        feature.score = sum(WEIGHTS[name] * value for name, value in parts.items()) / total_weight


def cut_points(episode: Episode, analysis: VideoAnalysis, end: float) -> list[float]:
    """Times (on frame starts) where a moment may begin or end: shot boundaries no cue runs across, and pauses between cues."""
    cues = episode.eligible_cues()

    def inside_a_cue(t: float) -> bool:
        return any(c.start < t - 1e-3 and c.end > t + 1e-3 for c in cues)

    points = {0.0}
    for shot in analysis.shots[1:]:
        if shot.start < end and not inside_a_cue(shot.start):
            points.add(shot.start)
    ordered = sorted(cues, key=lambda c: c.start)
    for before, after in zip(ordered, ordered[1:], strict=False):
        gap = after.start - before.end
        if gap <= 0.08:
            continue
        t = analysis.frame_nearest(before.end + min(_CUE_PAD, gap / 2))
        if before.end - 1e-3 <= t <= after.start + 1e-3 and t < end and not inside_a_cue(t):
            points.add(t)
    if ordered:
        last = ordered[-1]
        t = analysis.frame_nearest(last.end + _CUE_PAD)
        if t < end and not inside_a_cue(t):
            points.add(t)
        first = ordered[0]
        t = analysis.frame_nearest(max(0.0, first.start - _CUE_PAD))
        if not inside_a_cue(t):
            points.add(t)
    final = min(end, analysis.end_time)
    if not inside_a_cue(final):
        points.add(final)
    else:  # the boundary falls inside a line: stop before that line begins
        spoken = [c for c in cues if c.start < final < c.end]
        points.add(analysis.frame_floor(min(c.start for c in spoken)))
    return sorted(p for p in points if p <= final + 1e-6)


def candidates(
    episode: Episode,
    analysis: VideoAnalysis,
    features: list[ShotFeatures],
    salience: Salience,
    *,
    min_seconds: float,
    max_seconds: float,
    dialogue_clips: bool,
) -> list[Candidate]:
    end = episode.usable_end
    points = cut_points(episode, analysis, end)
    cues = episode.eligible_cues()
    found: list[Candidate] = []
    for i, a in enumerate(points):
        for b in points[i + 1 :]:
            length = b - a
            if length < min_seconds - 1e-6:
                continue
            if length > max_seconds + 1e-6:
                break
            touched = [f for f in features if f.shot.start < b - 1e-6 and f.shot.end > a + 1e-6]
            if not touched or len({f.scene for f in touched}) > 1:
                continue
            # No sliver of a shot: a moment that starts or ends inside a shot keeps at least half a second of it.
            if any(min(f.shot.end, b) - max(f.shot.start, a) < min(0.5, f.shot.duration) - 1e-6 for f in touched):
                continue
            inside = [c for c in cues if c.start >= a - 1e-3 and c.end <= b + 1e-3]
            if not dialogue_clips and any(c.start < b and c.end > a for c in cues):
                continue
            found.append(_candidate(episode.number, a, b, touched, inside, salience))
    return found


def moment_for_range(episode: Episode, a: float, b: float, features: list[ShotFeatures], salience: Salience) -> Candidate:
    """Score any range of an episode (a reviewer's pick) the way candidates are scored."""
    touched = [f for f in features if f.shot.start < b - 1e-6 and f.shot.end > a + 1e-6]
    if not touched:
        raise ValueError(f"no shot of episode {episode.number} lies between {a:.3f} s and {b:.3f} s")
    inside = [c for c in episode.eligible_cues() if c.start >= a - 1e-3 and c.end <= b + 1e-3]
    return _candidate(episode.number, a, b, touched, inside, salience)


def cut_lines(episode: Episode, a: float, b: float) -> list[CueRef]:
    """The lines of dialogue a cut at `a` or `b` would break in the middle."""
    return [c for c in episode.eligible_cues() if any(c.start + 1e-3 < t < c.end - 1e-3 for t in (a, b))]


def _candidate(
    episode: int, a: float, b: float, touched: list[ShotFeatures], inside: list[CueRef], salience: Salience
) -> Candidate:
    weights = [min(f.shot.end, b) - max(f.shot.start, a) for f in touched]
    total = sum(weights) or 1.0
    score = sum(f.score * w for f, w in zip(touched, weights, strict=True)) / total
    parts: dict[str, float] = defaultdict(float)
    for f, w in zip(touched, weights, strict=True):
        for name, value in f.parts.items():
            parts[name] += value * w / total
    # A moment that holds whole lines is worth more than one that only brushes a shot with talk in it.
    key: list[str] = []
    for cue in inside:
        _, top = salience.of_text(cue.text)
        key.extend(w for w in top if w not in key)
    line_bonus = min(0.15, 0.05 * len(inside))
    score = min(1.0, score + line_bonus)
    reasons = _reasons(dict(parts), key, salience, len(inside), touched)
    return Candidate(
        episode,
        a,
        b,
        touched[0].scene,
        [f.shot.index for f in touched],
        [c.id for c in inside],
        score,
        dict(parts),
        reasons,
        bool(inside),
    )


def _reasons(parts: dict[str, float], key: list[str], salience: Salience, lines: int, touched: list[ShotFeatures]) -> list[str]:
    reasons = []
    names = [w.capitalize() for w in key if w in salience.names]
    terms = [w for w in key if w not in salience.names]
    if names:
        reasons.append("names " + ", ".join(names[:4]))
    if terms and parts.get("salience", 0) >= 0.5:
        reasons.append("telling words: " + ", ".join(terms[:4]))
    if lines:
        reasons.append(f"{lines} whole line{'s' if lines > 1 else ''} of dialogue")
    if parts.get("loudness", 0) >= 0.7:
        loudest = max(f.shot.loudness_peak for f in touched)
        reasons.append(f"loud ({loudest:.0f} LUFS momentary)")
    if parts.get("motion", 0) >= 0.7:
        reasons.append("lots of movement")
    if parts.get("faces", 0) >= 0.7:
        reasons.append("faces on screen")
    if not reasons:
        reasons.append("keeps the story moving between stronger moments")
    return reasons


def all_cues(episodes: Iterable[Episode]) -> list[CueRef]:
    return [c for e in episodes for c in e.eligible_cues()]
