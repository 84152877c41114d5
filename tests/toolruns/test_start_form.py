"""The start form's two widgets, server side: the ordered input picker (the order chosen is the
order submitted, kept when the form comes back with errors) and the polygon drawn on a frame (a
JSON-schema hint on the parameter, its frame slot, its errors next to it)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from pydantic import Field

from portal.footage.models import Asset, AssetVersion
from portal.toolruns import forms
from portal.toolruns.models import ToolRun
from portal.toolruns.registry import get_tool
from studio_tools.core import InputKind, InputSlot, ToolParams, ToolSpec
from tests.footage.helpers import make_ready_version


def url(world, tool: str) -> str:
    return reverse("toolruns:start", kwargs={"studio": world.a.studio.slug, "project": world.a.project.code, "tool": tool})


@pytest.fixture
def shots(world):
    """Four ready footage versions, made in the order a, b, c, d (the page lists newest first)."""
    artist = world.a.users["artist"]
    return [make_ready_version(world.a.project, uploader=artist, name=f"shot_{n}.mov") for n in ("a", "b", "c", "d")]


def _chosen_order(html: str, name: str) -> list[int]:
    """The version ids of the picker's chosen list, in page order."""
    chosen = re.search(r"<ol[^>]*data-picker-chosen[^>]*>(.*?)</ol>", html, re.S).group(1)
    return [int(v) for v in re.findall(rf'name="{name}" value="(\d+)"', chosen)]


def _select_order(html: str, name: str) -> list[tuple[int, bool]]:
    """The plain select's options in page order, with whether each is selected."""
    select = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', html, re.S).group(1)
    return [(int(v), bool(sel)) for v, sel in re.findall(r'<option value="(\d+)"[^>]*?( selected)?>', select)]


# --- ordered picker ----------------------------------------------------------------------------------


def test_input_fields_keep_the_chosen_order(world, shots):
    a, b, c, d = (v.pk for v in shots)
    spec = get_tool("continuity").spec
    (media,) = forms.input_fields(spec, world.a.project, {"media": [c, a, d]})
    assert media.multiple and (media.min_count, media.max_count) == (2, 60)
    assert media.selected == [c, a, d]
    assert [o.value for o in media.chosen] == [c, a, d]
    # the no-JavaScript select lists the chosen ones first, in order, so a resubmit keeps it
    assert [o.value for o in media.select_options] == [c, a, d, b]
    # the picker's "available" list keeps the page's own order (newest first)
    assert [o.value for o in media.options] == [d, c, b, a]


