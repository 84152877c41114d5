"""What a tool is, as data: its identity, the inputs it accepts and its typed parameters.

The portal builds its "start a run" form, its API validation and its provenance records from a
`ToolSpec` alone, so everything it needs to know about a tool without running it lives here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from studio_tools.core.errors import BadInput, BadParams, ParamProblem

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
# Semantic versions, because provenance compares them and partners read them.
_VERSION_RE = re.compile(r"^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]+)?$")


class InputKind(StrEnum):
    FOOTAGE = "footage"
    PLATE = "plate"
    REFERENCE = "reference"
    SUBTITLES = "subtitles"
    MUSIC = "music"
    STILL = "still"

    @classmethod
    def parse(cls, value: str) -> InputKind:
        """Like `InputKind(value)`, but a user typing the kind gets a BadInput naming the choices."""
        try:
            return cls(value.strip().lower())
        except ValueError:
            choices = ", ".join(k.value for k in cls)
            raise BadInput(f"unknown input kind {value!r} (one of: {choices})") from None


@dataclass(frozen=True)
class InputSlot:
    """One named group of inputs; `kinds[0]` is the kind assumed when a caller does not say."""

    name: str
    kinds: tuple[InputKind, ...]
    min_count: int = 1
    max_count: int | None = 1  # None: no upper bound
    description: str = ""

    def __post_init__(self) -> None:
        kinds = (self.kinds,) if isinstance(self.kinds, str) else tuple(self.kinds)
        object.__setattr__(self, "kinds", tuple(InputKind(k) for k in kinds))
        if not _NAME_RE.match(self.name):
            raise ValueError(f"slot name {self.name!r} must be lower_snake_case")
        if not self.kinds:
            raise ValueError(f"slot {self.name!r} accepts no input kinds")
        if len(set(self.kinds)) != len(self.kinds):
            raise ValueError(f"slot {self.name!r} lists a kind twice")
        if self.min_count < 0:
            raise ValueError(f"slot {self.name!r}: min_count must be >= 0")
        if self.max_count is not None and (self.max_count < 1 or self.max_count < self.min_count):
            raise ValueError(f"slot {self.name!r}: max_count must be >= 1 and >= min_count")

    def accepts(self, kind: InputKind | str) -> bool:
        return InputKind(kind) in self.kinds

    def count_text(self) -> str:
        """How many inputs the slot takes, in words for error messages."""
        lo, hi = self.min_count, self.max_count
        if hi is None:
            return f"at least {lo}"
        if lo == hi:
            return f"exactly {lo}"
        return f"{lo} to {hi}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kinds": [k.value for k in self.kinds],
            "min_count": self.min_count,
            "max_count": self.max_count,
            "description": self.description,
        }


class ToolParams(BaseModel):
    """Base for tool parameter models.

    `extra="forbid"` is what turns a typo such as `colums=3` into an error instead of a silently
    ignored setting; `ToolSpec` refuses models that drop it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


