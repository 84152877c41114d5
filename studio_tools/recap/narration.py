"""Narration: Claude when the run allows external AI and a key is set, otherwise lines quoted from the cues.

Claude gets the numbered subtitle cues of the usable part of the episodes (as a cached system block,
so a second render of the same episodes pays a tenth for them) and answers with structured output
(a JSON schema): sentences, each with the ids of the cues it rests on. The SDK retries 429s and
5xx with backoff (honouring retry-after); an answer that is not the JSON asked for is asked again,
with backoff, a bounded number of times. Tokens (including cache writes and reads) and an estimated
cost are recorded. When Claude cannot be used, or every attempt failed, the narration is extractive
and says so: it never claims a model wrote it.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from studio_tools import ai
from studio_tools.ai.prices import cost_usd
from studio_tools.recap.episodes import CueRef
from studio_tools.recap.moments import Salience, content_words
from studio_tools.recap.verify import Sentence

MODEL_ENV = "STUDIO_TOOLS_RECAP_MODEL"
DEFAULT_MODEL = "claude-sonnet-4-6"
# The price table lives with the provider seam (studio_tools/ai/prices.py); STUDIO_TOOLS_AI_PRICES adds to it.
EXTRACTIVE_LABEL = (
    "Extractive narration: lines quoted from the episodes' subtitles (speaker labels and stage directions left out); "
    "no AI model wrote it."
)
MAX_CUE_CHARS = 400_000  # about 100k tokens of cues; longer series are cut to the lines nearest the chosen moments

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "sentences": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "text": {"type": "string", "description": "One narration sentence."},
                    "cues": {"type": "array", "items": {"type": "string"}, "description": "Ids of the cues it rests on."},
                },
                "required": ["text", "cues"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["sentences"],
    "additionalProperties": False,
}

INSTRUCTIONS = """You write the narration of a short "previously on" recap of a TV series.
Rules, which a verifier checks sentence by sentence:
- Use only what the numbered subtitle cues below say.
  Never add a fact, motive, relationship, place, date or year they do not state.
