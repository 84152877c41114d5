"""Upload through tus, then ingest for real (ffprobe, ffmpeg): what the user sees in the page and
the API, good files and hostile ones. Media is generated with lavfi; nothing binary is committed."""

from __future__ import annotations

import base64
import hashlib
import subprocess
from pathlib import Path

import pytest
from django.core.files.storage import default_storage

from portal.audit.models import AuditEvent
from portal.footage.models import AssetVersion, Upload
from tests.footage.test_tus import TUS, create, patch


def upload(api, project, path: Path, *, chunk: int = 256 * 1024, capture, **metadata) -> AssetVersion:
    data = path.read_bytes()
    response = create(api, project, length=len(data), filename=metadata.pop("filename", path.name), **metadata)
    assert response.status_code == 201, response.content
    location = response["Location"]
    offset = 0
    with capture(execute=True):
        while offset < len(data):
            body = data[offset : offset + chunk]
            checksum = "sha256 " + base64.b64encode(hashlib.sha256(body).digest()).decode()
            r = patch(api, location, body, offset, HTTP_UPLOAD_CHECKSUM=checksum)
            assert r.status_code == 204, r.content
            offset = int(r["Upload-Offset"])
    return AssetVersion.objects.select_related("asset").get(pk=response["X-Asset-Version-Id"])


@pytest.fixture
def artist(world):
    return world.a.users["artist"]


@pytest.fixture
def api(api_for, artist):
    return api_for(artist)


def test_a_mov_becomes_playable_with_everything_a_reviewer_needs(
    api, world, clips, eager, django_capture_on_commit_callbacks, client_for, artist
):
    version = upload(api, world.a.project, clips["mov"], capture=django_capture_on_commit_callbacks, kind="plate")
    version.refresh_from_db()
    assert version.status == AssetVersion.Status.READY, version.reject_reason
    assert version.sha256 == hashlib.sha256(clips["mov"].read_bytes()).hexdigest()
    info = version.media_info
    assert info["kind"] == "video" and info["container"] == "mov"
    assert info["video"]["width"] == 640 and info["video"]["height"] == 360
    assert info["video"]["frame_rate"] == "25/1" and info["video"]["frame_count"] == 50
    assert info["video"]["start_timecode"] == "01:00:00:00"
    assert info["audio"]["channels"] == 1 and info["audio"]["sample_rate"] == 44100
    assert abs(info["duration"] - 2.0) < 0.1
    for key in (version.file_key, version.proxy_key, version.poster_key, version.filmstrip_key, version.waveform_key):
        assert key.startswith(f"studios/{world.a.studio.pk}/projects/{world.a.project.pk}/assets/{version.asset_id}/v1/")
        assert default_storage.exists(key)
    assert len(version.filmstrip_times) == 10
    # the part file is gone once the original is in place
    upload_row = Upload.objects.get(version=version)
    assert not default_storage.exists(upload_row.part_key)
    assert AuditEvent.objects.filter(action="footage.ingest.ready", project=world.a.project).count() == 1

    # the API tells the same story, with links
    body = api.get(f"/api/v1/projects/{world.a.project.pk}/assets/{version.asset_id}/").json()
    latest = body["latest_version"]
    assert latest["status"] == "ready" and set(latest["links"]) == {
        "proxy",
        "poster",
        "filmstrip",
        "waveform",
        "download",
        "review",
    }

    # the page shows the player; the proxy streams with ranges; the stream start is on the record
    page = client_for(artist)
    html = page.get(f"/s/{world.a.studio.slug}/p/{world.a.project.code}/assets/{version.asset_id}/").content.decode()
    assert "<video" in html and "01:00:00:00" in html
    proxy_url = latest["links"]["proxy"]
    first = page.get(proxy_url, HTTP_RANGE="bytes=0-99")
    assert first.status_code == 206 and first["Content-Range"].startswith("bytes 0-99/")
    assert b"".join(first.streaming_content)[4:8] == b"ftyp"
    assert first["X-Content-Type-Options"] == "nosniff"
    seek = page.get(proxy_url, HTTP_RANGE="bytes=1000-")
    assert seek.status_code == 206
    assert AuditEvent.objects.filter(action="footage.stream", actor=artist).count() == 1

    # the original: attachment, nosniff, audited
    download = page.get(latest["links"]["download"])
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment;") and "plate.mov" in download["Content-Disposition"]
    assert download["X-Content-Type-Options"] == "nosniff"
    assert b"".join(download.streaming_content) == clips["mov"].read_bytes()
    assert AuditEvent.objects.filter(action="footage.download", actor=artist).count() == 1


def test_proxy_is_browser_sized_and_faststart(api, world, clips, eager, django_capture_on_commit_callbacks):
    version = upload(api, world.a.project, clips["wide"], capture=django_capture_on_commit_callbacks)
    version.refresh_from_db()
    assert version.status == "ready", version.reject_reason
    assert version.media_info["video"]["frame_rate"] == "30000/1001"
    proxy = Path(default_storage.path(version.proxy_key))
    probe = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=codec_name,width,height",
            "-of",
            "csv=p=0",
            str(proxy),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    codec, width, height = probe.split(",")
    assert codec == "h264" and int(width) == 1920 and abs(int(height) - 1012) <= 2
    head = proxy.read_bytes()
    assert head.find(b"moov") < head.find(b"mdat"), "the proxy must start playing before it is all downloaded"


