"""The narration verifier: every sentence must rest on subtitle lines that exist and say what it says.

For each sentence:
1. Citations to cues that do not exist (or lie past the spoiler boundary) are removed and noted.
2. A sentence left without citations is repaired when one or two usable lines clearly carry it
   (most of its content words, and every name, place and year in it); otherwise it is rejected.
3. Names, places and years (capitalised words, numbers of three or four digits, decades) must appear
   in the cited lines. One found in a neighbouring line of the same episode is repaired by citing that
   line too; one found nowhere it is cited flags the sentence.

Verdicts: "ok", "repaired" (shipped, with what was changed), "flagged" and "rejected" (kept in the
report with the reasons, never shipped in the SRT, the subtitle track or the voice-over).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from studio_tools.recap.episodes import CueRef
from studio_tools.recap.moments import STOPWORDS, content_words

SHIPPED = ("ok", "repaired")
_TOKEN = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿ][A-Za-zÀ-ÖØ-öø-ÿ'’-]*|'?\d[\d,.]*s?")
_YEAR = re.compile(r"^'?\d{2,4}s?$")
# Words that often open a narration sentence with a capital letter without being names.
_OPENERS = frozenset(
    """previously meanwhile later earlier after before when while once then now soon finally first next last still yet
    back together alone everyone someone nobody episode with without despite although though because since as in on at
    by from for to into onto under over during inside outside across behind beyond but and or so the a an this that these
    those his her their its our your my he she they we it there here what who whom which why how where""".split()
)


@dataclass
class Sentence:
    text: str
    cues: list[str]
    origin: str  # "claude" or "extractive"
    verdict: str = "ok"
    problems: list[str] = field(default_factory=list)
    repairs: list[str] = field(default_factory=list)
    cited_by_model: list[str] = field(default_factory=list)
    start: float | None = None  # on the recap's timeline, once placed
    end: float | None = None

    @property
    def shipped(self) -> bool:
        return self.verdict in SHIPPED and self.start is not None

    def to_dict(self, cues: dict[str, CueRef]) -> dict[str, Any]:
        return {
            "text": self.text,
            "origin": self.origin,
            "citations": [cues[c].to_dict() for c in self.cues if c in cues],
            "cited_by_model": self.cited_by_model,
            "verdict": self.verdict,
            "problems": self.problems,
            "repairs": self.repairs,
            "shipped": self.shipped,
            "recap_start": None if self.start is None else round(self.start, 3),
            "recap_end": None if self.end is None else round(self.end, 3),
        }


def _norm(word: str) -> str:
    word = word.lower().strip("'’.,-")
    for suffix in ("'s", "’s"):
        if word.endswith(suffix):
            word = word[: -len(suffix)]
    return word


def cue_words(text: str) -> set[str]:
    return {_norm(t) for t in _TOKEN.findall(text)}


def entities(text: str) -> list[str]:
    """Names, places and years a sentence asserts: capitalised words and three/four-digit numbers or decades."""
    found: list[str] = []
    sentence_start = True
    for match in _TOKEN.finditer(text):
        token = match.group(0)
        before = text[: match.start()].rstrip()
        starts = sentence_start or before.endswith((".", "!", "?", ":", '"', "“", "—"))
        sentence_start = False
        if token[0].isdigit() or token[0] == "'":
            digits = re.sub(r"\D", "", token)
            if len(digits) >= 3 or (_YEAR.match(token) and token.endswith("s")):
                found.append(_norm(token))
            continue
        if not token[0].isupper() or token in ("I", "I'm", "I've", "I'll", "I'd"):
            continue
        low = _norm(token)
        if starts and (low in STOPWORDS or low in _OPENERS or low.endswith(("ing", "ed", "ly"))):
            continue
        if low not in found:
            found.append(low)
    return found


def verify(sentences: list[Sentence], usable: dict[str, CueRef], known_ids: set[str]) -> None:
    """Judge (and where possible repair) each sentence in place against the usable cues."""
    by_episode: dict[int, list[CueRef]] = {}
    for cue in usable.values():
        by_episode.setdefault(cue.episode, []).append(cue)
    for cues in by_episode.values():
        cues.sort(key=lambda c: (c.start, c.index))
    for sentence in sentences:
        _verify_one(sentence, usable, known_ids, by_episode)


def _verify_one(sentence: Sentence, usable: dict[str, CueRef], known_ids: set[str], by_episode: dict[int, list[CueRef]]) -> None:
    sentence.cited_by_model = list(sentence.cues)
    text = " ".join(sentence.text.split())
    sentence.text = text
    if not text:
        sentence.verdict = "rejected"
        sentence.problems.append("empty sentence")
        return
    kept: list[str] = []
    for cue_id in sentence.cues:
        if cue_id in usable:
            if cue_id not in kept:
                kept.append(cue_id)
        elif cue_id in known_ids:
            sentence.problems.append(f"cites {cue_id}, a line after the spoiler boundary")
        else:
            sentence.problems.append(f"cites {cue_id}, which does not exist")
    claims = entities(text)
    if not kept:
        if not sentence.cues:
            sentence.problems.append("cites no line")
        found = _best_support(text, claims, usable, by_episode)
        if not found:
            sentence.verdict = "rejected"
            sentence.problems.append("no subtitle line carries this sentence")
            sentence.cues = []
            return
        kept = found
        sentence.repairs.append("cited " + ", ".join(found) + " (the lines that carry it)")
    sentence.cues = kept

    missing = [e for e in claims if e not in _words_of(kept, usable)]
    if missing:
        neighbours = _neighbours(kept, usable, by_episode)
        added = []
        for claim in list(missing):
            holder = next((c for c in neighbours if claim in cue_words(c.text)), None)
            if holder is not None:
                missing.remove(claim)
                if holder.id not in kept and holder.id not in added:
                    added.append(holder.id)
        if added:
            sentence.cues = kept + added
            sentence.repairs.append("also cited " + ", ".join(added) + " (neighbouring lines that name what it says)")
    if missing:
        sentence.verdict = "flagged"
        sentence.problems.extend(f"“{m}” is not in the cited lines" for m in missing)
        return
    sentence.verdict = "repaired" if (sentence.repairs or sentence.problems) else "ok"


def _words_of(ids: list[str], usable: dict[str, CueRef]) -> set[str]:
    found: set[str] = set()
    for cue_id in ids:
        found |= cue_words(usable[cue_id].text)
    return found


def _neighbours(ids: list[str], usable: dict[str, CueRef], by_episode: dict[int, list[CueRef]], reach: int = 2) -> list[CueRef]:
    result: list[CueRef] = []
    for cue_id in ids:
        cue = usable[cue_id]
        ordered = by_episode.get(cue.episode, [])
        position = next((i for i, c in enumerate(ordered) if c.id == cue_id), None)
        if position is None:
            continue
        for other in ordered[max(0, position - reach) : position + reach + 1]:
            if other.id not in ids and other not in result:
                result.append(other)
    return result


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def _best_support(text: str, claims: list[str], usable: dict[str, CueRef], by_episode: dict[int, list[CueRef]]) -> list[str]:
    """One line, or two consecutive lines, holding every name and year of the sentence and at least 80% of its
    content words (compared by crude stems, so "waits" matches "waiting"); [] if none do."""
    wanted = {_stem(_norm(w)) for w in content_words(text)} | {_stem(c) for c in claims}
    if len(wanted) < 2:
        return []
    options: list[list[CueRef]] = []
    for ordered in by_episode.values():
        options.extend([c] for c in ordered)
        options.extend([a, b] for a, b in zip(ordered, ordered[1:], strict=False))
    best: tuple[int, int, list[CueRef]] | None = None
    for option in options:
        held = set()
        for cue in option:
            held |= cue_words(cue.text)
        if not all(c in held for c in claims):
            continue
        covered = len(wanted & {_stem(w) for w in held})
        if covered >= max(2, 0.8 * len(wanted)) and (best is None or (covered, -len(option)) > (best[0], best[1])):
            best = (covered, -len(option), option)
    return [c.id for c in best[2]] if best else []
