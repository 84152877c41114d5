"""A test tool that claims to send footage to an external AI provider (it does not)."""

from __future__ import annotations

from pathlib import Path

from studio_tools.core import InputKind, InputSlot, Progress, ToolInput, ToolParams, ToolResult, ToolSpec

SPEC = ToolSpec(
    name="external_ai_demo",
    version="0.1.0",
    title="External AI demo (test tool)",
    description="Pretends to call an external provider.",
    inputs=(InputSlot("clip", (InputKind.FOOTAGE,), 1, 1),),
    params_model=ToolParams,
    uses_external_ai=True,
)


class ExternalDemo:
    spec = SPEC

    def run(self, inputs: list[ToolInput], params: ToolParams, workdir: Path, progress: Progress) -> ToolResult:
        return ToolResult(report={"model": "none"})


TOOL = ExternalDemo()
