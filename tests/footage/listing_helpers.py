"""Rows for the asset-list tests: uploads (some rejected at ingest), and finished tool runs whose outputs
are generated versions with their run-output rows, as toolruns' services store them (stand-in files,
no tool actually run: what the list reads is the rows)."""

from __future__ import annotations

from django.utils import timezone

from portal.footage import services as footage_services
from portal.footage.models import Asset, AssetVersion
from portal.toolruns.models import ToolRun, ToolRunOutput
from tests.footage.helpers import make_ready_version

# (output name, output kind, media type) of what the tools make
CROWD_OUTPUTS = [
    ("comp", "generated", "video/quicktime"),
    ("comp_proxy", "generated", "video/mp4"),
    ("matte", "generated", "video/quicktime"),
]
RECAP_OUTPUTS = [
    ("recap", "generated", "video/mp4"),
    ("narration", "subtitles", "application/x-subrip"),
    ("timeline", "edl", "application/vnd.opentimelineio+json"),
    ("edl", "edl", "text/plain"),
    ("moments", "image", "image/jpeg"),
]
CONTINUITY_OUTPUTS = [
    ("findings", "report", "application/json"),
    ("report", "report", "text/html"),
]


def upload(project, *, uploader, name: str, kind: str = Asset.Kind.FOOTAGE, shot_code: str = "") -> AssetVersion:
    version = make_ready_version(project, uploader=uploader, kind=kind, name=name)
    if shot_code:
        Asset.objects.filter(pk=version.asset_id).update(shot_code=shot_code)
        version.asset.shot_code = shot_code
    return version


def rejected_upload(project, *, uploader, name: str, shot_code: str = "") -> AssetVersion:
    """An upload ingest gave up on (through footage's own service), so its version is rejected."""
    version = upload(project, uploader=uploader, name=name, shot_code=shot_code)
    AssetVersion.objects.filter(pk=version.pk).update(status=AssetVersion.Status.PROCESSING)
    footage_services.version_fail_ingest(version_id=version.pk, reason="Not a video file.")
    version.refresh_from_db()
    return version


def finished_run(project, *, actor, tool: str = "crowd", outputs=CROWD_OUTPUTS, shot_code: str = "") -> ToolRun:
    run = ToolRun.objects.create(
        project=project,
        tool=tool,
        tool_version="1.0.0",
        status=ToolRun.Status.SUCCEEDED,
        progress=1.0,
        created_by=actor,
        finished_at=timezone.now(),
    )
    for name, kind, media_type in outputs:
        version = make_ready_version(project, uploader=actor, kind=Asset.Kind.GENERATED, name=f"{tool} {name}")
        # a distinct SHA-256 per output, as real outputs have (approval is about exact bytes)
        AssetVersion.objects.filter(pk=version.pk).update(
            sha256=f"{version.pk:064x}",
            media_info={"kind": "file", "media_type": media_type}
            if not media_type.startswith(("video/", "image/"))
            else version.media_info,
        )
        if shot_code:
            Asset.objects.filter(pk=version.asset_id).update(shot_code=shot_code)
        ToolRunOutput.objects.create(run=run, name=name, kind=kind, media_type=media_type, version=version)
    return run


def output_version(run: ToolRun, name: str) -> AssetVersion:
    return AssetVersion.objects.select_related("asset").get(tool_output__run=run, tool_output__name=name)
