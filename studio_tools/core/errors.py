"""The failures a tool run can end in.

The split decides who is told what: a `BadInput` message is shown to the person who started the run
(so it names files by their original names, never by server paths); a `ToolFailed` is for operators;
`Cancelled` is not a failure at all. `UnknownTool` is its own kind because it is neither the user's
data nor the tool's doing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any


class ToolError(Exception):
    """Base of every error a tool run raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class BadInput(ToolError):
    """The user's inputs or parameters cannot be used; the message is written for that user.

    A tool may pass the machine form of its message (`studio_tools.core.messages.message`) instead of a
    string: `message` keeps the English text, `words` the code and params a front end translates."""

    def __init__(self, message: str | Mapping[str, Any]) -> None:
        words = dict(message) if isinstance(message, Mapping) else None
        super().__init__(words["text"] if words is not None else message)
        self.words = words


@dataclass(frozen=True)
class ParamProblem:
    """One rejected parameter, so a form can put the message next to its field."""

    field: str
    message: str
    # What went wrong, for front ends that word it their own way: pydantic's error type
    # ("greater_than_equal", "literal_error", a tool's own kind) and its context (limits, the input).
    kind: str = ""
    context: Mapping[str, Any] = dataclass_field(default_factory=dict, compare=False)


class BadParams(BadInput):
    """Parameters failed validation; `problems` has one entry per field for form display."""

    def __init__(self, message: str, problems: Sequence[ParamProblem] = ()) -> None:
        super().__init__(message)
        self.problems = tuple(problems)


class ToolFailed(ToolError):
    """The tool (or its environment) broke; not something the user can fix by changing inputs."""


class Cancelled(ToolError):
    """The run was stopped on request."""

    def __init__(self, message: str = "cancelled") -> None:
        super().__init__(message)


class UnknownTool(ToolError, LookupError):
    """No tool of that name is registered."""

    def __init__(self, name: str, known: Sequence[str] = ()) -> None:
        available = ", ".join(sorted(known)) or "none"
        super().__init__(f"unknown tool {name!r} (available: {available})")
        self.name = name
        self.known = tuple(sorted(known))
