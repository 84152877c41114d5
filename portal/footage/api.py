"""REST API for assets, versions and ingest status (uploads themselves speak tus: see tus.py)."""

from __future__ import annotations

from django.http import Http404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers

from portal.access.api import ScopedViewSet
from portal.access.policy import Action
from portal.access.scope import PROJECT_PK
from portal.core.fastread import FastReadMixin
from portal.core.fasturls import reverse_with_id
from portal.footage import selectors
from portal.footage.models import ApprovalState, Asset, AssetGroup, AssetVersion


class VersionSerializer(FastReadMixin, serializers.ModelSerializer):
    asset = serializers.IntegerField(source="asset_id", read_only=True)
    uploaded_by = serializers.EmailField(source="uploaded_by.email", read_only=True, default=None)
    links = serializers.SerializerMethodField()
    approval = serializers.SerializerMethodField(help_text="not_required | pending | approved | changes_requested | rejected")
    frame_rate = serializers.SerializerMethodField(help_text='true (measured) frame rate, a rational such as "25/1"')
    frame_count = serializers.SerializerMethodField(help_text="exact number of decodable frames")
    header_frame_rate = serializers.SerializerMethodField(
        help_text="the rate the file's header claims, when it differs from the true one; else null"
    )
    variable_frame_rate = serializers.SerializerMethodField(
        help_text="true when frame durations vary; the proxy is then made at frame_rate, constant"
    )
    has_audio = serializers.SerializerMethodField(help_text="false for a file without sound (it then has no waveform)")
    proxy_method = serializers.SerializerMethodField(
        help_text="remux (the source's own streams in a faststart MP4) | encode | image; null before ingest ends"
    )

    class Meta:
        model = AssetVersion
        fields = [
            "id",
            "asset",
            "number",
            "status",
            "reject_reason",
            "original_name",
            "size",
            "sha256",
            "media_info",
            "frame_rate",
            "frame_count",
            "header_frame_rate",
            "variable_frame_rate",
            "has_audio",
            "proxy_method",
            "provenance",
            "note",
            "uploaded_by",
            "created_at",
            "ready_at",
            "approval",
            "links",
        ]
        read_only_fields = fields

    def get_links(self, version) -> dict[str, str]:
        if version.status != AssetVersion.Status.READY:
            return {}
        project = version.asset.project
        where = {"studio": project.studio.slug, "project": project.code}
        links = {}
        for what, field in (
            ("proxy", "proxy_key"),
            ("poster", "poster_key"),
            ("filmstrip", "filmstrip_key"),
            ("waveform", "waveform_key"),
        ):
            if getattr(version, field):
                links[what] = reverse_with_id("footage:media", "version_id", version.pk, what=what, **where)
        if version.file_key and version.released_file is not None:
            links["download"] = reverse_with_id("footage:download", "version_id", version.pk, **where)
            if version.release_sidecar_key:
                links["credentials"] = reverse_with_id("review:credentials_sidecar", "version_id", version.pk, **where)
        links["review"] = reverse_with_id("review:review", "version_id", version.pk, **where)
        return links

    def get_approval(self, version) -> str:
        return version.approval_state

    def get_frame_rate(self, version) -> str | None:
        return version.video.get("frame_rate")

    def get_frame_count(self, version) -> int | None:
        return version.video.get("frame_count")

    def get_header_frame_rate(self, version) -> str | None:
        return version.video.get("header_frame_rate")

    def get_variable_frame_rate(self, version) -> bool | None:
        return version.video.get("variable_frame_rate") if version.video else None

    def get_has_audio(self, version) -> bool | None:
        info = version.media_info or {}
        if info.get("kind") not in ("video", "audio", "still"):
            return None
        return bool(info.get("audio_tracks"))

    def get_proxy_method(self, version) -> str | None:
        return ((version.media_info or {}).get("proxy") or {}).get("method")


class RunOfOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="the tool run")
    tool = serializers.CharField(help_text="the tool's machine name")
    output = serializers.CharField(help_text="the output's name in the run")
    outputs = serializers.IntegerField(help_text="how many outputs the run made")


