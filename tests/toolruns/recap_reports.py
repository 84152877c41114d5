"""A finished recap run built from a hand-written report in the verifier's contract (sentence ids, text
hashes, claims with verdicts, citations with their speaker), with its outputs stored as generated
versions: for tests about the portal's sign-off and approval gate, without rendering a recap."""

from __future__ import annotations

import copy
import hashlib

from django.utils import timezone

from portal.footage.models import Asset
from portal.toolruns.models import ToolRun, ToolRunOutput
from tests.footage.helpers import make_ready_version


def line(cue_id: str, episode: int, start: float, speaker: str, text: str) -> dict:
    return {"id": cue_id, "episode": episode, "start": start, "end": start + 2.4, "speaker": speaker, "text": text}


def sentence(index: int, text: str, verdict: str, citations: list[dict], claims: list[dict] | None = None, **extra) -> dict:
    return {
        "id": f"s{index}",
        "text": text,
        "text_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        "origin": "extractive",
        "verdict": verdict,
        "shipped": verdict != "contradicted",
        "problems": [],
        "repairs": [],
        "local": verdict,
        "model": None,
        "claims": claims or [],
        "citations": citations,
        "cited_by_model": [c["id"] for c in citations],
        "recap_start": 1.0 + 4 * index,
        "recap_end": 3.5 + 4 * index,
        **extra,
    }


HARBOUR = line("e1c4", 1, 14.0, "JONAS", "Someone is planning to rob it on Friday.")
CUP = line("e1c7", 1, 30.0, "HELEN", "I will take the cup to Newcastle myself.")
MARTA = line("e2c2", 2, 6.0, "MARTA", "I will not wait for the harbour master.")

SENTENCES = [
    sentence(1, "Marta will not wait for the harbour master.", "verified", [MARTA],
             [{"text": "Marta will not wait", "verdict": "supported", "reason": "", "span": "I will not wait"}]),
    sentence(2, "Someone plans to rob the museum on Friday.", "unverified", [HARBOUR],
             [{"text": "the museum", "verdict": "unverified", "reason": "“museum” is not in the cited lines", "span": ""}]),
    sentence(3, "Helen never takes the cup to Newcastle.", "contradicted", [CUP],
             [{"text": "Helen never takes the cup", "verdict": "contradicted",
               "reason": "negation: the line says she will", "span": "I will take the cup"}]),
]  # fmt: skip


def report(sentences: list[dict] | None = None, *, shortfall: dict | None = None) -> dict:
    sentences = copy.deepcopy(SENTENCES if sentences is None else sentences)
    verdicts: dict[str, int] = {}
    for s in sentences:
        verdicts[s["verdict"]] = verdicts.get(s["verdict"], 0) + 1
    return {
        "videos": [{"episode": 1, "name": "ep1.mp4", "duration": 30.0}, {"episode": 2, "name": "ep2.mp4", "duration": 30.0}],
        "moments": [
            {
                "episode": 1,
                "start": 2.0,
                "end": 8.0,
                "duration": 6.0,
                "score": 0.7,
                "reasons": ["dialogue"],
                "cues": [],
                "lines": [],
                "thumb": None,
                "recap_start": 0.0,
            },
        ],  # fmt: skip
        "suggestions": [],
        "edit_applied": False,
        "narration": {"mode": "extractive", "label": "Extractive narration", "verdicts": verdicts, "sentences": sentences},
        "selection": {"target_seconds": 30.0, "duration_seconds": 6.0 if shortfall else 30.0, "shortfall": shortfall},
    }


def make_recap_run(project, *, actor, sentences: list[dict] | None = None, shortfall: dict | None = None) -> ToolRun:
    run = ToolRun.objects.create(
        project=project,
        tool="recap",
        tool_version="1.0.0",
        params={"target_seconds": 30},
        status=ToolRun.Status.SUCCEEDED,
        progress=1.0,
        created_by=actor,
        finished_at=timezone.now(),
        report=report(sentences, shortfall=shortfall),
    )
    for name in ("recap", "narration"):
        version = make_ready_version(project, uploader=actor, kind=Asset.Kind.GENERATED, name=f"recap-{name}")
        ToolRunOutput.objects.create(run=run, name=name, kind="generated", media_type="video/mp4", version=version)
    return run
