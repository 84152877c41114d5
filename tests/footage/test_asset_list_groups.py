"""The asset list groups assets by what they are (footage, generated media, edit lists, reports,
rejected), filters them (group, status, approval, kind, search by name or shot code) in the page and
the API, and shows a run's outputs together under their run, each with its version and approval."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from portal.footage import selectors
from portal.footage.models import ApprovalState, Asset, AssetGroup, AssetVersion
from portal.review import services as review_services
from tests.footage.helpers import make_ready_version
from tests.footage.listing_helpers import (
    CONTINUITY_OUTPUTS,
    RECAP_OUTPUTS,
    finished_run,
    output_version,
    rejected_upload,
    upload,
)
from tests.toolruns.test_french_walk import english_in, visible_text


@pytest.fixture
def listed(world):
    """A project with uploads (one rejected at ingest), a crowd, a recap and a continuity run, a rejected
    crowd matte and a comp with changes requested."""
    project = world.a.project
    producer, artist = world.a.users["producer"], world.a.users["artist"]
    made = SimpleNamespace(project=project, producer=producer, artist=artist)
    made.plate = upload(project, uploader=artist, name="harbour_plate.mov", kind=Asset.Kind.PLATE, shot_code="012_0040")
    made.clip = upload(project, uploader=artist, name="street.mov", shot_code="013_0010")
    made.broken = rejected_upload(project, uploader=artist, name="notes.mov", shot_code="012_0050")
    made.crowd = finished_run(project, actor=artist, tool="crowd", shot_code="012_0040")
    made.recap = finished_run(project, actor=artist, tool="recap", outputs=RECAP_OUTPUTS)
    made.continuity = finished_run(project, actor=artist, tool="continuity", outputs=CONTINUITY_OUTPUTS)
    made.music = upload(project, uploader=artist, name="theme.wav", kind=Asset.Kind.MUSIC)
    review_services.decision_create(
        actor=producer, version=output_version(made.crowd, "matte"), verdict="rejected", note="Edges flicker."
    )
    review_services.decision_create(
        actor=producer, version=output_version(made.crowd, "comp"), verdict="changes_requested", note="Fewer people."
    )
    return made


def _listed(project, **filters) -> list[Asset]:
    return selectors.assets_from_versions(selectors.listed_versions(project, selectors.AssetFilters(**filters)), project)


def _groups(project, **filters) -> dict[str, str]:
    return {a.name: a.group for a in _listed(project, **filters)}


def test_each_asset_is_in_its_group(listed):
    groups = _groups(listed.project)
    assert groups == {
        "harbour_plate.mov": "footage",
        "street.mov": "footage",
        "theme.wav": "footage",
        "notes.mov": "rejected",  # rejected at ingest
        "crowd comp": "generated",  # changes requested is not rejected
        "crowd comp_proxy": "generated",
        "crowd matte": "rejected",  # a producer rejected these bytes
        "recap recap": "generated",
        "recap moments": "generated",
        "recap narration": "edit_lists",
        "recap timeline": "edit_lists",
        "recap edl": "edit_lists",
        "continuity findings": "reports",
        "continuity report": "reports",
    }
    assert selectors.group_counts(listed.project) == {
        "footage": 3,
        "generated": 4,
        "edit_lists": 3,
        "reports": 2,
        "rejected": 2,
    }


def test_the_filters_in_sql_agree_with_the_rows_in_python(listed, world):
    """The page's rows get their group and approval in Python, the filters and counts in SQL: the same
    answers for every asset (a loose generated file without a run output too)."""
    loose = make_ready_version(listed.project, uploader=listed.artist, kind=Asset.Kind.GENERATED, name="loose.json")
    AssetVersion.objects.filter(pk=loose.pk).update(media_info={"kind": "file", "media_type": "application/json"})
    review_services.decision_create(
        actor=listed.producer, version=output_version(listed.continuity, "report"), verdict="approved"
    )
    rows = _listed(listed.project)
    for group in AssetGroup.values:
        assert {a.name for a in _listed(listed.project, group=group)} == {a.name for a in rows if a.group == group}, group
    for approval in ApprovalState.values:
        assert {a.name for a in _listed(listed.project, approval=approval)} == {a.name for a in rows if a.approval == approval}
    assert {a.approval for a in rows} == set(ApprovalState.values)


def test_the_latest_version_decides(listed):
    """A rejected v1 with a ready v2 is not rejected; a verdict on other bytes (a re-ingest) is not the
    version's: the matte with new bytes is pending again, in generated media."""
    v2 = AssetVersion.objects.create(
        asset=listed.broken.asset,
        number=2,
        status=AssetVersion.Status.READY,
        sha256="1" * 64,
        media_info={"kind": "video", "duration": 2.0},
        uploaded_by=listed.artist,
    )
    matte = output_version(listed.crowd, "matte")
    AssetVersion.objects.filter(pk=matte.pk).update(sha256="2" * 64)
    groups = _groups(listed.project)
    assert groups["notes.mov"] == "footage" and groups["crowd matte"] == "generated"
    [asset] = [a for a in _listed(listed.project) if a.name == "notes.mov"]
    assert asset.latest.pk == v2.pk and asset.latest.number == 2
    [matte_asset] = [a for a in _listed(listed.project) if a.name == "crowd matte"]
    assert matte_asset.approval == "pending" == matte_asset.latest.approval_state