@dataclass(frozen=True)
class ToolSpec:
    name: str
    version: str
    title: str
    description: str
    inputs: tuple[InputSlot, ...]
    params_model: type[BaseModel] = ToolParams
    uses_external_ai: bool = False
    _slots_by_name: dict[str, InputSlot] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", tuple(self.inputs))
        if not _NAME_RE.match(self.name):
            raise ValueError(f"tool name {self.name!r} must be lower_snake_case (it is also a CLI word and a URL part)")
        if not _VERSION_RE.match(self.version):
            raise ValueError(f"tool {self.name!r}: version {self.version!r} is not MAJOR.MINOR.PATCH")
        if not self.title.strip():
            raise ValueError(f"tool {self.name!r} needs a title")
        if not all(isinstance(s, InputSlot) for s in self.inputs):
            raise TypeError(f"tool {self.name!r}: inputs must be InputSlot objects")
        by_name = {s.name: s for s in self.inputs}
        if len(by_name) != len(self.inputs):
            raise ValueError(f"tool {self.name!r} has two input slots with the same name")
        object.__setattr__(self, "_slots_by_name", by_name)
        if not (isinstance(self.params_model, type) and issubclass(self.params_model, BaseModel)):
            raise TypeError(f"tool {self.name!r}: params_model must be a pydantic model class")
        if self.params_model.model_config.get("extra") != "forbid":
            raise ValueError(f"tool {self.name!r}: params_model must forbid extra fields (subclass ToolParams)")

    def slot(self, name: str) -> InputSlot:
        try:
            return self._slots_by_name[name]
        except KeyError:
            known = ", ".join(self._slots_by_name) or "none"
            raise BadInput(f"{self.name} has no input slot {name!r} (slots: {known})") from None

    def params_schema(self) -> dict[str, Any]:
        """JSON Schema of the parameters (types, defaults, bounds, descriptions) for form generation."""
        return self.params_model.model_json_schema()

    def parse_params(self, values: Mapping[str, Any] | BaseModel | None = None) -> BaseModel:
        """Validate parameters from a mapping (API/form JSON) or a model instance; BadParams on failure."""
        if values is None:
            values = {}
        if isinstance(values, BaseModel):
            if not isinstance(values, self.params_model):
                raise TypeError(f"{self.name} expects {self.params_model.__name__}, got {type(values).__name__}")
            # Re-validate: an instance may have been made with model_construct() or from another version.
            values = values.model_dump()
        if not isinstance(values, Mapping):
            raise TypeError(f"parameters must be a mapping, got {type(values).__name__}")
        try:
            return self.params_model.model_validate(dict(values))
        except ValidationError as exc:
            raise _bad_params(exc, self.params_model) from None

    def parse_cli_params(self, pairs: Iterable[str]) -> BaseModel:
        """Validate `key=value` strings; pydantic's lax mode does the coercion ("4" -> 4, "off" -> False)."""
        values: dict[str, Any] = {}
        for pair in pairs:
            key, sep, raw = pair.partition("=")
            key = key.strip()
            if not sep or not key:
                raise BadParams(f"bad parameter {pair!r}: expected key=value", [ParamProblem(key or pair, "expected key=value")])
            if key in values:
                raise BadParams(f"bad parameter {key}: given twice", [ParamProblem(key, "given twice")])
            values[key] = _cli_value(self.params_model, key, raw)
        return self.parse_params(values)

    def default_params(self) -> BaseModel:
        return self.parse_params({})

    def to_dict(self) -> dict[str, Any]:
        """The spec as JSON for API listings and tool pages."""
        return {
            "name": self.name,
            "version": self.version,
            "title": self.title,
            "description": self.description,
            "uses_external_ai": self.uses_external_ai,
            "inputs": [s.to_dict() for s in self.inputs],
            "params_schema": self.params_schema(),
        }


def _cli_value(model: type[BaseModel], key: str, raw: str) -> Any:
    """Strings stay strings, except JSON lists/objects for fields that are not plain text."""
    info = model.model_fields.get(key)
    text = raw.strip()
    if info is not None and info.annotation is not str and text[:1] in ("[", "{"):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            pass  # let pydantic report the type problem against the raw string
    return raw


def _bad_params(exc: ValidationError, model: type[BaseModel]) -> BadParams:
    problems = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"]) or "parameters"
        if err["type"] == "extra_forbidden":
            known = ", ".join(model.model_fields) or "none"
            text = f"unknown parameter (known: {known})"
        else:
            text = err["msg"]
            if err["type"] != "missing":
                value = err.get("input")
                got = value if isinstance(value, str) and value.strip() == value and value else repr(value)
                text += f" (got {got[:60]})"
        context = {key: value for key, value in (err.get("ctx") or {}).items() if isinstance(value, str | int | float | bool)}
        if err["type"] != "missing":
            context["input"] = err.get("input")
        problems.append(ParamProblem(where, text, kind=err["type"], context=context))
    message = "; ".join(f"bad parameter {p.field}: {p.message}" for p in problems)
    return BadParams(message, problems)
