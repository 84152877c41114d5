"""A test tool that kills the process running it, every time: a worker-killing input, for the
"failed after 3 attempts" fault test with real worker processes."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from studio_tools.core import InputKind, InputSlot, Progress, ToolInput, ToolParams, ToolResult, ToolSpec

SPEC = ToolSpec(
    name="crasher",
    version="0.1.0",
    title="Crasher (test tool)",
    description="SIGKILLs its own process.",
    inputs=(InputSlot("clip", (InputKind.FOOTAGE,), 1, 1),),
    params_model=ToolParams,
)


class Crasher:
    spec = SPEC

    def run(self, inputs: list[ToolInput], params: ToolParams, workdir: Path, progress: Progress) -> ToolResult:
        progress.update(0.5, stage="about to crash")
        time.sleep(0.2)
        os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("unreachable")


TOOL = Crasher()
