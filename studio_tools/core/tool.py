"""The contract between the driver and a tool: what goes in, what comes out."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from studio_tools.core.spec import InputKind, ToolSpec

if TYPE_CHECKING:
    from studio_tools.core.progress import Progress

# Tools write their outputs here, inside the work folder, so scratch files elsewhere in the work
# folder never get mistaken for results.
OUT_DIR_NAME = "out"


def out_dir(workdir: Path) -> Path:
    return Path(workdir) / OUT_DIR_NAME


@dataclass(frozen=True)
class ToolInput:
    """One local input file.

    `metadata` carries what the caller knows and the file does not: `sha256`, `original_name`
    (used in user-facing messages instead of the local path), asset ids. It must be JSON-able
    because it goes into the provenance record.
    """

    path: Path
    kind: InputKind
    slot: str | None = None  # None: the driver picks the one slot that accepts `kind`
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))
        object.__setattr__(self, "kind", InputKind(self.kind))
        object.__setattr__(self, "metadata", dict(self.metadata))

    @property
    def display_name(self) -> str:
        """The name to show a user: the uploaded name when known, never a server path."""
        name = self.metadata.get("original_name")
        return str(name) if name else self.path.name

    @property
    def sha256(self) -> str | None:
        return self.metadata.get("sha256")


class OutputKind(StrEnum):
    GENERATED = "generated"
    REPORT = "report"
    IMAGE = "image"
    SUBTITLES = "subtitles"
    EDL = "edl"


@dataclass(frozen=True)
class OutputFile:
    """A file the tool made; `path` is relative to `workdir/out`, `name` is unique within the run."""

    path: str
    kind: OutputKind
    name: str
    media_type: str
    label: str = ""  # optional human caption for the asset list

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path).as_posix() if isinstance(self.path, Path) else self.path)
        object.__setattr__(self, "kind", OutputKind(self.kind))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "path": self.path, "kind": self.kind.value, "media_type": self.media_type, "label": self.label}


@dataclass
class ToolResult:
    """What a run made. Two keys of `report` are read by people, not only by programs: `summary_lines`
    (what was done, a few plain lines) and `warnings` (each way the run fell short of what was asked for: a
    shortfall, a fallback to a local path, a check that could not be made). The portal shows both on the
    run page above the outputs and in its API; a warning that lives only deeper in the report is missed."""

    outputs: list[OutputFile] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Tool(Protocol):
    """A tool: a spec plus a pure function over local files.

    `run` gets inputs already bound to slots and params already validated against
    `spec.params_model`; it writes outputs under `out_dir(workdir)`, may use the rest of `workdir`
    as scratch space, reports progress and calls `progress.check_cancelled()` between steps.
    """

    spec: ToolSpec

    def run(self, inputs: list[ToolInput], params: Any, workdir: Path, progress: Progress) -> ToolResult: ...
