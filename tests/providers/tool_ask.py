"""A test tool that asks a model one question through the provider seam (studio_tools.ai), as the
shipped tools do, and writes the answer: the portal's gate, the seam and provenance, without the
cost of a recap's video work."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from studio_tools import ai
from studio_tools.core import (
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


class AskParams(ToolParams):
    external_ai: bool = Field(False, json_schema_extra={"x-external-ai": True})
    ai_provider: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9-]{0,39}$", json_schema_extra={"x-ai-provider": True})
    model: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9.:@-]{1,79}$", json_schema_extra={"x-ai-model": True})


SPEC = ToolSpec(
    name="ask_model",
    version="0.1.0",
    title="Ask a model (test tool)",
    description="Asks one question about a clip's name through the provider seam.",
    inputs=(InputSlot("clip", (InputKind.FOOTAGE,), 1, 1),),
    params_model=AskParams,
    uses_external_ai=False,
)


class AskModel:
    spec = SPEC

    def run(self, inputs: list[ToolInput], params: AskParams, workdir: Path, progress: Progress) -> ToolResult:
        target = out_dir(workdir) / "answer.txt"
        report: dict = {"local": True}
        text = "Local path: no model was asked."
        if params.external_ai:
            try:
                session = ai.open_session(params.ai_provider, model=params.model, max_retries=0)
            except ai.AIUnavailable as exc:
                report["reason"] = exc.reason
            else:
                answer = ai.complete(
                    session,
                    system="Name the clip.",
                    messages=[{"role": "user", "content": inputs[0].display_name}],
                    max_tokens=32,
                )
                text = answer.text
                summary = session.summary()
                report = {"local": False, "ai": summary, "provider": summary["provider"], "region": summary["region"]}
        target.write_text(text + "\n", encoding="utf-8")
        return ToolResult(
            outputs=[OutputFile("answer.txt", OutputKind.REPORT, "answer", "text/plain", label="Answer")], report=report
        )


TOOL = AskModel()
