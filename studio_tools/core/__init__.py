"""The tool engine: specs, typed params, the driver, the registry, progress and errors.

Only this package's public names are meant for callers (the portal's toolruns app, the CLI, tools).
"""

from studio_tools.core.driver import RunRecord, bind_inputs, check_result, file_sha256, run_tool
from studio_tools.core.errors import BadInput, BadParams, Cancelled, ParamProblem, ToolError, ToolFailed, UnknownTool
from studio_tools.core.progress import CallbackProgress, NullProgress, Progress, ProgressUpdate
from studio_tools.core.registry import BUILTIN_TOOL_PACKAGES, Registry, all_tools, default_registry, get, register
from studio_tools.core.spec import InputKind, InputSlot, ToolParams, ToolSpec
from studio_tools.core.tool import OUT_DIR_NAME, OutputFile, OutputKind, Tool, ToolInput, ToolResult, out_dir

__all__ = [
    "BUILTIN_TOOL_PACKAGES",
    "OUT_DIR_NAME",
    "BadInput",
    "BadParams",
    "CallbackProgress",
    "Cancelled",
    "InputKind",
    "InputSlot",
    "NullProgress",
    "OutputFile",
    "OutputKind",
    "ParamProblem",
    "Progress",
    "ProgressUpdate",
    "Registry",
    "RunRecord",
    "Tool",
    "ToolError",
    "ToolFailed",
    "ToolInput",
    "ToolParams",
    "ToolResult",
    "ToolSpec",
    "UnknownTool",
    "all_tools",
    "bind_inputs",
    "check_result",
    "default_registry",
    "file_sha256",
    "get",
    "out_dir",
    "register",
    "run_tool",
]