- Every sentence cites, in "cues", the ids (like "e1c12") of the cues it rests on. Cite only ids that appear below.
- Every name, place and year in a sentence must appear in the cues it cites.
- Present tense, plain and short: at most 25 words a sentence. No quotation of whole lines.
- Follow the story order of the episodes.
Answer only with JSON matching the given schema."""


class _Answer(BaseModel):
    class _Item(BaseModel):
        text: str
        cues: list[str]

    sentences: list[_Item]


@dataclass
class Usage:
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0

    def add(self, usage: Any) -> None:
        self.input_tokens += int(getattr(usage, "input_tokens", 0) or 0)
        self.output_tokens += int(getattr(usage, "output_tokens", 0) or 0)
        self.cache_write_tokens += int(getattr(usage, "cache_creation_input_tokens", 0) or 0)
        self.cache_read_tokens += int(getattr(usage, "cache_read_input_tokens", 0) or 0)

    def cost(self, model: str) -> float | None:
        return cost_usd(
            model,
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            cache_write_tokens=self.cache_write_tokens,
            cache_read_tokens=self.cache_read_tokens,
        )


@dataclass
class Narration:
    mode: str  # "claude", "extractive" or "off"
    label: str
    sentences: list[Sentence] = field(default_factory=list)
    model: str | None = None
    usage: Usage = field(default_factory=Usage)
    attempts: list[str] = field(default_factory=list)  # what happened on each attempt, for the report
    fallback_reason: str | None = None
    fallback_words: dict[str, Any] | None = None  # fallback_reason's machine form (studio_tools.core.messages)
    session: Any = None  # the studio_tools.ai session the model was asked through, for provenance


def resolve_model(param: str | None) -> str:
    return (param or os.environ.get(MODEL_ENV, "").strip() or DEFAULT_MODEL).strip()


def cue_listing(cues: list[CueRef], in_recap: set[str]) -> str:
    lines = []
    for cue in cues:
        mark = " [in recap]" if cue.id in in_recap else ""
        lines.append(f"[{cue.id}] episode {cue.episode}, {_clock(cue.start)}{mark}: {cue.text}")
    text = "\n".join(lines)
    if len(text) <= MAX_CUE_CHARS:
        return text
    kept = [line for line in lines if "[in recap]" in line]
    rest = [line for line in lines if "[in recap]" not in line]
    budget = MAX_CUE_CHARS - sum(len(line) + 1 for line in kept)
    for line in rest:
        if budget - len(line) - 1 < 0:
            break
        kept.append(line)
        budget -= len(line) + 1
    order = {line: i for i, line in enumerate(lines)}
    return "\n".join(sorted(kept, key=order.__getitem__))


def claude_narration(
    client: Any,
    cues: list[CueRef],
    in_recap: set[str],
    *,
    model: str,
    sentences: int,
    language: str,
    target_seconds: float,
    attempts: int = 3,
    backoff: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
    cancelled: Callable[[], None] | None = None,
) -> Narration:
    """Ask Claude for the narration; returns mode "claude" with unverified sentences, or raises NarrationUnavailable."""
    import anthropic  # only runs that allow external AI need the SDK loaded

    result = Narration(
        mode="claude",
        label=f"Narration written by {model} from the subtitles; each sentence checked against the lines it cites.",
        model=model,
    )
    system = [
        {"type": "text", "text": INSTRUCTIONS},
        {"type": "text", "text": "Subtitle cues:\n" + cue_listing(cues, in_recap), "cache_control": {"type": "ephemeral"}},
    ]
    ask = (
        f"Write {sentences} narration sentences in the language with code '{language}' for a recap of about "
        f"{round(target_seconds)} seconds. Cues marked [in recap] are the moments the recap shows; the narration should "
        "connect them and say what led to them."
    )
    for attempt in range(1, attempts + 1):
        if cancelled is not None:
            cancelled()
        try:
            answer_ = ai.complete(
                client,
                model=model,
                max_tokens=2048,
                system=system,
                messages=[{"role": "user", "content": ask}],
                output_config={"format": {"type": "json_schema", "schema": SCHEMA}},
            )
        except anthropic.APIStatusError as exc:
            result.usage.requests += 1
            raise NarrationUnavailable(f"the API answered {exc.status_code}: {_short(exc.message)}", result) from exc
        except anthropic.APIError as exc:
            raise NarrationUnavailable(f"the API could not be reached: {_short(str(exc))}", result) from exc
        result.usage.requests += 1
        result.usage.add(getattr(answer_.message, "usage", None))
        text = answer_.text
        problem = None
        if answer_.stop_reason == "refusal":
            problem = "the model declined"
        else:
            try:
                answer = _Answer.model_validate(json.loads(text))
            except json.JSONDecodeError as exc:
                problem = f"the answer was not valid JSON ({exc.msg} at character {exc.pos})"
            except ValidationError as exc:
                problem = f"the answer did not match the schema ({exc.error_count()} problem(s))"
            else:
                if not answer.sentences:
                    problem = "the answer had no sentences"
                else:
                    result.attempts.append(f"attempt {attempt}: {len(answer.sentences)} sentence(s)")
                    result.sentences = [Sentence(item.text, list(item.cues), "claude") for item in answer.sentences]
                    return result
        result.attempts.append(f"attempt {attempt}: {problem}")
        if attempt < attempts:
            sleep(backoff * 2 ** (attempt - 1))
    raise NarrationUnavailable(f"no usable answer after {attempts} attempts ({result.attempts[-1].split(': ', 1)[1]})", result)


class NarrationUnavailable(Exception):
    def __init__(self, reason: str, partial: Narration) -> None:
        super().__init__(reason)
        self.reason = reason
        self.partial = partial


_SPEAKER = re.compile(r"^\s*(?:[-–—]\s*)?(?P<name>[A-Z][A-Za-zÀ-ÖØ-öø-ÿ'’.-]*(?: [A-Z][A-Za-zÀ-ÖØ-öø-ÿ'’.-]*){0,2})\s*:\s+(?=\S)")
_NOISE = re.compile(r"\[[^\]]*\]|\([^)]*\)|<[^>]+>|\{[^}]*\}|[♪♫#]")
_DASH = re.compile(r"(?:^|\s)[-–—]\s+")


def split_speaker(text: str) -> tuple[str | None, str]:
    """A subtitle line's speaker label ("MARTA: ...", "Boris: ...") apart from what is said, and the said
    words without stage directions ("[door slams]", "(laughs)"), markup, music signs or dialogue dashes."""
    text = " ".join(_NOISE.sub(" ", str(text)).split())
    speaker = None
    match = _SPEAKER.match(text)
    if match and len(match.group("name")) <= 30:
        speaker = match.group("name").strip()
        if speaker.isupper():
            speaker = speaker.title()
        text = text[match.end() :]
    text = _DASH.sub(" ", text)
    return speaker, " ".join(text.split()).strip(" -–—")


_VOCATIVE = re.compile(r"^([A-Z][\w'’-]+),\s|,\s*([A-Z][\w'’-]+)\s*[.!?]*$")


def story_weight(line: str, salience: Salience) -> float:
    """How much a line tells of the story: its three most telling words (salience), where a name the
    line only addresses ("Mary, you can see…", "…tonight, Boris.") counts for less than a name it tells
    about, and a question for less than a statement."""
    addressed = {g.lower() for m in _VOCATIVE.finditer(line) for g in m.groups() if g}
    scored = sorted(
        {(salience.weights.get(w, 0.0) * (0.4 if w in addressed else 1.0), w) for w in content_words(line)}, reverse=True
    )[:3]
    weight = sum(v for v, _ in scored)
    return weight * 0.7 if line.rstrip().endswith("?") else weight


def _worth_quoting(line: str) -> bool:
    words = line.split()
    return len(words) >= 4 and len(content_words(line)) >= 2


def extractive_narration(
    cues: list[CueRef],
    in_recap: set[str],
    salience: Salience,
    *,
    sentences: int,
    shares: dict[int, float] | None = None,
    attribute: bool = False,
) -> Narration:
    """The lines that carry the story, quoted without their speaker labels, spread over the episodes.

    - Never a line the cut already plays (the viewer hears it) and never a line under four words or
      with fewer than two content words ("Yes.", "What?").
    - `shares` (episode -> seconds of it in the cut) spreads the quotes over every episode in the cut
      in proportion to its share, at least one each; without it, over the episodes that have lines.
    - Within an episode the most telling lines (salience: names and rare words that recur) win; the
      chosen ones are told in story order.
    - `attribute`: "Marta: “…”" when the line names its speaker; otherwise the line alone.
    """
    pool = []
    seen_text: set[str] = set()
    for cue in cues:
        if cue.id in in_recap:
            continue
        speaker, line = split_speaker(cue.text)
        key = line.lower()
        if not _worth_quoting(line) or key in seen_text:
            continue
        seen_text.add(key)
        pool.append((cue, speaker, line))
    if not pool or sentences <= 0:
        return Narration(mode="extractive", label=EXTRACTIVE_LABEL)
    having = sorted({c.episode for c, _, _ in pool})
    weights = {e: float(v) for e, v in (shares or {}).items() if v > 0 and e in having} or {
        e: float(sum(c.episode == e for c, _, _ in pool)) for e in having
    }
    count = max(sentences, len(weights))
    quota = _apportion(weights, count)
    picked: list[tuple[CueRef, str | None, str]] = []
    for episode, n in quota.items():
        ranked = sorted(
            (item for item in pool if item[0].episode == episode),
            key=lambda item: (-story_weight(item[2], salience), -len(content_words(item[2])), item[0].start),
        )
        picked.extend(ranked[:n])
    picked.sort(key=lambda item: (item[0].episode, item[0].start))
    told = []
    for cue, speaker, line in picked:
        text = f"{speaker}: “{line}”" if attribute and speaker else line
        told.append(Sentence(text, [cue.id], "extractive"))
    return Narration(mode="extractive", label=EXTRACTIVE_LABEL, sentences=told)


def _apportion(weights: dict[int, float], count: int) -> dict[int, int]:
    """`count` quotes over the episodes by their weights (largest remainders), each episode at least one."""
    total = sum(weights.values()) or 1.0
    base = {e: max(1, int(count * w / total)) for e, w in weights.items()}
    rest = count - sum(base.values())
    order = sorted(weights, key=lambda e: -(count * weights[e] / total - int(count * weights[e] / total)))
    for e in order[: max(0, rest)]:
        base[e] += 1
    return base


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def _short(text: str) -> str:
    return " ".join(str(text).split())[:200]
