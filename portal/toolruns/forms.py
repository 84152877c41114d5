"""The "start a run" form, generated from the tool's JSON Schema (params) and input slots (pickers).

The form only collects values: validation is the tool spec's (through the service), so the page, the
API and the CLI accept and refuse exactly the same parameters."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.urls import reverse
from django.utils.translation import gettext

from portal.footage import selectors as footage_selectors
from portal.toolruns import wording
from portal.toolruns.registry import asset_kinds_for
from studio_tools.core import ToolSpec

PARAM_PREFIX = "param-"
INPUT_PREFIX = "input-"


@dataclass
class ParamField:
    name: str
    label: str
    widget: str  # number | checkbox | select | multichoice | pair | text | json | polygon
    help: str = ""
    unit: str = ""  # words after the box ("seconds", "pixels")
    parts: list[str] = field(default_factory=list)  # pair: the words before each of its two boxes
    required: bool = False
    value: Any = None
    minimum: float | None = None
    maximum: float | None = None
    step: str = "any"
    max_length: int | None = None
    choices: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # polygon: the input slot whose chosen version's poster is the frame drawn on, and a point cap
    frame_slot: str = ""
    max_points: int | None = None

    @property
    def frame_slot_html_name(self) -> str:
        return INPUT_PREFIX + self.frame_slot if self.frame_slot else ""

    @property
    def html_name(self) -> str:
        return PARAM_PREFIX + self.name

    @property
    def checked(self) -> bool:
        return self.value in (True, "on", "true", "1")

    @property
    def chosen_values(self) -> list[str]:
        """multichoice: the machine values ticked."""
        if isinstance(self.value, list | tuple):
            return [str(v) for v in self.value]
        if isinstance(self.value, str) and self.value:
            return [part.strip() for part in self.value.split(",") if part.strip()]
        return []

    @property
    def pair_values(self) -> list[str]:
        """pair: the two numbers as typed or given."""
        if isinstance(self.value, list | tuple) and len(self.value) == 2:
            return ["" if v is None else str(v) for v in self.value]
        return ["", ""]

    @property
    def shown_html_name(self) -> str:
        """multichoice: a hidden field saying the boxes were on the page (unticked boxes send nothing)."""
        return f"{self.html_name}-shown"

    def part_html_name(self, index: int) -> str:
        return f"{self.html_name}-{index}"

    @property
    def pair_parts(self) -> list[tuple[str, str, str]]:
        """pair: (html name, words, value) for each of the two boxes."""
        words = self.parts or ["", ""]
        return [(self.part_html_name(i), words[i], self.pair_values[i]) for i in range(2)]

    @property
    def display_value(self) -> str:
        if self.value is None:
            return ""
        if self.widget in ("json", "polygon") and not isinstance(self.value, str):
            return json.dumps(self.value)
        return str(self.value)


@dataclass(frozen=True)
class InputOption:
    """One ready version a slot can take; `poster` is its frame's URL, or "" when it has none."""

    value: int
    label: str
    poster: str = ""


@dataclass
class InputField:
    slot: str
    label: str
    help: str
    kinds: tuple[str, ...]
    multiple: bool
    required: bool
    options: list[InputOption]
    # In the order the user chose them: the order the tool receives them (story order, cut order).
    selected: list[int] = field(default_factory=list)
    min_count: int = 0
    max_count: int | None = None

    @property
    def html_name(self) -> str:
        return INPUT_PREFIX + self.slot

    @property
    def kind_words(self) -> list[str]:
        """What the slot takes, in the page's language."""
        return [wording.kind_word(k) for k in self.kinds]

    @property
    def chosen(self) -> list[InputOption]:
        """The selected options, in the chosen order."""
        by_value = {o.value: o for o in self.options}
        return [by_value[v] for v in self.selected if v in by_value]

    @property
    def select_options(self) -> list[InputOption]:
        """Options for the plain <select>: the chosen ones first, in order, so that a browser without
        JavaScript (a multi-select submits in list order) sends them back in the same order."""
        chosen = self.chosen
        taken = {o.value for o in chosen}
        return chosen + [o for o in self.options if o.value not in taken]


