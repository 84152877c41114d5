"""Every read of assets and versions: always scoped to one project, constant query counts."""

from __future__ import annotations

from django.core.paginator import Page, Paginator
from django.db.models import OuterRef, Prefetch, Subquery

from portal.footage.models import Asset, AssetVersion
from portal.projects.models import Project


def _latest_version_id():
    return Subquery(AssetVersion.objects.filter(asset=OuterRef("pk")).order_by("-number").values("pk")[:1])


def assets_for_project(project: Project, *, kind: str | None = None):
    """The project's assets, each with `latest` (its newest version) attached, in two queries."""
    qs = (
        Asset.objects.filter(project=project)
        .select_related("created_by", "project__studio")
        .annotate(latest_id=_latest_version_id())
        .order_by("-created_at", "-pk")
    )
    if kind:
        qs = qs.filter(kind=kind)
    return qs


def attach_latest(assets) -> list[Asset]:
    assets = list(assets)
    ids = [a.latest_id for a in assets if a.latest_id]
    versions = {v.pk: v for v in AssetVersion.objects.filter(pk__in=ids).select_related("uploaded_by")}
    for asset in assets:
        asset.latest = versions.get(asset.latest_id)
        if asset.latest is not None:
            # the serializer's links and the approval checks read version.asset.project.studio
            asset.latest.asset = asset
    return assets


ASSETS_PER_PAGE = 25


def assets_page(project: Project, *, page=None, kind: str | None = None, per_page: int = ASSETS_PER_PAGE) -> Page:
    """One page of the project's assets (newest first), each with `latest` attached: a count and
    three queries, whatever the number of assets. A page number out of range gives the last page."""
    result = Paginator(assets_for_project(project, kind=kind), per_page).get_page(page)
    result.object_list = attach_latest(result.object_list)
    return result


def asset_get(project: Project, asset_id) -> Asset | None:
    versions = AssetVersion.objects.select_related("uploaded_by").order_by("-number")
    return (
        Asset.objects.filter(project=project, pk=asset_id)
        .select_related("project__studio", "created_by")
        .prefetch_related(Prefetch("versions", queryset=versions))
        .first()
    )


def version_get(project: Project, version_id) -> AssetVersion | None:
    return (
        AssetVersion.objects.select_related("asset__project__studio", "uploaded_by")
        .filter(asset__project=project, pk=version_id)
        .first()
    )


def versions_for_project(project: Project):
    return (
        AssetVersion.objects.filter(asset__project=project).select_related("asset", "uploaded_by").order_by("-created_at", "-pk")
    )


def ready_versions(project: Project, kinds: tuple[str, ...] | None = None):
    qs = versions_for_project(project).filter(status=AssetVersion.Status.READY)
    if kinds:
        qs = qs.filter(asset__kind__in=kinds)
    return qs
