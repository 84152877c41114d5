"""Footage pages and the authorizing media views. No file is ever served straight from storage:
each request passes the policy here first, and downloads and stream starts go on the record."""

from __future__ import annotations

import base64
import mimetypes
import os
import re
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect, JsonResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import render
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from portal.access.enforce import record_denial, require
from portal.access.policy import Action, can
from portal.access.views import ProjectScopedView
from portal.core.fasturls import reverse_with_id
from portal.footage import selectors, services, storage
from portal.footage.models import ApprovalState, Asset, AssetGroup, AssetVersion
from portal.footage.templatetags import footage as footage_tags

# What a media URL may ask for, and where it is on the version.
DERIVATIVES = {
    "proxy": "proxy_key",
    "poster": "poster_key",
    "filmstrip": "filmstrip_key",
    "waveform": "waveform_key",
}
STREAMED = {"proxy"}  # the playable ones: their start is audited


def _content_type(key: str) -> str:
    return mimetypes.guess_type(key)[0] or "application/octet-stream"


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _ranged_file_response(request, path: str, content_type: str) -> HttpResponse:
    """A local file with single-range support, so the browser's player can seek."""
    size = os.path.getsize(path)
    header = request.headers.get("Range", "")
    match = _RANGE.match(header.strip()) if header else None
    if not match or (not match.group(1) and not match.group(2)):
        response = FileResponse(open(path, "rb"), content_type=content_type)
        response["Accept-Ranges"] = "bytes"
        return response
    if match.group(1):
        start = int(match.group(1))
        end = int(match.group(2)) if match.group(2) else size - 1
    else:  # suffix range: the last N bytes
        start = max(size - int(match.group(2)), 0)
        end = size - 1
    end = min(end, size - 1)
    if start > end or start >= size:
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return response
    length = end - start + 1

    handle = open(path, "rb")  # noqa: SIM115 - closed by the generator when the response ends
    handle.seek(start)

    def chunks():
        remaining = length
        try:
            while remaining > 0:
                block = handle.read(min(remaining, 512 * 1024))
                if not block:
                    break
                remaining -= len(block)
                yield block
        finally:
            handle.close()

    response = StreamingHttpResponse(chunks(), status=206, content_type=content_type)
    response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Content-Length"] = str(length)
    response["Accept-Ranges"] = "bytes"
    return response


def serve_key(request, key: str, *, content_type: str, filename: str | None = None, attachment: bool = False):
    """Local storage: the file itself (ranged); object storage: a redirect to a 15-minute signed URL."""
    if storage.is_local():
        path = storage.default_storage.path(key)
        if not os.path.exists(path):
            raise Http404("Not found")
        response = _ranged_file_response(request, path, content_type)
        if filename:
            response["Content-Disposition"] = content_disposition_header(attachment, filename)
    else:
        response = HttpResponseRedirect(
            storage.signed_url(key, filename=filename, attachment=attachment, content_type=content_type)
        )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=300" if not attachment else "private, no-store"
    return response


class _VersionMixin:
    def load_version(self, version_id) -> AssetVersion:
        version = selectors.version_get(self.project, version_id)
        if version is None:
            raise Http404("Not found")
        return version


class MediaView(_VersionMixin, ProjectScopedView):
    """Proxies, posters, filmstrips and waveforms: for anyone who may watch the project's footage."""

    policy_action = Action.FOOTAGE_VIEW

    def get(self, request, version_id: int, what: str, **kwargs):
        field = DERIVATIVES.get(what)
        if field is None:
            raise Http404("Not found")
        version = self.load_version(version_id)
        key = getattr(version, field)
        if not key or version.status != AssetVersion.Status.READY:
            raise Http404("Not found")
        # A stream start is on the record; the range requests of seeking inside it are not.
        if what in STREAMED and request.headers.get("Range", "bytes=0-").startswith("bytes=0-"):
            services.download_record(actor=request.user, version=version, what="stream")
        return serve_key(request, key, content_type=_content_type(key))