class AssetSerializer(FastReadMixin, serializers.ModelSerializer):
    project = serializers.IntegerField(source="project_id", read_only=True)
    # A nested field, not a method making a VersionSerializer per asset: DRF builds a serializer's
    # fields once per instance, which for 50 assets was most of the request's CPU.
    latest_version = VersionSerializer(source="latest", read_only=True, allow_null=True, default=None)
    group = serializers.ChoiceField(
        choices=AssetGroup.choices,
        read_only=True,
        help_text="footage (uploaded) | generated (media a tool made) | edit_lists (.edl/.otio/.srt outputs) | "
        "reports (JSON/HTML outputs) | rejected (latest version rejected at ingest, or a generated one rejected in review)",
    )
    run = RunOfOutputSerializer(
        read_only=True, allow_null=True, default=None, help_text="the tool run that made the latest version; null for uploads"
    )

    class Meta:
        model = Asset
        fields = ["id", "project", "name", "kind", "shot_code", "created_at", "group", "run", "latest_version"]
        read_only_fields = fields


_LIST_FILTERS = [
    OpenApiParameter("group", str, enum=AssetGroup.values, description="only assets of this group (see the asset's group)"),
    OpenApiParameter(
        "status", str, enum=AssetVersion.Status.values, description="only assets whose latest version is in this state"
    ),
    OpenApiParameter(
        "approval", str, enum=ApprovalState.values, description="only assets whose latest version is in this approval state"
    ),
    OpenApiParameter("kind", str, enum=Asset.Kind.values, description="only assets of this kind"),
    OpenApiParameter(
        "q",
        {"type": "string", "maxLength": selectors.SEARCH_MAX_LENGTH},
        description="only assets whose name or shot code contains this (any case)",
    ),
]

# What the API says of a filter it cannot use (the page says it in its own words and leaves it out).
_FILTER_PROBLEMS = {
    "group": _("Unknown group “%(value)s”; choose one of: %(choices)s."),
    "status": _("Unknown status “%(value)s”; choose one of: %(choices)s."),
    "approval": _("Unknown approval state “%(value)s”; choose one of: %(choices)s."),
    "kind": _("Unknown kind “%(value)s”; choose one of: %(choices)s."),
    "q": _("A search is at most %(limit)s characters long."),
}


@extend_schema_view(list=extend_schema(parameters=_LIST_FILTERS))
class AssetViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """The project's assets, newest first with a run's outputs together, each with its group, the run
    that made it and its latest version (filter with ?group=, ?status=, ?approval=, ?kind=, ?q=)."""

    page_cache_actions = ("list", "retrieve")  # kept per person until a table it read changes (portal/core/page_cache.py)

    serializer_class = AssetSerializer
    queryset = Asset.objects.none()
    lookup_value_regex = "[0-9]+"
    policy_actions = {"GET": Action.FOOTAGE_VIEW}

    url_scope = PROJECT_PK

    def scoped_queryset(self, scope):
        if self.action != "list":
            return selectors.listed_versions(scope)
        filters, problems = selectors.AssetFilters.parse(self.request.query_params)
        if problems:
            raise serializers.ValidationError(
                {
                    param: str(_FILTER_PROBLEMS[param])
                    % {
                        "value": value,
                        "choices": ", ".join(selectors.AssetFilters.CHOICES.get(param, ())),
                        "limit": selectors.SEARCH_MAX_LENGTH,
                    }
                    for param, value in problems.items()
                }
            )
        return selectors.listed_versions(scope, filters)

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        return selectors.assets_from_versions(page, self.scope) if page is not None else None

    def get_object(self):
        # the rows are the assets' latest versions: the asset's id is the version's asset_id
        asset = selectors.asset_listed(self.scope, self.kwargs["pk"])
        if asset is None:
            raise Http404("Not found")
        return asset


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("asset", {"type": "integer", "minimum": 1}, description="only versions of this asset"),
            OpenApiParameter("status", str, enum=AssetVersion.Status.values, description="only versions in this state"),
        ]
    )
)
class VersionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Every version in the project with its ingest status and media info (filter with ?asset=, ?status=)."""

    serializer_class = VersionSerializer
    queryset = AssetVersion.objects.none()
    lookup_value_regex = "[0-9]+"
    policy_actions = {"GET": Action.FOOTAGE_VIEW}

    url_scope = PROJECT_PK

    def scoped_queryset(self, scope):
        qs = selectors.versions_for_project(scope).select_related("asset__project__studio")
        asset = self.request.query_params.get("asset")
        if asset:
            if not asset.isdigit():
                raise serializers.ValidationError({"asset": "An asset id is a number."})
            qs = qs.filter(asset_id=int(asset))
        status = self.request.query_params.get("status")
        if status:
            if status not in AssetVersion.Status.values:
                raise serializers.ValidationError({"status": f"Choose one of {', '.join(AssetVersion.Status.values)}."})
            qs = qs.filter(status=status)
        return qs
