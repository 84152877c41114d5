from __future__ import annotations

import pytest
from pydantic import BaseModel, Field

from studio_tools.core import BadInput, BadParams, InputKind, InputSlot, ToolParams, ToolSpec


class Params(ToolParams):
    count: int = Field(3, ge=1, le=10, description="How many.")
    ratio: float = Field(0.5, gt=0, lt=1)
    enabled: bool = True
    label: str = "x"
    tags: list[str] = Field(default_factory=list)


def make_spec(**overrides) -> ToolSpec:
    fields = {
        "name": "demo",
        "version": "1.2.3",
        "title": "Demo",
        "description": "A demo tool.",
        "inputs": (InputSlot("clip", (InputKind.FOOTAGE, InputKind.PLATE)),),
        "params_model": Params,
    }
    return ToolSpec(**{**fields, **overrides})


def test_spec_is_frozen_and_hashable():
    spec = make_spec()
    with pytest.raises(AttributeError):
        spec.name = "other"
    assert hash(spec) == hash(make_spec())


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"name": "Bad Name"}, "lower_snake_case"),
        ({"name": "1tool"}, "lower_snake_case"),
        ({"version": "1.0"}, "MAJOR.MINOR.PATCH"),
        ({"title": "  "}, "title"),
        ({"inputs": (InputSlot("a", "footage"), InputSlot("a", "plate"))}, "same name"),
        ({"params_model": dict}, "pydantic model"),
    ],
)
def test_spec_rejects_bad_definitions(overrides, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make_spec(**overrides)


def test_spec_requires_params_model_that_forbids_extra_fields():
    class Loose(BaseModel):
        count: int = 1

    with pytest.raises(ValueError, match="forbid extra"):
        make_spec(params_model=Loose)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kinds": ()}, "no input kinds"),
        ({"kinds": ("footage", "footage")}, "twice"),
        ({"min_count": -1}, "min_count"),
        ({"min_count": 2, "max_count": 1}, "max_count"),
        ({"max_count": 0, "min_count": 0}, "max_count"),
        ({"name": "Clip"}, "lower_snake_case"),
    ],
)
def test_slot_rejects_bad_definitions(kwargs, match):
    with pytest.raises(ValueError, match=match):
        InputSlot(**{"name": "clip", "kinds": ("footage",), **kwargs})


def test_slot_coerces_kinds_and_describes_counts():
    slot = InputSlot("clip", "plate")
    assert slot.kinds == (InputKind.PLATE,)
    assert slot.accepts("plate") and not slot.accepts(InputKind.FOOTAGE)
    assert slot.count_text() == "exactly 1"
    assert InputSlot("refs", ("still",), 0, None).count_text() == "at least 0"
    assert InputSlot("refs", ("still",), 1, 3).count_text() == "1 to 3"


def test_input_kind_parse_names_the_choices():
    assert InputKind.parse(" Plate ") is InputKind.PLATE
    with pytest.raises(BadInput, match="one of: footage, plate, reference, subtitles, music, still"):
        InputKind.parse("movie")


def test_params_defaults_and_validation():
    spec = make_spec()
    params = spec.default_params()
    assert params == Params(count=3, ratio=0.5, enabled=True, label="x", tags=[])
    assert spec.parse_params({"count": 10}).count == 10
    with pytest.raises(BadParams) as info:
        spec.parse_params({"count": 11, "ratio": 1.5})
    assert [p.field for p in info.value.problems] == ["count", "ratio"]
    assert "less than or equal to 10" in info.value.problems[0].message
    assert str(info.value).startswith("bad parameter count:")


def test_params_reject_unknown_names_listing_the_known_ones():
    with pytest.raises(BadParams, match=r"bad parameter cuont: unknown parameter \(known: count, ratio, enabled, label, tags\)"):
        make_spec().parse_params({"cuont": 2})


def test_params_model_instance_is_revalidated():
    spec = make_spec()
    assert spec.parse_params(Params(count=4)).count == 4
    with pytest.raises(BadParams, match="count"):
        spec.parse_params(Params.model_construct(count=99))
    with pytest.raises(TypeError):
        spec.parse_params(ToolParams())


def test_params_are_frozen():
    params = make_spec().default_params()
    with pytest.raises(ValueError, match="frozen"):
        params.count = 5


def test_params_schema_is_json_schema_for_a_form():
    schema = make_spec().params_schema()
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    count = schema["properties"]["count"]
    assert count == {"default": 3, "description": "How many.", "maximum": 10, "minimum": 1, "title": "Count", "type": "integer"}
    assert schema["properties"]["ratio"]["exclusiveMaximum"] == 1
    assert schema["properties"]["enabled"]["type"] == "boolean"


def test_cli_params_are_coerced_by_pydantic():
    params = make_spec().parse_cli_params(["count=7", "ratio=0.25", "enabled=off", "label=a=b", 'tags=["x", "y"]'])
    assert (params.count, params.ratio, params.enabled, params.label, params.tags) == (7, 0.25, False, "a=b", ["x", "y"])
    assert make_spec().parse_cli_params(["label=[not json"]).label == "[not json"


@pytest.mark.parametrize(
    ("pairs", "match"),
    [
        (["count"], "expected key=value"),
        (["=3"], "expected key=value"),
        (["count=1", "count=2"], "given twice"),
        (["count=many"], "valid integer"),
        (["count=0"], "greater than or equal to 1"),
        (["enabled=maybe"], "valid boolean"),
        (["nope=1"], "unknown parameter"),
    ],
)
def test_cli_params_errors(pairs, match):
    with pytest.raises(BadParams, match=match):
        make_spec().parse_cli_params(pairs)


def test_slot_lookup_and_to_dict():
    spec = make_spec()
    assert spec.slot("clip").name == "clip"
    with pytest.raises(BadInput, match="no input slot 'x'"):
        spec.slot("x")
    data = spec.to_dict()
    assert data["inputs"] == [{"name": "clip", "kinds": ["footage", "plate"], "min_count": 1, "max_count": 1, "description": ""}]
    assert data["params_schema"]["properties"]["count"]["maximum"] == 10
    assert data["uses_external_ai"] is False
