"""Runs one tool: checks what goes in, calls the tool, checks what comes out.

Everything a tool returns is checked here rather than trusted, in the spirit of cvat-sdk's
auto-annotation driver: the portal turns outputs into stored assets, so a path that escapes the
work folder, a duplicate name or a report that is not JSON must stop at this boundary, blamed on
the tool (ToolFailed), not surface later as a storage or database error.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import BaseModel

from studio_tools.core.errors import BadInput, ToolError, ToolFailed
from studio_tools.core.progress import NullProgress, Progress
from studio_tools.core.registry import Registry, default_registry
from studio_tools.core.spec import ToolSpec
from studio_tools.core.tool import OutputFile, Tool, ToolInput, ToolResult, out_dir
from studio_tools.media.hashing import sha256_file

_OUTPUT_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_MEDIA_TYPE_RE = re.compile(r"^[A-Za-z0-9][\w.+-]*/[A-Za-z0-9][\w.+-]*$")


@dataclass(frozen=True)
class RunRecord:
    """What happened in one successful run: enough for provenance and for collecting the outputs."""

    spec: ToolSpec
    params: BaseModel
    inputs: tuple[ToolInput, ...]
    result: ToolResult
    workdir: Path
    started_at: datetime
    duration_seconds: float

    @property
    def out_dir(self) -> Path:
        return out_dir(self.workdir)

    def output_path(self, output: OutputFile) -> Path:
        return self.out_dir / output.path

    def provenance(self) -> dict[str, Any]:
        """The JSON record of the run (tool, version, params, inputs, outputs, report, metrics, timing)."""
        return {
            "tool": self.spec.name,
            "version": self.spec.version,
            "uses_external_ai": self.spec.uses_external_ai,
            "params": self.params.model_dump(mode="json"),
            "inputs": [
                {"slot": i.slot, "kind": i.kind.value, "name": i.display_name, "sha256": i.sha256, "metadata": i.metadata}
                for i in self.inputs
            ],
            "outputs": [o.to_dict() for o in self.result.outputs],
            "report": self.result.report,
            "metrics": self.result.metrics,
            "started_at": self.started_at.isoformat(),
            "duration_seconds": round(self.duration_seconds, 3),
        }


def run_tool(
    tool_or_name: Tool | str,
    inputs: Sequence[ToolInput],
    params: Mapping[str, Any] | BaseModel | None,
    workdir: Path | str,
    progress: Progress | None = None,
    *,
    registry: Registry | None = None,
) -> RunRecord:
    """Validate, run and check one tool run.

    Raises UnknownTool, BadInput/BadParams (the user's inputs or params), ToolFailed (the tool
    broke or returned something invalid; any unexpected exception is wrapped in it) or Cancelled.
    `workdir` is created if needed; its `out/` folder must be empty so that stale files from an
    earlier attempt can never pass for this run's outputs.
    """
    tool = (registry or default_registry).get(tool_or_name) if isinstance(tool_or_name, str) else tool_or_name
    if not isinstance(tool, Tool) or not isinstance(tool.spec, ToolSpec):
        raise TypeError(f"{tool!r} is not a tool")
    spec = tool.spec
    progress = progress if progress is not None else NullProgress()
    parsed = spec.parse_params(params)
    bound = bind_inputs(spec, inputs)

    workdir = Path(workdir)
    outputs_dir = out_dir(workdir)
    outputs_dir.mkdir(parents=True, exist_ok=True)
    if any(outputs_dir.iterdir()):
        raise ValueError(f"{outputs_dir} is not empty; give each run a fresh work folder")

    progress.check_cancelled()
    started_at = datetime.now(UTC)
    t0 = time.monotonic()
    try:
        result = tool.run(list(bound), parsed, workdir, progress)
    except ToolError:
        raise
    except Exception as exc:
        raise ToolFailed(f"{spec.name} crashed: {type(exc).__name__}: {exc}") from exc
    duration = time.monotonic() - t0
    check_result(spec, result, workdir)
    progress.update(1.0, stage="done")
    return RunRecord(spec, parsed, bound, result, workdir, started_at, duration)


def bind_inputs(spec: ToolSpec, inputs: Sequence[ToolInput]) -> tuple[ToolInput, ...]:
    """Give every input a slot, then check kinds, counts and that each file is there to read.

    An input without a slot goes to the one slot that accepts its kind; when two slots accept it the
    caller has to choose, because guessing would silently swap e.g. "before" and "after" clips.
    """
    bound: list[ToolInput] = []
    for item in inputs:
        if not isinstance(item, ToolInput):
            raise TypeError(f"inputs must be ToolInput objects, got {type(item).__name__}")
        if item.slot is None:
            candidates = [s for s in spec.inputs if s.accepts(item.kind)]
            if not candidates:
                raise BadInput(f"{spec.name} does not take {item.kind.value} inputs ({item.display_name}); {_takes(spec)}")
            if len(candidates) > 1:
                names = ", ".join(s.name for s in candidates)
                raise BadInput(f"{item.display_name}: say which input slot it is for ({names})")
            slot = candidates[0]
        else:
            slot = spec.slot(item.slot)
            if not slot.accepts(item.kind):
                kinds = ", ".join(k.value for k in slot.kinds)
                raise BadInput(f"{item.display_name} is {item.kind.value}, but {slot.name} takes {kinds}")
        bound.append(ToolInput(item.path, item.kind, slot.name, item.metadata))

    counts = Counter(i.slot for i in bound)
    for slot in spec.inputs:
        n = counts[slot.name]
        if n < slot.min_count or (slot.max_count is not None and n > slot.max_count):
            kinds = " or ".join(k.value for k in slot.kinds)
            raise BadInput(f"{spec.name} takes {slot.count_text()} {kinds} input(s) for {slot.name}, got {n}")

    for item in bound:
        if not item.path.is_file():
            raise BadInput(f"input {item.display_name} is missing or not a file")
        _check_jsonable(item.metadata, f"metadata of input {item.display_name}", error=ValueError)
    return tuple(bound)


def check_result(spec: ToolSpec, result: Any, workdir: Path) -> None:
    """Raise ToolFailed unless `result` is a well-formed ToolResult whose files are inside workdir/out."""
    prefix = f"{spec.name} returned"
    if not isinstance(result, ToolResult):
        raise ToolFailed(f"{prefix} {type(result).__name__}, not a ToolResult")
    if not isinstance(result.outputs, list | tuple):
        raise ToolFailed(f"{prefix} outputs that are not a list")
    root = out_dir(workdir).resolve()
    names: Counter[str] = Counter()
    paths: Counter[str] = Counter()
    for output in result.outputs:
        if not isinstance(output, OutputFile):
            raise ToolFailed(f"{prefix} an output that is not an OutputFile: {output!r}")
        if not isinstance(output.name, str) or not _OUTPUT_NAME_RE.match(output.name):
            raise ToolFailed(f"{prefix} output name {output.name!r}; use letters, digits, '.', '_' or '-'")
        names[output.name] += 1
        if not isinstance(output.media_type, str) or not _MEDIA_TYPE_RE.match(output.media_type):
            raise ToolFailed(f"{prefix} output {output.name} without a valid media type ({output.media_type!r})")
        rel = PurePosixPath(output.path) if isinstance(output.path, str) else None
        if rel is None or not output.path or rel.is_absolute() or ".." in rel.parts or rel == PurePosixPath("."):
            raise ToolFailed(f"{prefix} output {output.name} with path {output.path!r}; it must be relative to out/")
        real = (root / rel).resolve()
        if not real.is_relative_to(root):
            raise ToolFailed(f"{prefix} output {output.name} that points outside the work folder")
        if not real.is_file():
            raise ToolFailed(f"{prefix} output {output.name} but {output.path} is not a file in out/")
        paths[rel.as_posix()] += 1
    dupes = [n for n, c in names.items() if c > 1] + [p for p, c in paths.items() if c > 1]
    if dupes:
        raise ToolFailed(f"{prefix} two outputs with the same name or path: {', '.join(sorted(dupes))}")
    _check_jsonable(result.report, f"{spec.name} report", error=ToolFailed, top_dict=True)
    for key in ("summary_lines", "warnings"):  # read by people on the run page: plain lines
        lines = result.report.get(key) if isinstance(result.report, dict) else None
        if lines is not None and not (isinstance(lines, list) and all(isinstance(line, str) for line in lines)):
            raise ToolFailed(f"{prefix} report[{key!r}] that is not a list of text lines")
    if not isinstance(result.metrics, dict):
        raise ToolFailed(f"{prefix} metrics that are not a dict")
    for key, value in result.metrics.items():
        if not isinstance(key, str) or not (value is None or isinstance(value, str | int | float)):
            raise ToolFailed(f"{prefix} metric {key!r}={value!r}; metrics are flat name -> number/text")
    _check_jsonable(result.metrics, f"{spec.name} metrics", error=ToolFailed)


def file_sha256(path: Path | str, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file: the media layer's one file hash (`studio_tools.media.hashing`)."""
    return sha256_file(path, chunk_size)


