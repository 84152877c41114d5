"""The narration verifier: every sentence must rest on subtitle lines that exist and say what it says.

For each sentence:
1. Citations to cues that do not exist (or lie past the spoiler boundary) are removed and noted. A
   sentence left without citations gets the one or two usable lines that carry most of its words, if
   any, so a person can judge it; a sentence whose citations the verifier had to change is at best
   "unverified".
2. The local claim checker (`claims.check_sentence`, no model) splits the sentence into claims (who
   does what, negated or not, done or only planned; numbers, days, months, times, ordinals, years;
   who says what; every content word) and checks each against the cited lines.
3. Where the studio allows external AI and a key is set, a second, separate model request checks the
   sentence against the same lines (`model_verify`); both must agree for "verified".

Verdicts: "verified" (every claim supported), "unverified" (something is not established by the cited
lines: rendered so a person can judge it, but it blocks approval until signed off) and "contradicted"
(the lines say otherwise: never rendered).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from studio_tools.recap.claims import Claim, check_sentence
from studio_tools.recap.episodes import CueRef
from studio_tools.recap.moments import content_words

SHIPPED = ("verified", "unverified")
VERDICTS = ("verified", "unverified", "contradicted")


@dataclass
class Sentence:
    text: str
    cues: list[str]
    origin: str  # "claude", "extractive" or "edited"
    verdict: str = "unverified"
    problems: list[str] = field(default_factory=list)
    repairs: list[str] = field(default_factory=list)
    cited_by_model: list[str] = field(default_factory=list)
    start: float | None = None  # on the recap's timeline, once placed
    end: float | None = None
    claims: list[Claim] = field(default_factory=list)
    local: str | None = None  # the local verifier's verdict
    model: str | None = None  # the model verifier's verdict; None when it did not run
    id: str = ""

    @property
    def shipped(self) -> bool:
        return self.verdict in SHIPPED and self.start is not None

    @property
    def text_sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def to_dict(self, cues: dict[str, CueRef]) -> dict[str, Any]:
        return {
            "id": self.id,
            "text": self.text,
            "text_sha256": self.text_sha256,
            "origin": self.origin,
            "citations": [cues[c].to_dict() for c in self.cues if c in cues],
            "cited_by_model": self.cited_by_model,
            "verdict": self.verdict,
            "local": self.local,
            "model": self.model,
            "claims": [c.to_dict() for c in self.claims],
            "problems": self.problems,
            "repairs": self.repairs,
            "shipped": self.shipped,
            "recap_start": None if self.start is None else round(self.start, 3),
            "recap_end": None if self.end is None else round(self.end, 3),
        }


def combine(*verdicts: str | None) -> str:
    """The sentence's verdict from its verifiers' (None: did not run): all must say "verified"."""
    ran = [v for v in verdicts if v is not None]
    if "contradicted" in ran:
        return "contradicted"
    if not ran or any(v != "verified" for v in ran):
        return "unverified"
    return "verified"


def verify(sentences: list[Sentence], usable: dict[str, CueRef], known_ids: set[str]) -> None:
    """Judge each sentence in place against the usable cues with the local verifier."""
    by_episode: dict[int, list[CueRef]] = {}
    for cue in usable.values():
        by_episode.setdefault(cue.episode, []).append(cue)
    for cues in by_episode.values():
        cues.sort(key=lambda c: (c.start, c.index))
    for n, sentence in enumerate(sentences, 1):
        sentence.id = f"s{n}"
        verify_one(sentence, usable, known_ids, by_episode)


def verify_one(
    sentence: Sentence, usable: dict[str, CueRef], known_ids: set[str], by_episode: dict[int, list[CueRef]] | None = None
) -> None:
    if by_episode is None:
        by_episode = {}
        for cue in sorted(usable.values(), key=lambda c: (c.start, c.index)):
            by_episode.setdefault(cue.episode, []).append(cue)
    sentence.cited_by_model = list(sentence.cues)
    sentence.problems, sentence.repairs, sentence.claims = [], [], []
    sentence.model = None
    text = " ".join(sentence.text.split())
    sentence.text = text
    if not text:
        sentence.verdict = sentence.local = "contradicted"
        sentence.problems.append("the sentence is empty")
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
    if not kept:
        if not sentence.cues:
            sentence.problems.append("cites no line")
        found = _best_support(text, usable, by_episode)
        sentence.cues = found
        if not found:
            sentence.verdict = sentence.local = "unverified"
            sentence.problems.append("no subtitle line carries this sentence")
            return
        sentence.repairs.append("cited " + ", ".join(found) + " (the lines that carry most of its words), for a person to check")
    sentence.cues = kept or sentence.cues
    check = check_sentence(
        text, [(c, usable[c].episode, usable[c].text) for c in sentence.cues], quotation=sentence.origin == "extractive"
    )
    sentence.claims = check.claims
    sentence.problems.extend(check.problems)
    local = check.verdict
    if local == "verified" and (sentence.repairs or sentence.problems):
        local = "unverified"  # the lines were not the ones the writer cited: a person must look
    sentence.local = local
    sentence.verdict = combine(local)


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def _best_support(text: str, usable: dict[str, CueRef], by_episode: dict[int, list[CueRef]]) -> list[str]:
    """One line, or two consecutive lines, holding at least 80% of the sentence's content words (crude stems);
    [] if none do. Only used to show a person which lines an uncited sentence seems to rest on."""
    wanted = {_stem(w) for w in content_words(text)}
    if len(wanted) < 2:
        return []
    best: tuple[int, int, list[CueRef]] | None = None
    for ordered in by_episode.values():
        options = [[c] for c in ordered] + [[a, b] for a, b in zip(ordered, ordered[1:], strict=False)]
        for option in options:
            held = {_stem(w) for cue in option for w in content_words(cue.text)}
            covered = len(wanted & held)
            if covered >= max(2, 0.8 * len(wanted)) and (best is None or (covered, -len(option)) > (best[0], best[1])):
                best = (covered, -len(option), option)
    return [c.id for c in best[2]] if best else []
