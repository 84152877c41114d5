"""The tools in words: every shipped parameter has a label, help and (where it has one) a unit, in
English and French; validation messages are plain words, never pydantic's; structured parameters get
real widgets (ticked boxes, two number boxes) that round-trip to the same machine values."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import translation

from portal.toolruns import forms, wording
from portal.toolruns.models import ToolRun
from portal.toolruns.registry import get_tool
from studio_tools.core import BadParams
from tests.footage.helpers import make_ready_version

SHIPPED = ("crowd", "continuity", "contactsheet", "recap")


@pytest.fixture
def shots(world):
    artist = world.a.users["artist"]
    return [make_ready_version(world.a.project, uploader=artist, name=f"shot_{n}.mov") for n in ("a", "b")]


@pytest.mark.parametrize("tool", SHIPPED)
def test_every_parameter_and_input_of_a_shipped_tool_has_words(tool):
    spec = get_tool(tool).spec
    words = wording.tool_words(spec)
    assert words is not None, f"{tool} has no words in portal/toolruns/wording.py"
    missing = [name for name in spec.params_model.model_fields if name not in words.params]
    assert not missing, f"{tool}: parameters without words: {missing}"
    assert not [s.name for s in spec.inputs if s.name not in words.inputs], f"{tool}: inputs without words"
    for name, param in words.params.items():
        assert name in spec.params_model.model_fields, f"{tool}: words for a parameter that does not exist: {name}"
        assert str(param.label) != name and "_" not in str(param.label)
        schema = spec.params_model.model_fields[name]
        choices = [a for a in getattr(schema.annotation, "__args__", ())]
        if param.choices:
            assert set(param.choices) <= {str(c) for c in choices} | set(param.choices)


@pytest.mark.parametrize("tool", SHIPPED)
def test_every_word_of_a_shipped_tool_is_in_french(tool):
    """Each label, help text, unit and choice has a French translation (not the English again)."""
    words = wording.tool_words(tool)
    texts = [words.title, words.description]
    for label, help_text in words.inputs.values():
        texts += [label, help_text]
    for param in words.params.values():
        texts += [param.label, param.help, param.unit, *param.choices.values(), *param.parts]
    english = [str(t) for t in texts if str(t)]
    with translation.override("fr"):
        french = [str(t) for t in texts if str(t)]
    untranslated = sorted({e for e, f in zip(english, french, strict=True) if e == f and e not in SAME_IN_FRENCH})
    assert not untranslated, f"{tool}: not translated to French: {untranslated}"


# Words that read the same in both languages.
SAME_IN_FRENCH = {"Costume", "Clip", "pixels"}


def _problems(tool: str, params: dict) -> list:
    spec = get_tool(tool).spec
    with pytest.raises(BadParams) as caught:
        spec.parse_params(params)
    return [(p.field, wording.plain_problem(spec, p)) for p in caught.value.problems]


def test_limits_are_said_in_words_with_the_unit_and_what_was_typed():
    assert _problems("recap", {"target_seconds": 20}) == [
        ("target_seconds", "Recap length must be at least 30 seconds. You entered 20.")
    ]
    assert _problems("contactsheet", {"thumb_width": 5000}) == [
        ("thumb_width", "Thumbnail width can be at most 1024 pixels. You entered 5000.")
    ]
    assert _problems("crowd", {"density": 1}) == [
        ("density", "Crowd size must be more than 1 × the plate's people. You entered 1.")
    ]


def test_choices_types_and_unknown_names_are_said_in_words():
    ((field, message),) = _problems("recap", {"loudness_standard": "loud"})
    assert field == "loudness_standard"
    assert message == ("Loudness standard: choose one of EBU R128 (-23 LUFS, Europe); ATSC A/85 (-24 LKFS, North America).")
    assert _problems("contactsheet", {"rows": "many"}) == [("rows", "Rows must be a whole number. You entered many.")]
    assert _problems("contactsheet", {"colums": 3}) == [
        ("colums", "“colums” is not a setting of Contact sheet (its settings: columns, rows, thumb_width, timecodes).")
    ]
    # the tools' own messages, already written for people, are kept
    assert _problems("recap", {"min_clip_seconds": 10, "max_clip_seconds": 5})[0][1] == (
        "min_clip_seconds must not exceed max_clip_seconds"
    )
    for _field, message in _problems("continuity", {"sensitivity": 3, "edge_frames": 0, "checks": []}):
        assert "Input should" not in message and "List should" not in message


def test_messages_are_french_in_a_french_session():
    with translation.override("fr"):
        ((_field, message),) = _problems("recap", {"target_seconds": 20})
    assert message == "Durée du récapitulatif doit être d’au moins 30 secondes. Vous avez saisi 20."


def test_the_form_speaks_words_and_keeps_machine_names_for_the_post():
    fields = {f.name: f for f in forms.param_fields(get_tool("recap").spec)}
    target = fields["target_seconds"]
    assert (target.label, target.unit, target.html_name) == ("Recap length", "seconds", "param-target_seconds")
    assert "edit" not in fields  # written by the recap editor, not typed into the start form
    loudness = fields["loudness_standard"]
    assert loudness.choices == [("ebu_r128", "EBU R128 (-23 LUFS, Europe)"), ("atsc_a85", "ATSC A/85 (-24 LKFS, North America)")]
    checks = {f.name: f for f in forms.param_fields(get_tool("continuity").spec)}["checks"]
    assert checks.widget == "multichoice"
    assert checks.choices == [("costume", "Costume"), ("prop", "Props"), ("lighting", "Lighting")]
    assert checks.chosen_values == ["costume", "prop", "lighting"]
    offset = {f.name: f for f in forms.param_fields(get_tool("crowd").spec)}["time_offset"]
    assert (offset.widget, offset.pair_values, offset.unit) == ("pair", ["0.0", "4.0"], "seconds")


def _start_url(world, tool):
    return reverse("toolruns:start", kwargs={"studio": world.a.studio.slug, "project": world.a.project.code, "tool": tool})


def test_ticked_boxes_and_number_pairs_reach_the_run_as_machine_values(world, client_for, shots):
    artist = client_for(world.a.users["artist"])
    a, b = shots[0].pk, shots[1].pk
    html = artist.get(_start_url(world, "continuity")).content.decode()
    assert 'type="checkbox" name="param-checks" value="lighting" checked' in html
    assert "What to check" in html and "Frames read at each cut" in html and "Checks" not in html

    response = artist.post(
        _start_url(world, "continuity"),
        {"input-media": [str(a), str(b)], "param-checks-shown": "1", "param-checks": ["lighting", "costume"]},
    )
    assert response.status_code == 302, response.content.decode()[:1500]
    assert ToolRun.objects.get().params["checks"] == ["lighting", "costume"]

    refused = artist.post(_start_url(world, "continuity"), {"input-media": [str(a), str(b)], "param-checks-shown": "1"})
    assert refused.status_code == 400
    assert "What to check needs at least 1 item." in refused.content.decode()
    assert ToolRun.objects.count() == 1


def test_the_crowd_time_offset_is_two_number_boxes(world, client_for, shots):
    artist = client_for(world.a.users["artist"])
    html = artist.get(_start_url(world, "crowd")).content.decode()
    assert 'name="param-time_offset-0"' in html and 'name="param-time_offset-1"' in html
    response = artist.post(
        _start_url(world, "crowd"),
        {"input-plate": str(shots[0].pk), "param-time_offset-0": "0.5", "param-time_offset-1": "2"},
    )
    assert response.status_code == 302, response.content.decode()[:1500]
    assert ToolRun.objects.get().params["time_offset"] == [0.5, 2.0]
    refused = artist.post(
        _start_url(world, "crowd"),
        {"input-plate": str(shots[0].pk), "param-time_offset-0": "3", "param-time_offset-1": "1"},
    )
    assert refused.status_code == 400
    assert "time_offset is [min, max] seconds" in refused.content.decode()


def test_a_french_session_sees_the_form_in_french(world, client_for):
    client = client_for(world.a.users["artist"])
    html = client.get(_start_url(world, "recap"), HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert 'lang="fr"' in html
    for french in ("Durée du récapitulatif", "secondes", "Ajouter une narration"):
        assert french in html
    for english in ("Recap length", "Add a narration", "Target seconds"):
        assert english not in html


def test_the_api_answers_in_plain_words_too(world, api_for, shots):
    api = api_for(world.a.users["artist"])
    url = f"/api/v1/projects/{world.a.project.pk}/toolruns/"
    response = api.post(
        url, {"tool": "recap", "input_version_ids": [shots[0].pk], "params": {"target_seconds": 20}}, format="json"
    )
    assert response.status_code == 400, response.content
    assert response.json()["params.target_seconds"] == ["Recap length must be at least 30 seconds. You entered 20."]
