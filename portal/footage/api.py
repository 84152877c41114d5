"""REST API for assets, versions and ingest status (uploads themselves speak tus: see tus.py)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers

from portal.access.api import ScopedViewSet
from portal.access.policy import Action
from portal.access.scope import PROJECT_PK
from portal.core.fastread import FastReadMixin
from portal.core.fasturls import reverse_with_id
from portal.footage import selectors
from portal.footage.models import Asset, AssetVersion


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


class AssetSerializer(FastReadMixin, serializers.ModelSerializer):
    project = serializers.IntegerField(source="project_id", read_only=True)
    # A nested field, not a method making a VersionSerializer per asset: DRF builds a serializer's
    # fields once per instance, which for 50 assets was most of the request's CPU.
    latest_version = VersionSerializer(source="latest", read_only=True, allow_null=True, default=None)

    class Meta:
        model = Asset
        fields = ["id", "project", "name", "kind", "shot_code", "created_at", "latest_version"]
        read_only_fields = fields


@extend_schema_view(
    list=extend_schema(parameters=[OpenApiParameter("kind", str, enum=Asset.Kind.values, description="only assets of this kind")])
)
class AssetViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """The project's assets, newest first, each with its latest version (filter with ?kind=)."""

    serializer_class = AssetSerializer
    queryset = Asset.objects.none()
    lookup_value_regex = "[0-9]+"
    policy_actions = {"GET": Action.FOOTAGE_VIEW}

    url_scope = PROJECT_PK

    def scoped_queryset(self, scope):
        kind = self.request.query_params.get("kind")
        if kind and kind not in Asset.Kind.values:
            raise serializers.ValidationError({"kind": f"Unknown kind; choose one of {', '.join(Asset.Kind.values)}."})
        # every row is in the scope's project: no join for it (nor for created_by, which is not shown);
        # paginate_queryset puts the scope (with its studio) on each asset instead
        return selectors.assets_for_project(scope, kind=kind).select_related(None)

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        if page is None:
            return None
        for asset in page:
            asset.project = self.scope
        return selectors.attach_latest(page)

    def get_object(self):
        asset = super().get_object()
        asset.project = self.scope
        return selectors.attach_latest([asset])[0]


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
