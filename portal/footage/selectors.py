"""Every read of assets and versions: always scoped to one project, constant query counts."""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

from django.core.exceptions import ObjectDoesNotExist
from django.core.paginator import Page, Paginator
from django.db.models import (
    BigIntegerField,
    Case,
    CharField,
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce

from portal.footage.models import ApprovalState, Asset, AssetGroup, AssetVersion
from portal.projects.models import Project

# --- the asset list: grouped, filtered, a run's outputs together ---------------------------------
#
# The list is read from the *latest versions* (one row per asset: a version no newer version of its
# asset follows), so the asset, the tool run output that made the version and its run come in the
# same query by joins, and what a filter needs (group, status, approval) is plain columns. The run's
# rows are read through AssetVersion's reverse relation `tool_output` (toolruns.ToolRunOutput): footage
# does not import toolruns.

# How a generated version is classified when no run output says what it is (the output's kind, from
# the tool, is asked first): the media type the run recorded in media_info.
EDIT_LIST_OUTPUT_KINDS = ("edl", "subtitles")
REPORT_OUTPUT_KINDS = ("report",)
MEDIA_OUTPUT_KINDS = ("generated", "image")
EDIT_LIST_MEDIA_TYPES = ("application/x-subrip", "application/vnd.opentimelineio+json", "text/x-edl", "text/vtt")
REPORT_MEDIA_TYPES = ("application/json", "text/html")

SEARCH_MAX_LENGTH = 100


@dataclass(frozen=True)
class AssetFilters:
    group: str = ""  # an AssetGroup value
    status: str = ""  # the latest version's AssetVersion.Status
    approval: str = ""  # the latest version's ApprovalState
    kind: str = ""  # an Asset.Kind (the upload's kind; "generated" for every tool output)
    search: str = ""  # in the name or the shot code, any case

    FIELDS = ("group", "status", "approval", "kind", "search")
    CHOICES = {
        "group": AssetGroup.values,
        "status": AssetVersion.Status.values,
        "approval": ApprovalState.values,
        "kind": Asset.Kind.values,
    }
    # the query parameter of each filter, in the page and the API
    PARAMS = {"group": "group", "status": "status", "approval": "approval", "kind": "kind", "search": "q"}

    @classmethod
    def parse(cls, params) -> tuple[AssetFilters, dict[str, str]]:
        """Filters from query parameters, and the parameters that could not be used (name -> value):
        an unknown choice, or a search longer than SEARCH_MAX_LENGTH. Those are left out."""
        values, problems = {}, {}
        for field_name in cls.FIELDS:
            param = cls.PARAMS[field_name]
            value = (params.get(param) or "").strip()
            if not value:
                continue
            allowed = cls.CHOICES.get(field_name)
            if (allowed is not None and value not in allowed) or len(value) > SEARCH_MAX_LENGTH:
                problems[param] = value
                continue
            values[field_name] = value
        return cls(**values), problems

    def as_params(self, *, without: tuple[str, ...] = ()) -> dict[str, str]:
        return {self.PARAMS[f]: getattr(self, f) for f in self.FIELDS if getattr(self, f) and f not in without}

    @property
    def active(self) -> bool:
        return any(getattr(self, f) for f in self.FIELDS)


def _approval_expression():
    """AssetVersion.approval_state in SQL (a verdict on other bytes, a re-ingest, does not count)."""
    generated = Q(asset__kind=Asset.Kind.GENERATED)
    return Case(
        When(~generated, then=Value(ApprovalState.NOT_REQUIRED)),
        When(Q(sha256="") | Q(approval_verdict="") | ~Q(approval_sha256=F("sha256")), then=Value(ApprovalState.PENDING)),
        default=F("approval_verdict"),
        output_field=CharField(),
    )


def _type_expression():
    """What an asset is, rejection aside: uploaded footage, or a tool output's group, from the run
    output's kind or else the version's media type."""
    # as plain text: a JSON key's own `__in` compares JSON values, which SQLite cannot make of a bare string
    media_type = Cast(KeyTextTransform("media_type", "media_info"), output_field=CharField())
    return Case(
        When(~Q(asset__kind=Asset.Kind.GENERATED), then=Value(AssetGroup.FOOTAGE)),
        When(tool_output__kind__in=EDIT_LIST_OUTPUT_KINDS, then=Value(AssetGroup.EDIT_LISTS)),
        When(tool_output__kind__in=REPORT_OUTPUT_KINDS, then=Value(AssetGroup.REPORTS)),
        When(tool_output__kind__in=MEDIA_OUTPUT_KINDS, then=Value(AssetGroup.GENERATED)),
        When(Q(listed_media_type__in=EDIT_LIST_MEDIA_TYPES), then=Value(AssetGroup.EDIT_LISTS)),
        When(Q(listed_media_type__in=REPORT_MEDIA_TYPES), then=Value(AssetGroup.REPORTS)),
        default=Value(AssetGroup.GENERATED),
        output_field=CharField(),
    ), media_type


@functools.cache
def _listing():
    """Every asset's latest version with what the list shows and filters on, for no project yet. Built
    once per process: resolving these expressions costs more CPU than running the query, and a
    queryset is never changed by what is chained onto it (each step copies it)."""
    newer = AssetVersion.objects.filter(asset=OuterRef("asset"), number__gt=OuterRef("number"))
    type_expression, media_type = _type_expression()
    run_outputs = (
        AssetVersion.objects.filter(tool_output__run=OuterRef("tool_output__run"))
        .order_by()
        .values("tool_output__run")
        .annotate(total=Count("pk"))
        .values("total")
    )
    # Aliases, not annotations: the filters and the order use them in SQL, and the page's rows get
    # the same answers in Python (kind_group_of, AssetVersion.approval_state), which costs less than
    # compiling them into every SELECT. tests/footage/test_asset_list_groups.py holds the two together.
    return (
        AssetVersion.objects.filter(~Exists(newer))
        # Not loaded: the run's own row (its report and metrics can be large; the list needs its tool) and
        # the project's (the caller has it: assets_from_versions puts it on every asset).
        .select_related("asset", "uploaded_by", "tool_output")
        .alias(
            listed_media_type=media_type,
            approval=_approval_expression(),
            kind_group=type_expression,
            group=Case(
                When(status=AssetVersion.Status.REJECTED, then=Value(AssetGroup.REJECTED)),
                When(approval=ApprovalState.REJECTED, then=Value(AssetGroup.REJECTED)),
                default=F("kind_group"),
                output_field=CharField(),
            ),
            listed_at=Coalesce(F("tool_output__run__created_at"), F("asset__created_at")),
            # inside a run: the order the tool made its outputs; elsewhere: newest first
            order_in_group=Case(
                When(tool_output__isnull=True, then=-F("asset_id")), default=F("asset_id"), output_field=BigIntegerField()
            ),
        )
        .annotate(run_outputs=Subquery(run_outputs, output_field=IntegerField()), run_tool=F("tool_output__run__tool"))
        .order_by(F("listed_at").desc(), F("tool_output__run_id").desc(nulls_last=True), "order_in_group")
    )


def listed_versions(project: Project, filters: AssetFilters = AssetFilters()):
    """The latest version of every asset of the project (one row per asset), filtered, newest first
    with a run's outputs together: a run's rows sort at the run's start, in the order the tool made
    them. `group`, `kind_group` (the group rejection aside) and `approval` are there to filter on;
    `run_tool` and `run_outputs` (how many outputs the version's run made) come with each row."""
    qs = _listing().filter(asset__project=project)
    if filters.kind:
        qs = qs.filter(asset__kind=filters.kind)
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.approval:
        qs = qs.filter(approval=filters.approval)
    if filters.search:
        qs = qs.filter(Q(asset__name__icontains=filters.search) | Q(asset__shot_code__icontains=filters.search))
    if filters.group:
        qs = qs.filter(group=filters.group)
    return qs


def group_counts(project: Project, filters: AssetFilters = AssetFilters()) -> dict[str, int]:
    """How many assets each group holds under the other filters (one query)."""
    rows = (
        listed_versions(project, replace(filters, group=""))
        .order_by()
        .values(listed_group=F("group"))
        .annotate(total=Count("pk"))
    )
    counts = dict.fromkeys(AssetGroup.values, 0)
    counts.update({row["listed_group"]: row["total"] for row in rows})
    return counts


@dataclass(frozen=True)
class RunOfOutput:
    """The tool run that made an asset's latest version, as the asset list names it."""

    id: int
    tool: str
    output: str  # the output's name in the run ("comp", "edl")
    outputs: int  # how many outputs the run made


def assets_from_versions(versions, project: Project) -> list[Asset]:
    """Listed versions (of `project`) -> their assets, each with `latest`, `group`, `kind_group`,
    `approval` and `run` (a RunOfOutput or None) attached, with no further query."""
    assets = []
    for version in versions:
        asset = version.asset
        asset.project = project  # the links and the approval checks read version.asset.project.studio
        asset.latest = version
        output = version.tool_output if _has_output(version) else None
        asset.approval = version.approval_state
        asset.kind_group = kind_group_of(version, output)
        rejected = version.status == AssetVersion.Status.REJECTED or asset.approval == ApprovalState.REJECTED
        asset.group = AssetGroup.REJECTED if rejected else asset.kind_group
        asset.run = (
            RunOfOutput(id=output.run_id, tool=version.run_tool, output=output.name, outputs=version.run_outputs or 0)
            if output is not None
            else None
        )
        assets.append(asset)
    return assets


def kind_group_of(version: AssetVersion, output) -> str:
    """_type_expression in Python, for a listed version and its run output (or None)."""
    if version.asset.kind != Asset.Kind.GENERATED:
        return AssetGroup.FOOTAGE
    kind = output.kind if output is not None else None
    media_type = (version.media_info or {}).get("media_type")
    if kind in EDIT_LIST_OUTPUT_KINDS:
        return AssetGroup.EDIT_LISTS
    if kind in REPORT_OUTPUT_KINDS:
        return AssetGroup.REPORTS
    if kind in MEDIA_OUTPUT_KINDS:
        return AssetGroup.GENERATED
    if media_type in EDIT_LIST_MEDIA_TYPES:
        return AssetGroup.EDIT_LISTS
    if media_type in REPORT_MEDIA_TYPES:
        return AssetGroup.REPORTS
    return AssetGroup.GENERATED


def _has_output(version) -> bool:
    # select_related of a reverse one-to-one caches None when there is none; reading it then raises
    try:
        return version.tool_output is not None
    except ObjectDoesNotExist:
        return False


ASSETS_PER_PAGE = 25


class _CountedPaginator(Paginator):
    """A paginator told its count (group_counts has it already) instead of asking the database again."""

    def __init__(self, object_list, per_page, *, count: int):
        super().__init__(object_list, per_page)
        self.__dict__["count"] = count  # Paginator.count is a cached_property: this is its value


def assets_page(project: Project, *, page=None, filters: AssetFilters = AssetFilters(), per_page: int = ASSETS_PER_PAGE) -> Page:
    """One page of the project's asset list (see listed_versions), each asset with `latest`, `group`,
    `approval` and `run` attached, and the page's `group_counts` (see group_counts): two queries,
    whatever the number of assets. A page number out of range gives the last page."""
    counts = group_counts(project, filters)
    total = counts[filters.group] if filters.group else sum(counts.values())
    result = _CountedPaginator(listed_versions(project, filters), per_page, count=total).get_page(page)
    result.object_list = assets_from_versions(result.object_list, project)
    result.group_counts = counts
    return result


def asset_listed(project: Project, asset_id) -> Asset | None:
    """One asset as the list shows it (the API's asset detail)."""
    return next(iter(assets_from_versions(listed_versions(project).filter(asset_id=asset_id)[:1], project)), None)


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
