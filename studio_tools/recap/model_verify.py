"""The model verifier: a second, separate Claude request per sentence, given only the sentence and its cited lines.

It answers through structured output (a JSON schema) with the sentence's claims, each "supported",
"contradicted" or "not in the lines", and the exact words of the lines it rests on. Its answer is
checked, not trusted: a "supported" claim whose quoted span is not in the cited lines counts as not
established, an answer that is not the JSON asked for is asked again (a bounded number of times) and
then leaves the sentence unverified, as does an API error. It only runs where the studio allows
external AI and a key is set; the local verifier always runs, and both must agree for "verified".
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from studio_tools import ai
from studio_tools.recap.claims import Claim, speaker_and_text, split_speakers
from studio_tools.recap.episodes import CueRef
from studio_tools.recap.verify import Sentence, combine

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "claims": {
            "type": "array",
            "description": "Every claim the sentence makes: who does what, to whom, when, where, how many, negated or not.",
            "items": {
                "type": "object",
                "properties": {
                    "claim": {"type": "string", "description": "One claim of the sentence, in a few words."},
                    "verdict": {"type": "string", "enum": ["supported", "contradicted", "not in the lines"]},
                    "span": {
                        "type": "string",
                        "description": "The exact words of the cited lines that support or contradict it; empty if none.",
                    },
                },
                "required": ["claim", "verdict", "span"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["claims"],
    "additionalProperties": False,
}

INSTRUCTIONS = """You check one sentence of a TV recap's narration against the subtitle lines it cites. Nothing else is known.
Split the sentence into its claims: who does what, to whom, when, where, how many, negated or not, done or only planned,
motives and relationships. For each claim answer:
- "supported" only if the cited lines state it (the speaker of a line is given before it; "I" is the speaker);
- "contradicted" if the lines state otherwise (another person, another number or day, the opposite, a negation);
- "not in the lines" if the lines do not state it (including anything that is only planned, asked or guessed there).
Quote in "span" the exact words of the lines that the verdict rests on (empty for "not in the lines").
Answer only with JSON matching the given schema."""

_VERDICTS = {"supported": "supported", "contradicted": "contradicted", "not in the lines": "unverified"}


class _Answer(BaseModel):
    class _Item(BaseModel):
        claim: str
        verdict: Literal["supported", "contradicted", "not in the lines"]
        span: str

    claims: list[_Item]


@dataclass
class ModelCheck:
    verdict: str  # "verified", "unverified", "contradicted"
    claims: list[Claim] = field(default_factory=list)
    problem: str | None = None  # why there is no usable answer, if there is none
    requests: int = 0


def request_text(sentence: str, lines: list[CueRef]) -> str:
    """The whole user message: the sentence and its cited lines, speakers apart from the words."""
    listing = []
    for cue in lines:
        parts = [
            f"{speaker} says: {words}" if speaker else f"unnamed speaker: {words}" for speaker, words in split_speakers(cue.text)
        ]
        listing.append(f"[{cue.id}] " + " / ".join(parts))
    return "Sentence: " + sentence + "\n\nCited lines:\n" + "\n".join(listing)


def _squash(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s']", " ", text.lower().replace("’", "'")).split())


def check(
    client: Any,
    sentence: str,
    lines: list[CueRef],
    *,
    model: str,
    usage: Any = None,
    attempts: int = 2,
    backoff: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
) -> ModelCheck:
    """One sentence through the model verifier; never raises for what the API or the model does."""
    import anthropic

    result = ModelCheck("unverified")
    held = _squash(" ".join(speaker_and_text(c.text)[1] for c in lines))
    last = "no answer"
    for attempt in range(1, attempts + 1):
        try:
            answer_ = ai.complete(
                client,
                model=model,
                max_tokens=1024,
                system=INSTRUCTIONS,
                messages=[{"role": "user", "content": request_text(sentence, lines)}],
                output_config={"format": {"type": "json_schema", "schema": SCHEMA}},
            )
        except anthropic.APIStatusError as exc:
            result.requests += 1
            result.problem = f"the model verifier could not be used: the API answered {exc.status_code}"
            return result
        except anthropic.APIError as exc:
            result.problem = f"the model verifier could not be reached: {' '.join(str(exc).split())[:160]}"
            return result
        result.requests += 1
        if usage is not None:
            usage.requests += 1
            usage.add(getattr(answer_.message, "usage", None))
        text = answer_.text
        try:
            answer = _Answer.model_validate(json.loads(text))
        except json.JSONDecodeError as exc:
            last = f"its answer was not valid JSON ({exc.msg})"
        except ValidationError as exc:
            last = f"its answer did not match the schema ({exc.error_count()} problem(s))"
        else:
            if answer.claims:
                result.claims = [_claim(item, held) for item in answer.claims]
                verdicts = {c.verdict for c in result.claims}
                result.verdict = (
                    "contradicted" if "contradicted" in verdicts else "unverified" if "unverified" in verdicts else "verified"
                )
                return result
            last = "its answer listed no claim"
        if attempt < attempts:
            sleep(backoff * 2 ** (attempt - 1))
    result.problem = f"the model verifier gave no usable answer after {attempts} attempts ({last})"
    return result


def _claim(item: _Answer._Item, held: str) -> Claim:
    verdict = _VERDICTS[item.verdict]
    span = item.span.strip() or None
    reason = f"the model verifier: {item.verdict}"
    if verdict != "unverified" and (span is None or _squash(span) not in held):
        # A verdict must rest on words that are in the lines; an invented quotation establishes nothing.
        return Claim(
            item.claim, "unverified", f"the model verifier said {item.verdict} but quoted words not in the cited lines", span
        )
    return Claim(item.claim, verdict, reason + (f" (“{span}”)" if span else ""), span)


def check_all(
    client: Any,
    sentences: list[Sentence],
    usable: dict[str, CueRef],
    *,
    model: str,
    usage: Any = None,
    backoff: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
    cancelled: Callable[[], None] | None = None,
) -> int:
    """Run the model verifier on every sentence the local verifier did not already find contradicted; merge the
    verdicts in place (both must agree for "verified"). Returns the number of requests made."""
    requests = 0
    for sentence in sentences:
        if sentence.local in (None, "contradicted") or not sentence.cues:
            continue
        if cancelled is not None:
            cancelled()
        found = check(client, sentence.text, [usable[c] for c in sentence.cues if c in usable], model=model, usage=usage,
                      backoff=backoff, sleep=sleep)  # fmt: skip
        requests += found.requests
        sentence.model = found.verdict
        sentence.claims.extend(found.claims)
        if found.problem:
            sentence.problems.append(found.problem)
        sentence.problems.extend(c.reason for c in found.claims if c.verdict != "supported")
        sentence.verdict = combine(sentence.local, sentence.model)
    return requests
