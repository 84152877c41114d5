"""Studio tools: pure functions over local media files, runnable without the portal.

Never import Django (or anything of the portal) from here or below: the same tools run in a Celery
worker, on a partner's laptop through `python -m studio_tools`, and in tests.
The engine lives in `studio_tools.core`; the names most callers need are re-exported here.
"""

from studio_tools.core import (
    BadInput,
    BadParams,
    CallbackProgress,
    Cancelled,
    InputKind,
    NullProgress,
    OutputFile,
    OutputKind,
    Progress,
    RunRecord,
    Tool,
    ToolError,
    ToolFailed,
    ToolInput,
    ToolResult,
    ToolSpec,
    UnknownTool,
    all_tools,
    get,
    register,
    run_tool,
)

# The name the architecture notes use: studio_tools.run(tool, inputs, params, workdir, progress).
run = run_tool

__all__ = [
    "BadInput",
    "BadParams",
    "CallbackProgress",
    "Cancelled",
    "InputKind",
    "NullProgress",
    "OutputFile",
    "OutputKind",
    "Progress",
    "RunRecord",
    "Tool",
    "ToolError",
    "ToolFailed",
    "ToolInput",
    "ToolResult",
    "ToolSpec",
    "UnknownTool",
    "all_tools",
    "get",
    "register",
    "run",
    "run_tool",
]
