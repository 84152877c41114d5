"""A second opinion from Claude vision, through the `anthropic` SDK, only where it is allowed.

Nothing leaves the machine unless both are true: the run asked for it (`external_ai=True`, a
parameter the portal sets only for studios that allow external AI) and an API key is in the
environment (`ANTHROPIC_API_KEY`). Otherwise no client is even built, and the report says which of
the two was missing.

What is sent: for each compared pair (at most `max_pairs`), the two frames either side of the cut,
downscaled so the long side is at most 1568 pixels, as JPEG, with their shot names and frame numbers.
What comes back is asked for as JSON (a structured-output schema) and then checked, finding by
finding, rather than trusted: an unknown type, a box outside the frame or a finding on a frame that
was never sent is dropped and listed with the reason. Accepted findings keep `source: "model"` and
the model's name, and are never merged with the measured ones.

API errors are retried by the SDK (rate limits and overload honour `retry-after`); a pair whose
request still fails is reported and skipped, and the run carries on: the measured findings do not
depend on the second opinion.
"""

from __future__ import annotations

import base64
import json
import os
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from studio_tools.continuity.frames import Frame

KEY_ENV = "ANTHROPIC_API_KEY"
MODEL_ENV = "CONTINUITY_AI_MODEL"
DEFAULT_MODEL = "claude-sonnet-4-6"
MAX_LONG_SIDE = 1568  # the longest image side the vision model takes without scaling it itself
MAX_TOKENS = 2048
MODEL_TYPES = ("costume", "prop", "lighting", "hair_makeup", "other")

SYSTEM_PROMPT = (
    "You are a script supervisor checking continuity between two consecutive shots of one film scene. "
    "You get the last frame of the outgoing shot (image A) and the first frame of the incoming shot (image B). "
    "List only differences that would be continuity errors: a costume or garment that changed colour or "
    "disappeared, a prop that appeared, vanished or moved, a jump in lighting or white balance, hair or make-up "
    "changes. Do not report differences caused by the camera angle, framing, zoom, focus or grain. "
    "Answer with JSON only. Boxes are [x, y, width, height] as fractions (0 to 1) of that image, or null. "
    "Give each finding the frame numbers exactly as stated for images A and B. Return an empty list when "
    "you see no continuity error."
)

_BOX_SCHEMA = {"anyOf": [{"type": "array", "items": {"type": "number"}}, {"type": "null"}]}
RESPONSE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "findings": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "type": {"type": "string", "enum": list(MODEL_TYPES)},
                    "outgoing_frame": {"type": "integer"},
                    "incoming_frame": {"type": "integer"},
                    "outgoing_box": _BOX_SCHEMA,
                    "incoming_box": _BOX_SCHEMA,
                    "confidence": {"type": "number"},
                    "explanation": {"type": "string"},
                },
                "required": [
                    "type",
                    "outgoing_frame",
                    "incoming_frame",
                    "outgoing_box",
                    "incoming_box",
                    "confidence",
                    "explanation",
                ],
                "additionalProperties": False,
            },
        }
    },
    "required": ["findings"],
    "additionalProperties": False,
}