class DownloadView(_VersionMixin, ProjectScopedView):
    """The original file, as an attachment, for roles that may download: in a browser, or from a script
    with an API token (the API's `download` links point here)."""

    policy_action = Action.ASSET_DOWNLOAD
    accepts_api_tokens = True

    def get(self, request, version_id: int, **kwargs):
        version = self.load_version(version_id)
        if not version.file_key or version.status != AssetVersion.Status.READY:
            raise Http404("Not found")
        if not can(request.user, Action.ASSET_DOWNLOAD, version):
            # The gate, a condition of the policy (AssetVersion.policy_holds): a generated original
            # leaves only once a producer approved these exact bytes, and, where the platform signs, only
            # as the signed copy whose SHA-256 the approval names. The role was checked on the project.
            record_denial(request.user, "asset.download.unapproved", version, visible=True)
            raise PermissionDenied(services.download_blocker(version))
        key, sha256 = version.released_file
        services.download_record(actor=request.user, version=version, what="download")
        response = serve_key(
            request,
            key,
            content_type="application/octet-stream",
            filename=version.original_name or f"{version.asset.name}-v{version.number}",
            attachment=True,
        )
        if sha256:
            # RFC 9530: the client can check it got exactly the approved (and signed) bytes.
            response["Repr-Digest"] = f"sha-256=:{base64.b64encode(bytes.fromhex(sha256)).decode()}:"
            response["X-Content-SHA256"] = sha256
        return response


class AssetDetailView(ProjectScopedView):
    policy_action = Action.FOOTAGE_VIEW

    def get(self, request, asset_id: int, **kwargs):
        asset = selectors.asset_get(self.project, asset_id)
        if asset is None:
            raise Http404("Not found")
        versions = list(asset.versions.all())
        chosen = versions[0] if versions else None
        wanted = request.GET.get("v")
        if wanted and wanted.isdigit():
            chosen = next((v for v in versions if v.number == int(wanted)), chosen)
        return render(
            request,
            "footage/asset_detail.html",
            self.get_context_data(
                asset=asset,
                versions=versions,
                version=chosen,
                released=bool(chosen) and chosen.released_file is not None,
                approval=chosen.approval_state if chosen else "",
            ),
        )


class AssetStatusView(ProjectScopedView):
    """A small JSON read the asset page refetches when a live event says something changed."""

    policy_action = Action.FOOTAGE_VIEW

    def get(self, request, asset_id: int, **kwargs):
        asset = selectors.asset_get(self.project, asset_id)
        if asset is None:
            raise Http404("Not found")
        return JsonResponse(
            {
                "asset": asset.pk,
                "versions": [
                    {"id": v.pk, "number": v.number, "status": v.status, "reason": v.reject_reason} for v in asset.versions.all()
                ],
            }
        )


# What the page says when a filter in the URL cannot be used (the filter is then left out).
_FILTER_PROBLEMS = {
    "group": _lazy("Unknown group “%(value)s”: showing every group."),
    "status": _lazy("Unknown status “%(value)s”: showing every status."),
    "approval": _lazy("Unknown approval state “%(value)s”: showing every approval state."),
    "kind": _lazy("Unknown kind “%(value)s”: showing every kind."),
    "q": _lazy("The search is longer than %(limit)s characters: showing every name and shot code."),
}


@dataclass
class AssetSection:
    """Rows of the asset table that go together: a run's outputs under their run, or rows of no run."""

    run: selectors.RunOfOutput | None
    run_url: str = ""
    assets: list = field(default_factory=list)

    @property
    def run_id(self) -> int | None:
        return self.run.id if self.run else None


