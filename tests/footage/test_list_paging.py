"""Lists that grow are paged, on the page and in the API, and the filters stay on when paging."""

from __future__ import annotations

import re

import pytest

from portal.footage.models import Asset
from portal.toolruns import services as toolrun_services
from portal.toolruns.models import ToolRun
from tests.footage.helpers import make_ready_version


@pytest.fixture
def producer(world):
    return world.a.users["producer"]


def _asset_names(html: str) -> list[str]:
    return re.findall(r'/assets/\d+/">([^<]+)</a>', html)


def test_asset_list_pages_and_keeps_the_kind_filter(world, producer, client_for):
    project = world.a.project
    for n in range(30):
        make_ready_version(project, uploader=producer, name=f"foot_{n:02d}.mov")
    for n in range(27):
        make_ready_version(project, uploader=producer, kind=Asset.Kind.PLATE, name=f"plate_{n:02d}.exr")
    client = client_for(producer)
    base = f"/s/{world.a.studio.slug}/p/{project.code}"

    # the project page is an overview: the latest assets a short page at a time, the count of them all
    first = client.get(f"{base}/").content.decode()
    assert len(_asset_names(first)) == 10
    assert "Page 1 of 6" in first
    assert "data-asset-count>57<" in first  # the count is of every asset, not of the page
    assert f'data-asset-list-url="{base}/assets/latest/"' in first  # its live refresh keeps the short pages
    latest = client.get(f"{base}/assets/latest/?page=6").content.decode()
    assert _asset_names(latest) == _asset_names(client.get(f"{base}/?page=6").content.decode())
    assert len(_asset_names(latest)) == 7 and "Page 6 of 6" in latest
    assert len(_asset_names(client.get(f"{base}/assets/").content.decode())) == 25  # the asset list: 25 a page

    plates = client.get(f"{base}/assets/?kind=plate&page=2").content.decode()
    assert _asset_names(plates) == sorted((f"plate_{n:02d}.exr" for n in range(2)), reverse=True)
    assert "Page 2 of 2" in plates
    assert "?kind=plate&amp;page=1" in plates  # the pager's links keep the filter

    everything = set()
    for page in (1, 2, 3):
        everything |= set(_asset_names(client.get(f"{base}/assets/?page={page}").content.decode()))
    assert len(everything) == 57
    # out of range: the last page, not an error
    assert _asset_names(client.get(f"{base}/assets/?page=99").content.decode()) == _asset_names(
        client.get(f"{base}/assets/?page=3").content.decode()
    )


def test_an_unknown_kind_says_so_and_shows_everything(world, producer, client_for):
    make_ready_version(world.a.project, uploader=producer, name="one.mov")
    response = client_for(producer).get(f"/s/{world.a.studio.slug}/p/{world.a.project.code}/assets/?kind=banana")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Unknown kind" in html and "banana" in html
    assert _asset_names(html) == ["one.mov"]


def test_assets_api_pages_with_the_filter(world, producer, api_for):
    project = world.a.project
    for n in range(7):
        make_ready_version(project, uploader=producer, kind=Asset.Kind.PLATE if n % 2 else Asset.Kind.FOOTAGE, name=f"a{n}.mov")
    api = api_for(producer)
    data = api.get(f"/api/v1/projects/{project.pk}/assets/?kind=plate&page_size=2").json()
    assert data["count"] == 3 and len(data["results"]) == 2
    assert "kind=plate" in data["next"]
    rest = api.get(data["next"]).json()
    assert len(rest["results"]) == 1 and rest["next"] is None
    assert api.get(f"/api/v1/projects/{project.pk}/assets/?kind=banana").status_code == 400


def test_runs_page_pages(world, client_for):
    artist = world.a.users["artist"]
    clip = make_ready_version(world.a.project, uploader=artist)
    for _ in range(27):
        run = toolrun_services.toolrun_create(
            actor=artist, project=world.a.project, tool="contactsheet", params={}, input_version_ids=[clip.pk]
        )
        ToolRun.objects.filter(pk=run.pk).update(status=ToolRun.Status.SUCCEEDED)
    client = client_for(artist)
    base = f"/s/{world.a.studio.slug}/p/{world.a.project.code}/tools"
    first = client.get(f"{base}/").content.decode()
    second = client.get(f"{base}/runs/?page=2").content.decode()
    ids = lambda html: set(re.findall(r'data-run-id="(\d+)"', html))  # noqa: E731
    assert len(ids(first)) == 25 and len(ids(second)) == 2
    assert not ids(first) & ids(second)
    assert "Page 2 of 2" in second