class ModelFinding(BaseModel):
    """One finding as the model must give it; anything else is rejected with pydantic's reason."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["costume", "prop", "lighting", "hair_makeup", "other"]
    outgoing_frame: int
    incoming_frame: int
    outgoing_box: list[float] | None = None
    incoming_box: list[float] | None = None
    confidence: float = Field(ge=0.0, le=1.0)
    explanation: str = Field(min_length=1, max_length=1000)

    @field_validator("outgoing_box", "incoming_box")
    @classmethod
    def _box(cls, value: list[float] | None) -> list[float] | None:
        if value is None:
            return None
        if len(value) != 4:
            raise ValueError("a box is [x, y, width, height]")
        x, y, w, h = value
        if not (0 <= x <= 1 and 0 <= y <= 1 and 0 < w <= 1 and 0 < h <= 1 and x + w <= 1.001 and y + h <= 1.001):
            raise ValueError("box outside the frame")
        return value

    @model_validator(mode="after")
    def _explained(self) -> ModelFinding:
        if not self.explanation.strip():
            raise ValueError("no explanation")
        return self


@dataclass
class Opinion:
    ran: bool
    status: str
    model: str | None = None
    findings: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)  # exactly which frames left the machine
    requests: int = 0
    seconds: float = 0.0

    def describe(self) -> dict[str, Any]:
        return {
            "ran": self.ran,
            "status": self.status,
            "model": self.model,
            "requests": self.requests,
            "frames_sent": self.sent,
            "accepted": len(self.findings),
            "rejected": self.rejected,
            "errors": self.errors,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class PairToAsk:
    index: int
    first: Frame
    second: Frame


def second_opinion(
    pairs: Sequence[PairToAsk],
    *,
    allowed: bool,
    model: str | None = None,
    max_pairs: int = 6,
    environ: Mapping[str, str] | None = None,
    http_client: Any = None,
    cancelled: Any = None,
) -> Opinion:
    """Ask the model about each pair when allowed; see the module notes for what is sent and kept."""
    environ = os.environ if environ is None else environ
    if not allowed:
        return Opinion(
            False, "Not run: external AI was not requested for this run (external_ai is off); no footage left the machine."
        )
    key = (environ.get(KEY_ENV) or "").strip()
    if not key:
        return Opinion(
            False, f"Not run: external AI was allowed, but no API key is set ({KEY_ENV}); no footage left the machine."
        )
    if not pairs:
        return Opinion(False, "Not run: there was no pair of frames to ask about.")
    import anthropic  # only a run that may call out pays for the import

    chosen_model = model or (environ.get(MODEL_ENV) or "").strip() or DEFAULT_MODEL
    client = anthropic.Anthropic(api_key=key, http_client=http_client, max_retries=3, timeout=120.0)
    opinion = Opinion(True, "", chosen_model)
    t0 = time.monotonic()
    try:
        for pair in list(pairs)[:max_pairs]:
            if cancelled is not None:
                cancelled()
            _ask(client, anthropic, pair, opinion)
    finally:
        if http_client is None:
            client.close()
        opinion.seconds = time.monotonic() - t0
    skipped = max(0, len(pairs) - max_pairs)
    parts = [f"Claude ({chosen_model}) looked at {opinion.requests} pair(s)"]
    if skipped:
        parts.append(f"{skipped} more pair(s) not sent (ai_max_pairs={max_pairs})")
    parts.append(f"{len(opinion.findings)} finding(s) accepted, {len(opinion.rejected)} rejected")
    if opinion.errors:
        parts.append(f"{len(opinion.errors)} request(s) failed")
    opinion.status = "; ".join(parts) + ". These are the model's opinions, not measurements."
    for n, finding in enumerate(opinion.findings, start=1):
        finding["id"] = f"A{n}"
    return opinion


def _ask(client: Any, anthropic: Any, pair: PairToAsk, opinion: Opinion) -> None:
    a, b = pair.first, pair.second
    content: list[dict[str, Any]] = [
        {"type": "text", "text": f"Image A: outgoing shot {a.name!r}, frame {a.frame}."},
        _image_block(a.image),
        {"type": "text", "text": f"Image B: incoming shot {b.name!r}, frame {b.frame}."},
        _image_block(b.image),
        {"type": "text", "text": 'List the continuity errors between image A and image B as JSON: {"findings": [...]}.'},
    ]
    opinion.sent += [{"pair": pair.index, "input": f.input_index, "name": f.name, "frame": f.frame} for f in (a, b)]
    opinion.requests += 1
    try:
        message = client.messages.create(
            model=opinion.model,
            max_tokens=MAX_TOKENS,
            system=SYSTEM_PROMPT,
            messages=[{"role": "user", "content": content}],
            output_config={"format": {"type": "json_schema", "schema": RESPONSE_SCHEMA}},
        )
    except anthropic.APIStatusError as exc:
        opinion.errors.append(f"pair {pair.index + 1}: the API answered {exc.status_code} ({_short(str(exc))})")
        return
    except anthropic.APIError as exc:  # connection problems and timeouts, after the SDK's retries
        opinion.errors.append(f"pair {pair.index + 1}: {type(exc).__name__} ({_short(str(exc))})")
        return
    text = "".join(getattr(block, "text", "") for block in message.content if getattr(block, "type", None) == "text")
    for item in parse_answer(text, pair, opinion.model):
        (opinion.findings if "reason" not in item else opinion.rejected).append(item)


def parse_answer(text: str, pair: PairToAsk, model: str | None) -> list[dict[str, Any]]:
    """The model's answer as findings (source "model") and rejections ({"pair", "reason", ...})."""
    body = _strip_fence(text)
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        return [
            {
                "pair": pair.index,
                "reason": f"pair {pair.index + 1}: the answer was not valid JSON ({exc.msg})",
                "answer": body[:300],
            }
        ]
    items = data.get("findings") if isinstance(data, dict) else None
    if not isinstance(items, list):
        return [
            {"pair": pair.index, "reason": f"pair {pair.index + 1}: the answer had no list of findings", "answer": body[:300]}
        ]
    out: list[dict[str, Any]] = []
    sent = {"outgoing": pair.first.frame, "incoming": pair.second.frame}
    for n, raw in enumerate(items):
        try:
            item = ModelFinding.model_validate(raw)
        except ValidationError as exc:
            problem = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in problem["loc"]) or "finding"
            out.append({"pair": pair.index, "reason": f"pair {pair.index + 1}, finding {n + 1}: {where}: {problem['msg']}"})
            continue
        wrong = [
            f"{side} frame {got} (sent: {sent[side]})"
            for side, got in (("outgoing", item.outgoing_frame), ("incoming", item.incoming_frame))
            if got != sent[side]
        ]
        if wrong:
            out.append(
                {
                    "pair": pair.index,
                    "reason": f"pair {pair.index + 1}, finding {n + 1}: refers to a frame that was not sent: {', '.join(wrong)}",
                }
            )
            continue
        out.append(
            {
                "source": "model",
                "model": model,
                "type": item.type,
                "check": "second_opinion",
                "pair": pair.index,
                "outgoing": {**pair.first.ref(), "box": _box(item.outgoing_box)},
                "incoming": {**pair.second.ref(), "box": _box(item.incoming_box)},
                "at": {**pair.second.ref(), "box": _box(item.incoming_box)},
                "measured": None,
                "confidence": round(float(item.confidence), 3),
                "explanation": f"Model's opinion: {item.explanation.strip()}",
            }
        )
    return out


def downscale(image: np.ndarray, long_side: int = MAX_LONG_SIDE) -> np.ndarray:
    """The image with its long side at most `long_side` pixels (never enlarged)."""
    h, w = image.shape[:2]
    scale = long_side / max(h, w)
    if scale >= 1.0:
        return image
    return cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def _image_block(image: np.ndarray) -> dict[str, Any]:
    small = downscale(image)
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(np.ascontiguousarray(small), cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 88])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/jpeg", "data": base64.b64encode(data.tobytes()).decode("ascii")},
    }


def _box(values: list[float] | None) -> dict[str, float] | None:
    if values is None:
        return None
    x, y, w, h = values
    return {"x": round(x, 4), "y": round(y, 4), "w": round(min(w, 1 - x), 4), "h": round(min(h, 1 - y), 4)}


def _strip_fence(text: str) -> str:
    body = text.strip()
    match = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", body, flags=re.DOTALL)
    return match.group(1) if match else body


def _short(text: str) -> str:
    return " ".join(text.split())[:200]
