"""A test tool that takes its time: N steps of a short sleep, reporting progress and checking for
cancellation between steps, then one text output. It can also fail on purpose, the two ways a tool
fails (bad input, or a bug), to drive the portal's error handling."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal

from pydantic import Field

from studio_tools.core import (
    BadInput,
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


class SleeperParams(ToolParams):
    steps: int = Field(10, ge=1, le=10_000, description="How many steps.")
    step_seconds: float = Field(0.02, ge=0.0, le=5.0, description="Sleep per step.")
    fail_with: Literal["", "bad_input", "crash"] = Field("", description="Fail on purpose, halfway.")
    seed: int | None = Field(None, description="Reported back as the run's seed.")


SPEC = ToolSpec(
    name="sleeper",
    version="0.1.0",
    title="Sleeper (test tool)",
    description="Sleeps in small steps and writes a text file.",
    inputs=(InputSlot("clip", (InputKind.FOOTAGE, InputKind.PLATE), 1, 1, "Any clip."),),
    params_model=SleeperParams,
)


class Sleeper:
    spec = SPEC

    def run(self, inputs: list[ToolInput], params: SleeperParams, workdir: Path, progress: Progress) -> ToolResult:
        for step in range(params.steps):
            progress.check_cancelled()
            if step == params.steps // 2 and params.fail_with == "bad_input":
                raise BadInput(f"{inputs[0].display_name} has no usable frames (on purpose)")
            if step == params.steps // 2 and params.fail_with == "crash":
                raise ZeroDivisionError("secret internal detail /srv/worker/path")
            time.sleep(params.step_seconds)
            progress.update((step + 1) / params.steps, stage="sleeping", message=f"{step + 1}/{params.steps}")
        target = out_dir(workdir) / "result.txt"
        target.write_text(f"slept {params.steps} steps over {inputs[0].display_name}\n")
        report = {"steps": params.steps, "model": "sleepy-1", "provider": "none", "seed": params.seed}
        output = OutputFile("result.txt", OutputKind.REPORT, "result", "text/plain", label="Sleeper result")
        return ToolResult(outputs=[output], report=report, metrics={"steps": params.steps})


TOOL = Sleeper()