def test_a_generated_version_without_a_run_output_is_classified_by_its_media_type(world):
    project, artist = world.a.project, world.a.users["artist"]
    loose = (("loose.json", "application/json"), ("loose.html", "text/html"), ("loose.srt", "application/x-subrip"))
    for name, media_type in loose:
        version = make_ready_version(project, uploader=artist, kind=Asset.Kind.GENERATED, name=name)
        AssetVersion.objects.filter(pk=version.pk).update(media_info={"kind": "file", "media_type": media_type})
    make_ready_version(project, uploader=artist, kind=Asset.Kind.GENERATED, name="loose.mp4")
    assert _groups(project) == {
        "loose.json": "reports",
        "loose.html": "reports",
        "loose.srt": "edit_lists",
        "loose.mp4": "generated",
    }


def test_a_runs_outputs_are_listed_together_in_the_order_the_tool_made_them(listed):
    assets = _listed(listed.project)
    runs = [a.run.id if a.run else None for a in assets]
    for run in (listed.crowd, listed.recap, listed.continuity):
        positions = [i for i, r in enumerate(runs) if r == run.pk]
        assert positions == list(range(positions[0], positions[0] + run.outputs.count())), runs
    recap_rows = [a for a in assets if a.run and a.run.id == listed.recap.pk]
    assert [a.run.output for a in recap_rows] == [name for name, _kind, _type in RECAP_OUTPUTS]
    assert {(a.run.tool, a.run.outputs) for a in recap_rows} == {("recap", 5)}
    # newest first: the music uploaded last, then the continuity run, the recap, the crowd run, the uploads
    names = [a.name for a in assets]
    assert names[0] == "theme.wav" and names[1] == "continuity findings"
    assert names.index("recap recap") < names.index("crowd comp") < names.index("street.mov") < names.index("harbour_plate.mov")


@pytest.mark.parametrize(
    "filters, expected",
    [
        ({"status": "rejected"}, {"notes.mov"}),
        ({"approval": "rejected"}, {"crowd matte"}),
        ({"approval": "changes_requested"}, {"crowd comp"}),
        ({"approval": "not_required", "kind": "plate"}, {"harbour_plate.mov"}),
        ({"search": "012_0040"}, {"harbour_plate.mov", "crowd comp", "crowd comp_proxy", "crowd matte"}),
        ({"search": "012_0040", "group": "generated"}, {"crowd comp", "crowd comp_proxy"}),
        ({"search": "STREET"}, {"street.mov"}),  # a name, in any case
        ({"search": "012_00", "status": "ready", "group": "footage"}, {"harbour_plate.mov"}),
        ({"group": "reports"}, {"continuity findings", "continuity report"}),
        ({"search": "nothing like it"}, set()),
    ],
)
def test_filters_narrow_the_list(listed, filters, expected):
    assert set(_groups(listed.project, **filters)) == expected