def _takes(spec: ToolSpec) -> str:
    if not spec.inputs:
        return "it takes no inputs"
    parts = [f"{s.name}: {s.count_text()} {'/'.join(k.value for k in s.kinds)}" for s in spec.inputs]
    return "it takes " + "; ".join(parts)


def _check_jsonable(value: Any, where: str, *, error: type[Exception], top_dict: bool = False) -> None:
    """Stricter than json.dumps: no NaN/inf, no non-string keys that would silently turn into strings."""
    if top_dict and not isinstance(value, dict):
        raise error(f"{where} is {type(value).__name__}, not a dict")

    def walk(v: Any, at: str) -> None:
        if v is None or isinstance(v, str | bool | int):
            return
        if isinstance(v, float):
            if not math.isfinite(v):
                raise error(f"{where}: {at or 'value'} is {v}, which JSON cannot hold")
            return
        if isinstance(v, dict):
            for k, item in v.items():
                if not isinstance(k, str):
                    raise error(f"{where}: key {k!r} at {at or 'top'} is not a string")
                walk(item, f"{at}.{k}" if at else k)
            return
        if isinstance(v, list | tuple):
            for n, item in enumerate(v):
                walk(item, f"{at}[{n}]")
            return
        raise error(f"{where}: {at or 'value'} is a {type(v).__name__}, which is not JSON")

    walk(value, "")
    json.dumps(value, allow_nan=False)
