"""A finished crowd run with its outputs stored as real generated versions (distinct bytes, true
SHA-256), for tests about the run's output set, without running the tool."""

from __future__ import annotations

import hashlib
from pathlib import Path

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from portal.footage import storage
from portal.footage.models import Asset, AssetVersion
from portal.toolruns.models import ToolRun, ToolRunOutput
from tests.footage.helpers import make_ready_version

# The crowd tool's outputs (studio_tools/crowd/tool.py): name -> (file name, media type, label)
CROWD_OUTPUTS = {
    "comp": ("comp.mov", "video/quicktime", "Comp: the plate with the added crowd (ProRes 422 HQ)"),
    "comp_proxy": ("comp.proxy.mp4", "video/mp4", "Comp proxy for review (H.264)"),
    "layer": ("layer.mov", "video/quicktime", "Added crowd alone with straight alpha (ProRes 4444)"),
    "matte": ("matte.mov", "video/quicktime", "Matte of the added crowd, white = added (ProRes 422 HQ)"),
}


def store_bytes(version: AssetVersion, content: bytes) -> AssetVersion:
    """Put these bytes at the version's original key, with their true size and SHA-256 (a re-ingest
    with other bytes, when called again)."""
    default_storage.delete(version.file_key)
    default_storage.save(version.file_key, ContentFile(content))
    version.sha256 = hashlib.sha256(content).hexdigest()
    version.size = len(content)
    version.save(update_fields=["sha256", "size"])
    return version


def make_crowd_run(project, *, actor, status: str = ToolRun.Status.SUCCEEDED, outputs=None, files=None) -> ToolRun:
    """A crowd run and its outputs (all four, or the names in `outputs`); `files` ({name: Path}) stores
    real files for those outputs instead of a few distinct bytes."""
    run = ToolRun.objects.create(
        project=project,
        tool="crowd",
        tool_version="1.3.0",
        params={"density": 2, "seed": 7},
        status=status,
        progress=1.0 if status == ToolRun.Status.SUCCEEDED else 0.0,
        created_by=actor,
        finished_at=timezone.now() if status == ToolRun.Status.SUCCEEDED else None,
    )
    for name in outputs or CROWD_OUTPUTS:
        filename, media_type, label = CROWD_OUTPUTS[name]
        version = make_ready_version(project, uploader=actor, kind=Asset.Kind.GENERATED, name=label)
        version.original_name = filename
        version.save(update_fields=["original_name"])
        if files and name in files:
            store_bytes(version, Path(files[name]).read_bytes())
        else:
            store_bytes(version, f"{name} of run {run.pk}: {filename}".encode())
        ToolRunOutput.objects.create(run=run, name=name, kind="generated", media_type=media_type, label=label, version=version)
    return run


def add_newer_version(version: AssetVersion) -> AssetVersion:
    """v(n+1) of the same output asset, ready (a later run's output of that name)."""
    newer = AssetVersion.objects.create(
        asset=version.asset,
        number=version.number + 1,
        status=AssetVersion.Status.READY,
        original_name=version.original_name,
        uploaded_by=version.uploaded_by,
        ready_at=timezone.now(),
    )
    newer.file_key = storage.version_key(newer, "original")
    newer.save(update_fields=["file_key"])
    return store_bytes(newer, b"a newer version")
