"""A second opinion from Claude vision on each measured finding, through the `anthropic` SDK, only
where it is allowed. The model never makes a finding: it sees the two crops a finding is about and
what was measured, and says whether it agrees, with a reason.

Nothing leaves the machine unless both are true: the run asked for it (`external_ai=True`, a
parameter the portal sets only for studios that allow external AI) and the provider seam
(`studio_tools.ai`) gives it a provider the run may use, with credentials. Otherwise no client is
even built, and the report says why. The requests go through `ai.complete`, so the report holds
where they went (provider, region), their request ids, tokens and cost.

What is sent: for each measured finding (at most `max_findings`), a crop of each side around the
finding's box (the whole frame for a light finding), downscaled so the long side is at most 1568
pixels, as JPEG, with the finding's type, its measurement and explanation. What comes back is asked
for as JSON (a structured-output schema, {"verdict": "agree" | "disagree", "reason": ...}) and
then checked rather than trusted: a malformed answer is listed with the reason and the finding
keeps no verdict. An accepted verdict is attached to its finding as `second_opinion` and never
changes the finding, its confidence or the list of findings.

API errors are retried by the SDK (rate limits and overload honour `retry-after`); a finding whose
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
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from studio_tools import ai
from studio_tools.continuity.frames import Frame

KEY_ENV = "ANTHROPIC_API_KEY"
MODEL_ENV = "CONTINUITY_AI_MODEL"
DEFAULT_MODEL = "claude-sonnet-4-6"
MAX_LONG_SIDE = 1568  # the longest image side the vision model takes without scaling it itself
MAX_TOKENS = 1024
CROP_MARGIN = 0.5  # each side of a finding's box, as a fraction of the box, so the model sees around it

SYSTEM_PROMPT = (
    "You are a script supervisor's second pair of eyes. A measuring tool compared two pictures of one film "
    "scene, image A (before the cut, or a character's reference still) and image B (after the cut), and reports "
    "one continuity finding: a costume that changed, a prop that appeared, vanished or moved, or a change of "
    "exposure or white balance. You get a crop of each picture around the finding and what was measured. Say "
    "whether you agree that this is a real continuity error of that kind, or disagree (for instance the "
    "difference comes from the camera angle, framing, motion, a passer-by, or a different person). Answer with "
    'JSON only: {"verdict": "agree" or "disagree", "reason": one or two plain sentences}.'
)

RESPONSE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"verdict": {"type": "string", "enum": ["agree", "disagree"]}, "reason": {"type": "string"}},
    "required": ["verdict", "reason"],
    "additionalProperties": False,
}


class Verdict(BaseModel):
    """The model's answer as it must be; anything else is rejected with pydantic's reason."""

    model_config = ConfigDict(extra="forbid")

    verdict: Literal["agree", "disagree"]
    reason: str = Field(min_length=1, max_length=1000)


@dataclass
class Opinion:
    ran: bool
    status: str
    model: str | None = None
    verdicts: list[dict[str, Any]] = field(default_factory=list)  # {"finding", "verdict", "reason", "model"}
    rejected: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)  # exactly which frames left the machine
    requests: int = 0
    seconds: float = 0.0
    session: Any = None  # the studio_tools.ai session: where the requests went, their ids, tokens and cost

    def describe(self) -> dict[str, Any]:
        return {
            "ran": self.ran,
            "status": self.status,
            "model": self.model,
            "requests": self.requests,
            "frames_sent": self.sent,
            "verdicts": self.verdicts,
            "agree": sum(1 for v in self.verdicts if v["verdict"] == "agree"),
            "disagree": sum(1 for v in self.verdicts if v["verdict"] == "disagree"),
            "rejected": self.rejected,
            "errors": self.errors,
            "seconds": round(self.seconds, 3),
            "ai": self.session.summary() if self.session is not None else None,
        }


@dataclass(frozen=True)
class FindingToAsk:
    finding: dict[str, Any]  # a measured finding (with its id)
    first: Frame  # outgoing frame (or the reference still)
    second: Frame  # incoming frame (or the shot's frame)
    first_box: dict[str, float] | None = None
    second_box: dict[str, float] | None = None


def second_opinion(
    items: Sequence[FindingToAsk],
    *,
    allowed: bool,
    provider: str | None = None,
    model: str | None = None,
    max_findings: int = 6,
    environ: Mapping[str, str] | None = None,
    http_client: Any = None,
    cancelled: Any = None,
) -> Opinion:
    """Ask the model about each measured finding when allowed; see the module notes."""
    environ = os.environ if environ is None else environ
    if not allowed:
        return Opinion(
            False, "Not run: external AI was not requested for this run (external_ai is off); no footage left the machine."
        )
    if not items:
        return Opinion(False, "Not run: there was no measured finding to ask about; no footage left the machine.")
    wanted = model or (environ.get(MODEL_ENV) or "").strip() or None
    try:
        session = ai.open_session(
            provider, model=wanted, default_model=DEFAULT_MODEL, environ=environ, http_client=http_client, max_retries=3
        )
    except ai.AIUnavailable as exc:
        return Opinion(False, f"Not run: external AI was allowed, but {exc.reason}; no footage left the machine.")
    import anthropic  # only a run that may call out pays for the import

    chosen_model = session.model
    opinion = Opinion(True, "", chosen_model, session=session)
    t0 = time.monotonic()
    try:
        for item in list(items)[:max_findings]:
            if cancelled is not None:
                cancelled()
            _ask(session, anthropic, item, opinion)
    finally:
        if http_client is None:
            session.close()
        opinion.seconds = time.monotonic() - t0
    skipped = max(0, len(items) - max_findings)
    agree = sum(1 for v in opinion.verdicts if v["verdict"] == "agree")
    where = f"{session.provider.label}, {session.provider.region}"
    parts = [f"Claude ({chosen_model}, {where}) looked at {opinion.requests} measured finding(s)"]
    if skipped:
        parts.append(f"{skipped} more not sent (ai_max_pairs={max_findings})")
    parts.append(f"agrees with {agree}, disagrees with {len(opinion.verdicts) - agree}")
    if opinion.rejected:
        parts.append(f"{len(opinion.rejected)} answer(s) unusable")
    if opinion.errors:
        parts.append(f"{len(opinion.errors)} request(s) failed")
    opinion.status = "; ".join(parts) + ". The model's opinion never adds or removes a finding."
    return opinion


def _ask(session: ai.Session, anthropic: Any, item: FindingToAsk, opinion: Opinion) -> None:
    f = item.finding
    a, b = item.first, item.second
    m = f.get("measured") or {}
    said = (
        f"Finding {f['id']}: {f['type']} / {f['check']}"
        + (f" on {f['character']}" if f.get("character") else "")
        + f". Measured: {m.get('value')} {m.get('unit')} (limit {m.get('threshold')}). {f.get('explanation', '')}"
    )
    content: list[dict[str, Any]] = [
        {"type": "text", "text": said},
        {
            "type": "text",
            "text": f"Image A: {a.name!r}, frame {a.frame}" + (" (crop around the finding)." if item.first_box else "."),
        },
        _image_block(crop(a.image, item.first_box)),
        {
            "type": "text",
            "text": f"Image B: {b.name!r}, frame {b.frame}" + (" (crop around the finding)." if item.second_box else "."),
        },
        _image_block(crop(b.image, item.second_box)),
        {"type": "text", "text": 'Do you agree? Answer as JSON: {"verdict": "agree" | "disagree", "reason": "..."}.'},
    ]
    opinion.sent += [
        {"finding": f["id"], "input": fr.input_index, "name": fr.name, "frame": fr.frame, "crop": box}
        for fr, box in ((a, item.first_box), (b, item.second_box))
    ]
    opinion.requests += 1
    try:
        answer = ai.complete(
            session,
            model=opinion.model,
            max_tokens=MAX_TOKENS,
            system=SYSTEM_PROMPT,
            messages=[{"role": "user", "content": content}],
            output_config={"format": {"type": "json_schema", "schema": RESPONSE_SCHEMA}},
        )
    except anthropic.APIStatusError as exc:
        opinion.errors.append(f"{f['id']}: the API answered {exc.status_code} ({_short(str(exc))})")
        return
    except anthropic.APIError as exc:  # connection problems and timeouts, after the SDK's retries
        opinion.errors.append(f"{f['id']}: {type(exc).__name__} ({_short(str(exc))})")
        return
    parsed = parse_answer(answer.text, f["id"], opinion.model)
    (opinion.verdicts if "reason" in parsed and "verdict" in parsed else opinion.rejected).append(parsed)


def parse_answer(text: str, finding_id: str, model: str | None) -> dict[str, Any]:
    """The model's verdict ({"finding", "verdict", "reason", "model"}) or a rejection ({"finding", "problem", "answer"})."""
    body = _strip_fence(text)
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        return {
            "finding": finding_id,
            "problem": f"{finding_id}: the answer was not valid JSON ({exc.msg})",
            "answer": body[:300],
        }
    try:
        verdict = Verdict.model_validate(data)
    except ValidationError as exc:
        problem = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in problem["loc"]) or "answer"
        return {"finding": finding_id, "problem": f"{finding_id}: {where}: {problem['msg']}", "answer": body[:300]}
    return {"finding": finding_id, "verdict": verdict.verdict, "reason": verdict.reason.strip(), "model": model}


def crop(image: np.ndarray, box: dict[str, float] | None) -> np.ndarray:
    """The part of a frame around a finding's box (with a margin), or the whole frame without a box."""
    if not box:
        return image
    h, w = image.shape[:2]
    x0, y0 = box["x"] * w, box["y"] * h
    bw, bh = box["w"] * w, box["h"] * h
    mx, my = max(48.0, CROP_MARGIN * bw), max(48.0, CROP_MARGIN * bh)
    xa, ya = max(0, int(x0 - mx)), max(0, int(y0 - my))
    xb, yb = min(w, int(x0 + bw + mx)), min(h, int(y0 + bh + my))
    if xb - xa < 8 or yb - ya < 8:
        return image
    return np.ascontiguousarray(image[ya:yb, xa:xb])


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


def _strip_fence(text: str) -> str:
    body = text.strip()
    match = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", body, flags=re.DOTALL)
    return match.group(1) if match else body


def _short(text: str) -> str:
    return " ".join(text.split())[:200]