def test_audio_and_stills_and_subtitles(api, world, clips, eager, django_capture_on_commit_callbacks):
    wav = upload(api, world.a.project, clips["wav"], capture=django_capture_on_commit_callbacks, kind="music")
    png = upload(api, world.a.project, clips["png"], capture=django_capture_on_commit_callbacks, kind="reference")
    srt = upload(api, world.a.project, clips["srt"], capture=django_capture_on_commit_callbacks, kind="subtitles")
    for version in (wav, png, srt):
        version.refresh_from_db()
        assert version.status == "ready", (version.original_name, version.reject_reason)
    assert wav.media_info["kind"] == "audio" and wav.proxy_key.endswith(".m4a") and wav.waveform_key
    assert png.media_info["kind"] == "still" and png.proxy_key.endswith(".jpg") and not png.waveform_key
    assert srt.media_info == {"kind": "subtitles", "cues": 2, "duration": 4.0}


@pytest.mark.parametrize(
    ("clip", "kind", "reason"),
    [
        ("text", "footage", "text"),
        ("truncated", "footage", ""),
        ("hls", "footage", "playlist"),
        ("polyglot", "reference", ""),
        ("bad_srt", "subtitles", ""),
    ],
)
def test_bad_files_are_rejected_with_a_reason_and_nothing_kept(
    api, world, clips, eager, django_capture_on_commit_callbacks, client_for, artist, clip, kind, reason
):
    version = upload(api, world.a.project, clips[clip], capture=django_capture_on_commit_callbacks, kind=kind)
    version.refresh_from_db()
    assert version.status == AssetVersion.Status.REJECTED
    assert version.reject_reason and reason.lower() in version.reject_reason.lower()
    assert "/tmp" not in version.reject_reason and "studios/" not in version.reject_reason
    assert not version.file_key and not version.proxy_key
    upload_row = Upload.objects.get(version=version)
    assert not default_storage.exists(upload_row.part_key)
    prefix = Path(default_storage.path(f"studios/{world.a.studio.pk}"))
    stored = [p for p in prefix.rglob("*") if p.is_file()] if prefix.exists() else []
    assert stored == [], stored
    # the reason is in the API and on the page
    body = api.get(f"/api/v1/projects/{world.a.project.pk}/versions/{version.pk}/").json()
    assert body["status"] == "rejected" and body["reject_reason"] == version.reject_reason
    html = (
        client_for(artist).get(f"/s/{world.a.studio.slug}/p/{world.a.project.code}/assets/{version.asset_id}/").content.decode()
    )
    assert "This file was rejected" in html
    assert AuditEvent.objects.filter(action="footage.ingest.rejected", project=world.a.project).count() == 1


def test_sha256_given_at_upload_is_checked(api, world, clips, eager, django_capture_on_commit_callbacks):
    version = upload(api, world.a.project, clips["png"], capture=django_capture_on_commit_callbacks, sha256="0" * 64)
    version.refresh_from_db()
    assert version.status == "rejected" and "SHA-256" in version.reject_reason
    good = hashlib.sha256(clips["png"].read_bytes()).hexdigest()
    version = upload(api, world.a.project, clips["png"], capture=django_capture_on_commit_callbacks, sha256=good)
    version.refresh_from_db()
    assert version.status == "ready"


def test_ingest_runs_once_even_if_delivered_twice(api, world, clips, eager, django_capture_on_commit_callbacks):
    from portal.footage.services import version_ingest

    version = upload(api, world.a.project, clips["png"], capture=django_capture_on_commit_callbacks)
    assert version_ingest(version_id=version.pk) is None  # already ready: the claim refuses
    assert AuditEvent.objects.filter(action="footage.ingest.ready").count() == 1


def test_viewer_watches_but_cannot_download(api, world, clips, eager, django_capture_on_commit_callbacks, client_for):
    version = upload(api, world.a.project, clips["png"], capture=django_capture_on_commit_callbacks)
    viewer = client_for(world.a.users["viewer"])
    base = f"/s/{world.a.studio.slug}/p/{world.a.project.code}"
    assert viewer.get(f"{base}/media/{version.pk}/proxy/").status_code == 200
    assert viewer.get(f"{base}/download/{version.pk}/").status_code == 403
    outsider = client_for(world.b.users["producer"])
    assert outsider.get(f"{base}/media/{version.pk}/proxy/").status_code == 404
    # Another studio's version id under one's own project: 404 too.
    own = f"/s/{world.b.studio.slug}/p/{world.b.project.code}"
    assert outsider.get(f"{own}/media/{version.pk}/proxy/").status_code == 404
    assert outsider.get(f"{own}/download/{version.pk}/").status_code == 404


def test_tus_head_reports_the_finished_upload(api, world, clips, eager, django_capture_on_commit_callbacks):
    version = upload(api, world.a.project, clips["png"], capture=django_capture_on_commit_callbacks)
    upload_row = Upload.objects.get(version=version)
    head = api.head(f"/api/v1/uploads/{upload_row.pk}/", **TUS)
    assert head.status_code == 200 and head["Upload-Offset"] == head["Upload-Length"]