def test_a_refused_form_comes_back_with_the_inputs_in_the_chosen_order(world, client_for, shots):
    a, b, c, d = (v.pk for v in shots)
    response = client_for(world.a.users["artist"]).post(
        url(world, "continuity"), {"input-media": [str(c), str(a), str(d)], "param-sensitivity": "5"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "Sensitivity can be at most 1. You entered 5." in html
    assert "less than or equal" not in html  # pydantic's wording never reaches a person
    assert _chosen_order(html, "input-media") == [c, a, d]
    assert _select_order(html, "input-media") == [(c, True), (a, True), (d, True), (b, False)]
    assert not ToolRun.objects.exists()


def test_the_submitted_order_is_the_order_the_run_gets(world, client_for, shots):
    a, b, c, d = (v.pk for v in shots)
    response = client_for(world.a.users["artist"]).post(url(world, "continuity"), {"input-media": [str(d), str(a), str(c)]})
    assert response.status_code == 302, response.content.decode()[:2000]
    run = ToolRun.objects.get()
    assert [i["version"] for i in run.inputs] == [d, a, c]


def test_the_picker_knows_its_limit_and_each_version_its_poster(world, client_for, shots):
    artist = world.a.users["artist"]
    no_poster = make_ready_version(world.a.project, uploader=artist, kind=Asset.Kind.PLATE, name="plate_raw.exr")
    AssetVersion.objects.filter(pk=no_poster.pk).update(poster_key="")
    html = client_for(artist).get(url(world, "crowd")).content.decode()
    assert re.search(r'data-ordered-picker data-slot="input-tiles" data-max="8"', html)
    assert 'data-slot="input-plate"' not in html  # a single input stays a plain select
    poster = reverse(
        "footage:media",
        kwargs={"studio": world.a.studio.slug, "project": world.a.project.code, "version_id": shots[0].pk, "what": "poster"},
    )
    assert f'<option value="{shots[0].pk}" data-poster="{poster}"' in html
    assert f'<option value="{no_poster.pk}">' in html  # no poster, no frame to offer
    assert "js/toolstart.js" in html


# --- polygon -----------------------------------------------------------------------------------------


def test_the_crowd_region_is_a_polygon_drawn_on_the_plate():
    fields = {f.name: f for f in forms.param_fields(get_tool("crowd").spec)}
    region = fields["region"]
    assert (region.widget, region.frame_slot, region.frame_slot_html_name) == ("polygon", "plate", "input-plate")
    assert region.display_value == ""  # None: the whole frame
    assert fields["time_offset"].widget == "pair" and fields["time_offset"].frame_slot == ""
    assert fields["density"].widget == "number"


class _HintedParams(ToolParams):
    good: list[tuple[float, float]] | None = Field(
        None, json_schema_extra={"x-widget": "polygon", "x-frame-slot": "clip", "x-max-points": 5}
    )
    stray: list[tuple[float, float]] | None = Field(None, json_schema_extra={"x-widget": "polygon", "x-frame-slot": "nope"})


def test_a_polygon_hint_needs_a_real_frame_slot():
    spec = ToolSpec(
        name="hinted",
        version="1.0.0",
        title="Hinted",
        description="",
        inputs=(InputSlot("clip", (InputKind.FOOTAGE,), 1, 1),),
        params_model=_HintedParams,
    )
    fields = {f.name: f for f in forms.param_fields(spec, values={"good": [[0.1, 0.2], [0.3, 0.4], [0.5, 0.1]]})}
    assert (fields["good"].widget, fields["good"].frame_slot, fields["good"].max_points) == ("polygon", "clip", 5)
    assert fields["good"].display_value == "[[0.1, 0.2], [0.3, 0.4], [0.5, 0.1]]"
    assert fields["stray"].widget == "json"  # a slot the tool does not have: the plain JSON box


def test_the_crowd_form_draws_on_the_plate_slot(world, client_for, shots):
    html = client_for(world.a.users["artist"]).get(url(world, "crowd")).content.decode()
    assert re.search(r'data-polygon-field data-frame-slot="input-plate"', html)
    assert re.search(r'<textarea name="param-region" id="id-param-region"[^>]*data-polygon-json', html)


def _region_block(html: str) -> str:
    """The region field's own block: from its widget to the next field."""
    return re.search(r"data-polygon-field(.*?)<div class=\"field", html, re.S).group(1)


@pytest.mark.parametrize(
    ("region", "message"),
    [
        ("[[0.1, 0.1], [0.9, 0.1]]", "the region needs at least 3 points, got 2"),
        ("[[0.1, 0.1], [0.9, 0.9], [0.9, 0.1], [0.1, 0.9]]", "the region&#x27;s edges cross each other"),
        # a part of the value: the message names the part, and still sits next to the field
        ('[[0.1, 0.1], [0.9, "up"], [0.5, 0.9]]', "Where people may be added, item [1][1] must be a number. You entered up."),
    ],
)
def test_region_errors_sit_next_to_the_region_field(world, client_for, shots, region, message):
    response = client_for(world.a.users["artist"]).post(
        url(world, "crowd"), {"input-plate": str(shots[0].pk), "param-region": region}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert message in _region_block(html)
    assert 'class="form-errors"' not in html  # not among the form's unplaced errors
    assert re.search(r'<textarea name="param-region"[^>]*aria-invalid="true"', html)
    assert not ToolRun.objects.exists()


def test_a_drawn_region_reaches_the_run(world, client_for, shots):
    response = client_for(world.a.users["artist"]).post(
        url(world, "crowd"), {"input-plate": str(shots[0].pk), "param-region": "[[0.1, 0.2], [0.8, 0.25], [0.5, 0.9]]"}
    )
    assert response.status_code == 302
    assert ToolRun.objects.get().params["region"] == [[0.1, 0.2], [0.8, 0.25], [0.5, 0.9]]