def _resolve(prop: dict[str, Any], defs: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """A property with $ref / allOf / Optional (anyOf with null) folded into one plain schema."""
    nullable = False
    merged = dict(prop)
    if "anyOf" in merged:
        options = [o for o in merged.pop("anyOf") if o.get("type") != "null"]
        nullable = len(options) == 0 or any(o.get("type") == "null" for o in prop["anyOf"])
        if len(options) == 1:
            merged = {**options[0], **merged}
        else:
            merged.setdefault("type", "json")
    if "allOf" in merged and len(merged["allOf"]) == 1:
        merged = {**merged.pop("allOf")[0], **merged}
    if "$ref" in merged:
        target = defs.get(merged.pop("$ref").rsplit("/", 1)[-1], {})
        merged = {**target, **merged}
    return merged, nullable


def param_fields(
    spec: ToolSpec,
    values: Mapping[str, Any] | None = None,
    errors: Mapping[str, list[str]] | None = None,
    *,
    provider_choices: list[tuple[str, str]] | None = None,
) -> list[ParamField]:
    """The start form's fields from the tool's parameter schema; a model-provider parameter (`x-ai-provider`)
    becomes a choice among `provider_choices` (the providers the studio allows), when given."""
    schema = spec.params_schema()
    defs = schema.get("$defs", {})
    slot_names = {slot.name for slot in spec.inputs}
    required = set(schema.get("required", []))
    errors = errors or {}
    fields = []
    for name, raw in (schema.get("properties") or {}).items():
        prop, _nullable = _resolve(raw, defs)
        kind = prop.get("type")
        words = wording.param_words(spec, name)
        if words is not None and words.hidden and not _errors_of(name, errors):
            continue
        item = ParamField(
            name=name,
            label=wording.param_label(spec, name),
            widget="json",
            help=str(words.help) if words is not None and words.help else prop.get("description", ""),
            unit=str(words.unit) if words is not None else "",
            required=name in required,
            value=(values or {}).get(name, _default(spec, name, prop)),
            errors=_errors_of(name, errors),
        )
        choice_words = {k: str(v) for k, v in words.choices.items()} if words is not None else {}
        items, _ = _resolve(prop.get("items") or {}, defs) if kind == "array" else ({}, False)
        if prop.get("x-widget") == "polygon" and prop.get("x-frame-slot") in slot_names:
            # A list of [x, y] points, drawn over a frame of the version chosen in that slot.
            item.widget = "polygon"
            item.frame_slot = prop["x-frame-slot"]
            max_points = prop.get("x-max-points", prop.get("maxItems"))
            item.max_points = max_points if isinstance(max_points, int) else None
        elif prop.get("x-ai-provider") and provider_choices is not None:
            item.widget = "select"
            item.choices = [("", gettext("The studio's default")), *provider_choices]
        elif "enum" in prop:
            item.widget = "select"
            item.choices = [(str(v), choice_words.get(str(v), str(v))) for v in prop["enum"]]
        elif kind == "array" and "enum" in items:
            item.widget = "multichoice"
            item.choices = [(str(v), choice_words.get(str(v), str(v))) for v in items["enum"]]
        elif kind == "array" and _is_number_pair(prop, defs):
            item.widget = "pair"
            item.parts = [str(p) for p in words.parts] if words is not None and words.parts else ["", ""]
        elif kind in ("integer", "number"):
            item.widget = "number"
            item.step = "1" if kind == "integer" else "any"
            item.minimum = prop.get("minimum", prop.get("exclusiveMinimum"))
            item.maximum = prop.get("maximum", prop.get("exclusiveMaximum"))
        elif kind == "boolean":
            item.widget = "checkbox"
        elif kind == "string":
            item.widget = "text"
            item.max_length = prop.get("maxLength")
        fields.append(item)
    return fields


def _default(spec: ToolSpec, name: str, prop: dict[str, Any]) -> Any:
    """The schema's default, or the model's (a default_factory has none in the schema)."""
    if "default" in prop:
        return prop["default"]
    info = spec.params_model.model_fields.get(name)
    if info is None or info.is_required():
        return None
    return info.get_default(call_default_factory=True)


def _is_number_pair(prop: dict[str, Any], defs: dict[str, Any]) -> bool:
    """A tuple of two numbers ([min, max] seconds): two number boxes instead of JSON."""
    prefix = prop.get("prefixItems") or []
    if len(prefix) != 2 or prop.get("maxItems", 2) != 2:
        return False
    return all(_resolve(p, defs)[0].get("type") in ("number", "integer") for p in prefix)


def _errors_of(name: str, errors: Mapping[str, list[str]]) -> list[str]:
    """The messages about one parameter, including those about a part of it (`params.region.1.1`,
    an item of a list): those name the part themselves (portal/toolruns/wording.py)."""
    own = list(errors.get(f"params.{name}", []))
    prefix = f"params.{name}."
    for key, messages in errors.items():
        if key.startswith(prefix):
            own.extend(messages)
    return own


def unplaced_errors(spec: ToolSpec, errors: Mapping[str, list[str]]) -> list[str]:
    """Messages that belong to no field of the form (the form shows them at its top)."""
    names = list(spec.params_model.model_fields)

    def placed(key: str) -> bool:
        if key in ("inputs", "new_version_of"):  # shown at their own fields
            return True
        return any(key == f"params.{n}" or key.startswith(f"params.{n}.") for n in names)

    return [message for key, messages in errors.items() if not placed(key) and key != "characters" for message in messages]


def params_from_post(spec: ToolSpec, post) -> dict[str, Any]:
    """Raw form values; an empty box means "use the default". Types are the spec's business."""
    params: dict[str, Any] = {}
    for item in param_fields(spec):
        if item.widget == "checkbox":
            params[item.name] = item.html_name in post
            continue
        if item.widget == "multichoice":
            # The form marks that the boxes were shown: then nothing ticked is an empty list (the tool
            # says "pick at least one"); a post without the boxes at all keeps the default.
            ticked = [v for v in post.getlist(item.html_name) if v]
            if ticked or item.shown_html_name in post:
                params[item.name] = ticked
            continue
        if item.widget == "pair":
            parts = [post.get(item.part_html_name(i), "").strip() for i in range(2)]
            if any(parts):
                params[item.name] = parts
            continue
        raw = post.get(item.html_name, "")
        if not raw.strip():
            continue
        if item.widget in ("json", "polygon"):
            try:
                params[item.name] = json.loads(raw)
            except json.JSONDecodeError:
                params[item.name] = raw  # the spec reports the type problem against what was typed
        else:
            params[item.name] = raw.strip()
    return params


def _poster_url(project, version) -> str:
    if not version.poster_key:
        return ""
    kwargs = {"studio": project.studio.slug, "project": project.code, "version_id": version.pk, "what": "poster"}
    return reverse("footage:media", kwargs=kwargs)


def input_fields(spec: ToolSpec, project, selected: Mapping[str, list[int]] | None = None) -> list[InputField]:
    """One picker per input slot, listing only the project's ready versions of the kinds it takes.

    `selected` is {slot: [version ids]} in the order they were chosen; the order is kept."""
    fields = []
    for slot in spec.inputs:
        kinds = asset_kinds_for(slot.kinds)
        words = wording.input_words(spec, slot.name)
        versions = footage_selectors.ready_versions(project, kinds) if kinds else []
        options = [
            InputOption(
                value=v.pk,
                label=f"{v.asset.name} · v{v.number} · {v.asset.get_kind_display()}",
                poster=_poster_url(project, v),
            )
            for v in versions
        ]
        fields.append(
            InputField(
                slot=slot.name,
                label=words[0] if words else slot.name.replace("_", " ").capitalize(),
                help=words[1] if words else slot.description,
                kinds=tuple(k.value for k in slot.kinds),
                multiple=slot.max_count != 1,
                required=slot.min_count > 0,
                options=options,
                selected=list(dict.fromkeys((selected or {}).get(slot.name, []))),
                min_count=slot.min_count,
                max_count=slot.max_count,
            )
        )
    return fields


def inputs_from_post(spec: ToolSpec, post) -> dict[str, list[str]]:
    return {slot.name: [v for v in post.getlist(INPUT_PREFIX + slot.name) if v] for slot in spec.inputs}