def asset_listing(project, params, *, per_page: int = selectors.ASSETS_PER_PAGE) -> dict:
    """One page of the asset table: the groups (with their counts), the filters (group, status,
    approval, kind, search) kept in the group links and the pager's, a run's outputs together."""
    filters, problems = selectors.AssetFilters.parse(params)
    errors = [
        str(_FILTER_PROBLEMS[param]) % {"value": value, "limit": selectors.SEARCH_MAX_LENGTH} for param, value in problems.items()
    ]
    page = selectors.assets_page(project, page=params.get("page"), filters=filters, per_page=per_page)
    counts = page.group_counts
    where = {"studio": project.studio.slug, "project": project.code}
    sections: list[AssetSection] = []
    # the labels in words once per page, not per row (get_FOO_display and the enum lookups add up)
    status_labels = {value: str(label) for value, label in AssetVersion.Status.choices}
    kind_labels = {value: str(label) for value, label in Asset.Kind.choices}
    approval_labels = {value: str(label) for value, label in ApprovalState.choices}
    for asset in page.object_list:
        asset.latest.status_label = status_labels.get(asset.latest.status, asset.latest.status)
        asset.page_url = reverse_with_id("footage:asset", "asset_id", asset.pk, **where)
        asset.latest.poster_url = reverse_with_id("footage:media", "version_id", asset.latest.pk, what="poster", **where)
        asset.latest.review_url = reverse_with_id("review:review", "version_id", asset.latest.pk, **where)
        generated = asset.kind == Asset.Kind.GENERATED
        asset.type_label = TYPE_LABELS.get(asset.kind_group) if generated else kind_labels.get(asset.kind, asset.kind)
        asset.approval_label = approval_labels.get(asset.approval, "")
        # the facts in words, once: the wide columns and the line under the name on a tablet show them
        video = asset.latest.video
        width, height = video.get("display_width") or video.get("width"), video.get("display_height") or video.get("height")
        asset.facts = {
            "duration": footage_tags.timecode_seconds(asset.latest.duration),
            "resolution": f"{width}×{height}" if width else "",
            "rate": footage_tags.fps(video.get("frame_rate")),
            "variable_rate": bool(video.get("variable_frame_rate")),
        }
        asset.glyph = _GLYPHS.get(asset.kind) or _GLYPHS.get(asset.kind_group) or "▶"  # a row without a poster
        asset.facts_line = " · ".join(asset.facts[k] for k in ("duration", "resolution", "rate") if asset.facts[k])
        run_id = asset.run.id if asset.run else None
        if not sections or sections[-1].run_id != run_id:  # rows of no run go together too
            run_url = reverse_with_id("toolruns:run", "run_id", run_id, **where) if run_id else ""
            sections.append(AssetSection(run=asset.run, run_url=run_url))
        sections[-1].assets.append(asset)

    def query(**changes) -> str:
        kept = QueryDict(mutable=True)
        for key, value in {**filters.as_params(), **changes}.items():
            if value:
                kept[key] = value
        return kept.urlencode()

    groups = [
        {"value": "", "label": _("All"), "count": sum(counts.values()), "query": query(group=""), "current": not filters.group}
    ] + [
        {"value": value, "label": label, "count": counts[value], "query": query(group=value), "current": filters.group == value}
        for value, label in AssetGroup.choices
    ]
    return {
        "assets": page.object_list,
        "asset_sections": sections,
        "asset_page": page,
        "asset_query": query(),
        "asset_filters": filters,
        "asset_filtering": filters.active,
        "asset_groups": groups,
        "asset_filter_errors": errors,
        "asset_statuses": AssetVersion.Status.choices,
        "asset_approvals": ApprovalState.choices,
        "asset_kinds": Asset.Kind.choices,
        "asset_search_max": selectors.SEARCH_MAX_LENGTH,
    }


_GLYPHS = {Asset.Kind.SUBTITLES: "CC", Asset.Kind.MUSIC: "♪", AssetGroup.EDIT_LISTS: "CC", AssetGroup.REPORTS: "{}"}

# A tool output's type in a row of the list (its group, rejection aside).
TYPE_LABELS = {
    AssetGroup.GENERATED: _lazy("Generated media"),
    AssetGroup.EDIT_LISTS: _lazy("Edit list"),
    AssetGroup.REPORTS: _lazy("Report"),
}


# The project page is an overview: its footage section shows the latest assets a short page at a time
# (the groups, filters and pager as on the asset list); the rows are most of what the page costs.
PROJECT_PAGE_ASSETS = 10


def footage_context(project, actions, params=None) -> dict:
    """What the project page shows of footage (used by the project detail view)."""
    if Action.FOOTAGE_VIEW not in actions:
        return {"assets": None}
    return {
        **asset_listing(project, params or {}, per_page=PROJECT_PAGE_ASSETS),
        "upload_kinds": [(k.value, k.label) for k in Asset.UPLOADABLE_KINDS],
        "can_upload": Action.FOOTAGE_UPLOAD in actions,
        "max_file_size": settings.FOOTAGE_MAX_FILE_SIZE,
        "upload_chunk_size": settings.TUS_BROWSER_CHUNK_SIZE,
    }


class AssetListView(ProjectScopedView):
    """The asset table alone (one page, with the filters of the project page: ?page=, ?group=,
    ?status=, ?approval=, ?kind=, ?q=): the project page swaps it in when a live event says it changed."""

    page_cache = True  # kept per person until a table it read changes (portal/core/page_cache.py)

    policy_action = Action.FOOTAGE_VIEW
    per_page = selectors.ASSETS_PER_PAGE  # the project page's own refresh asks for its short pages

    def get(self, request, **kwargs):
        listing = asset_listing(self.project, request.GET, per_page=self.per_page)
        return render(request, "footage/_asset_table.html", self.get_context_data(**listing))


def require_download(user, version) -> None:
    require(user, Action.ASSET_DOWNLOAD, version)
