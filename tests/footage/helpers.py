"""Footage state for tests that are about something else (access, review...): a ready version
with small stand-in files, without running ffmpeg. Ingest itself is tested for real elsewhere."""

from __future__ import annotations

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from portal.footage import storage
from portal.footage.models import Asset, AssetVersion


def make_ready_version(project, *, uploader, kind: str = Asset.Kind.FOOTAGE, name: str = "clip.mov") -> AssetVersion:
    asset = Asset.objects.create(project=project, name=name, kind=kind, created_by=uploader)
    version = AssetVersion.objects.create(
        asset=asset,
        number=1,
        status=AssetVersion.Status.READY,
        original_name=name,
        size=4,
        sha256="0" * 64,
        media_info={"kind": "video", "duration": 1.0, "video": {"width": 64, "height": 36, "frame_rate": "25/1"}},
        uploaded_by=uploader,
        ready_at=timezone.now(),
    )
    for field, key_name, content in (
        ("file_key", "original", b"orig"),
        ("proxy_key", "proxy.mp4", b"\x00\x00\x00\x18ftypmp42"),
        ("poster_key", "poster.jpg", b"\xff\xd8\xff\xe0"),
    ):
        key = storage.version_key(version, key_name)
        default_storage.save(key, ContentFile(content))
        setattr(version, field, key)
    version.save()
    return version