def test_filters_from_query_parameters_leave_out_what_they_cannot_use():
    filters, problems = selectors.AssetFilters.parse(
        {"group": "reports", "status": "banana", "approval": "pending", "q": " 012_0040 ", "kind": ""}
    )
    assert filters == selectors.AssetFilters(group="reports", approval="pending", search="012_0040")
    assert problems == {"status": "banana"}
    assert selectors.AssetFilters.parse({"q": "x" * 101})[1] == {"q": "x" * 101}
    assert filters.as_params() == {"group": "reports", "approval": "pending", "q": "012_0040"}


# --- the page ---------------------------------------------------------------------------------


def _page(world, user, client_for, query: str = "", **headers) -> str:
    response = client_for(user).get(f"/s/{world.a.studio.slug}/p/{world.a.project.code}/assets/{query}", **headers)
    assert response.status_code == 200
    return response.content.decode()


def _names(html: str) -> list[str]:
    return re.findall(r'/assets/\d+/">([^<]+)</a>', html)


def test_the_page_shows_groups_runs_versions_and_approvals(world, listed, client_for):
    html = _page(world, listed.producer, client_for)
    counts = dict(re.findall(r'data-asset-group="(\w*)"[^>]*>[^<]*<span class="count">(\d+)</span>', html))
    assert counts == {"": "14", "footage": "3", "generated": "4", "edit_lists": "3", "reports": "2", "rejected": "2"}
    run_url = f"/s/{world.a.studio.slug}/p/{world.a.project.code}/runs/{listed.crowd.pk}/"
    assert f'<a href="{run_url}">Crowd extension run #{listed.crowd.pk}</a>' in html
    assert "· 3 outputs" in html and "· 5 outputs" in html and "· 2 outputs" in html
    crowd = re.search(rf'<tbody class="run-group" data-run-id="{listed.crowd.pk}">(.*?)</tbody>', html, re.S).group(1)
    assert _names(crowd) == ["crowd comp", "crowd comp_proxy", "crowd matte"]
    approvals = re.findall(r'data-approval="(\w+)"', crowd)
    assert approvals == ["changes_requested", "pending", "rejected"]
    assert "Changes requested" in crowd and "Pending review" in crowd and crowd.count(">v1<") == 3
    assert "Edit list" in html and "Report" in html and "Generated media" in html
    # uploads are in no run group
    assert "harbour_plate.mov" not in "".join(re.findall(r'<tbody class="run-group".*?</tbody>', html, re.S))


def test_the_page_filters_and_keeps_the_filters_in_its_links(world, listed, client_for):
    html = _page(world, listed.producer, client_for, "?group=footage&q=012&status=ready")
    assert _names(html) == ["harbour_plate.mov"]
    # a group link keeps the other filters (and starts at the first page)
    assert 'href="?group=generated&amp;status=ready&amp;q=012#footage"' in html
    assert 'href="?status=ready&amp;q=012#footage" data-asset-group=""' in html
    assert 'name="q" value="012"' in html and '<option value="ready" selected>' in html
    assert '<input type="hidden" name="group" value="footage">' in html
    assert 'aria-current="page"' in re.search(r'<a [^>]*data-asset-group="footage"[^>]*>', html).group(0)


def test_the_pager_keeps_every_filter(world, client_for):
    artist = world.a.users["artist"]
    for n in range(27):
        upload(world.a.project, uploader=artist, name=f"shot_{n:02d}.mov", shot_code=f"020_{n:04d}")
    upload(world.a.project, uploader=artist, name="elsewhere.mov", shot_code="999_0010")
    html = _page(world, artist, client_for, "?q=020_&status=ready&page=2")
    assert len(_names(html)) == 2 and "Page 2 of 2" in html
    assert "?status=ready&amp;q=020_&amp;page=1" in html


@pytest.mark.parametrize(
    "query, words",
    [
        ("?group=banana", "Unknown group “banana”: showing every group."),
        ("?status=lost", "Unknown status “lost”: showing every status."),
        ("?approval=maybe", "Unknown approval state “maybe”: showing every approval state."),
        ("?q=" + "x" * 101, "The search is longer than 100 characters: showing every name and shot code."),
    ],
)
def test_a_filter_the_page_cannot_use_is_named_and_left_out(world, listed, client_for, query, words):
    html = _page(world, listed.producer, client_for, query)
    assert words.replace("“", "&ldquo;").replace("”", "&rdquo;") in html or words in html
    assert len(_names(html)) == 14


def test_no_match_says_so_and_offers_to_clear(world, listed, client_for):
    html = _page(world, listed.producer, client_for, "?q=zzz")
    assert "No asset matches these filters." in html and "data-asset-clear" in html
    assert _names(html) == []


def test_the_project_page_shows_the_grouped_list_and_speaks_french(world, listed, client_for):
    response = client_for(listed.producer).get(
        f"/s/{world.a.studio.slug}/p/{world.a.project.code}/?group=edit_lists", HTTP_ACCEPT_LANGUAGE="fr"
    )
    html = response.content.decode()
    assert _names(html) == ["recap narration", "recap timeline", "recap edl"]
    assert "Récapitulatif, exécution n° " in html and "5 sorties" in html
    assert "Listes de montage" in html and "Rapports" in html and "Médias générés" in html
    assert english_in(visible_text(html)) == []
    for english in ("Edit list", "Reports", "Generated media", "Any status", "Name or shot code", "outputs", " run #"):
        assert english not in visible_text(html), english


# --- the API ----------------------------------------------------------------------------------


def test_the_api_gives_group_and_run_and_filters(world, listed, api_for):
    api = api_for(listed.producer)
    base = f"/api/v1/projects/{world.a.project.pk}/assets/"
    data = api.get(base).json()
    assert data["count"] == 14
    by_name = {row["name"]: row for row in data["results"]}
    assert by_name["crowd matte"]["group"] == "rejected"
    assert by_name["crowd matte"]["run"] == {"id": listed.crowd.pk, "tool": "crowd", "output": "matte", "outputs": 3}
    assert by_name["crowd matte"]["latest_version"]["approval"] == "rejected"
    assert by_name["street.mov"]["run"] is None and by_name["street.mov"]["group"] == "footage"

    edits = api.get(base, {"group": "edit_lists"}).json()
    assert [r["name"] for r in edits["results"]] == ["recap narration", "recap timeline", "recap edl"]
    found = api.get(base, {"q": "012_0040", "approval": "pending", "page_size": 1}).json()
    assert found["count"] == 1 and found["results"][0]["name"] == "crowd comp_proxy"
    assert api.get(base, {"status": "rejected"}).json()["results"][0]["name"] == "notes.mov"

    one = api.get(f"{base}{output_version(listed.recap, 'edl').asset_id}/").json()
    assert one["group"] == "edit_lists" and one["run"]["outputs"] == 5 and one["latest_version"]["number"] == 1
    assert api.get(f"{base}999999/").status_code == 404


def test_the_api_pages_keep_the_filters(world, listed, api_for):
    data = (
        api_for(listed.producer)
        .get(f"/api/v1/projects/{world.a.project.pk}/assets/", {"group": "generated", "page_size": 3})
        .json()
    )
    assert data["count"] == 4 and "group=generated" in data["next"]


@pytest.mark.parametrize(
    "params, field, words",
    [
        (
            {"group": "banana"},
            "group",
            "Unknown group “banana”; choose one of: footage, generated, edit_lists, reports, rejected",
        ),
        ({"status": "lost"}, "status", "Unknown status “lost”; choose one of: uploading, processing, ready, rejected."),
        ({"approval": "maybe"}, "approval", "Unknown approval state “maybe”"),
        ({"kind": "banana"}, "kind", "Unknown kind “banana”"),
        ({"q": "x" * 101}, "q", "A search is at most 100 characters long."),
    ],
)
def test_the_api_refuses_a_filter_it_cannot_use(world, listed, api_for, params, field, words):
    response = api_for(listed.producer).get(f"/api/v1/projects/{world.a.project.pk}/assets/", params)
    assert response.status_code == 400
    assert words in str(response.json()[field] if field in response.json() else response.json())


def test_the_api_schema_documents_the_filters():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"]["/api/v1/projects/{project_pk}/assets/"]["get"]
    params = {p["name"]: p["schema"] for p in operation["parameters"]}
    assert set(params["group"]["enum"]) == {"footage", "generated", "edit_lists", "reports", "rejected"}
    assert "approved" in params["approval"]["enum"] and params["q"]["maxLength"] == 100
    assert "ready" in params["status"]["enum"] and "page" in params
    asset = schema["components"]["schemas"]["Asset"]["properties"]
    assert "group" in asset and "run" in asset
