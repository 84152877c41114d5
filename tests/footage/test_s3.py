"""The object-storage path for real: an S3-compatible server (moto in server mode) on loopback,
django-storages' S3 backend pointed at it. tus chunks become objects, ingest assembles them,
proxies are stored back, and downloads are 15-minute signed URLs with the right headers."""

from __future__ import annotations

import socket
import urllib.request

import boto3
import pytest
from django.conf import settings as django_settings
from django.core.files.storage import default_storage

from portal.footage import storage
from portal.footage.models import AssetVersion, Upload
from tests.footage.test_ingest import upload

BUCKET = "portal-test-footage"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3_server():
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3(settings, s3_server):
    client = boto3.client(
        "s3", endpoint_url=s3_server, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )
    try:
        client.create_bucket(Bucket=BUCKET)
    except client.exceptions.BucketAlreadyOwnedByYou:
        pass
    settings.STORAGES = {
        **django_settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "endpoint_url": s3_server,
                "region_name": "us-east-1",
                "access_key": "test",
                "secret_key": "test",
                "querystring_auth": True,
                "querystring_expire": 900,
                "signature_version": "s3v4",
                "file_overwrite": False,
                "default_acl": None,
            },
        },
    }
    assert not storage.is_local()
    yield client
    # Empty the bucket between tests: each test counts what it left behind.
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])


def _keys(client) -> list[str]:
    return sorted(item["Key"] for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []))


@pytest.fixture
def api(api_for, world):
    return api_for(world.a.users["artist"])


def test_upload_ingest_and_signed_download_on_s3(
    s3,
    api,
    world,
    clips,
    eager,
    django_capture_on_commit_callbacks,
    client_for,
):
    version = upload(api, world.a.project, clips["mov"], chunk=100 * 1024, capture=django_capture_on_commit_callbacks)
    version.refresh_from_db()
    assert version.status == AssetVersion.Status.READY, version.reject_reason
    prefix = f"studios/{world.a.studio.pk}/projects/{world.a.project.pk}/assets/{version.asset_id}/v1/"
    assert _keys(s3) == sorted(
        prefix + name for name in ("original", "proxy.mp4", "poster.jpg", "filmstrip.jpg", "waveform.png")
    ), "the tus chunk objects must be gone once the original is stored"
    assert default_storage.open(version.file_key).read() == clips["mov"].read_bytes()

    page = client_for(world.a.users["artist"])
    download = page.get(f"/s/{world.a.studio.slug}/p/{world.a.project.code}/download/{version.pk}/")
    assert download.status_code == 302
    signed = download["Location"]
    assert signed.startswith(s3.meta.endpoint_url) and "X-Amz-Expires=900" in signed and "X-Amz-Signature" in signed
    with urllib.request.urlopen(signed, timeout=10) as response:
        assert response.read() == clips["mov"].read_bytes()
        assert response.headers["Content-Disposition"].startswith("attachment;")
    proxy = page.get(f"/s/{world.a.studio.slug}/p/{world.a.project.code}/media/{version.pk}/proxy/")
    assert proxy.status_code == 302
    with urllib.request.urlopen(proxy["Location"], timeout=10) as response:
        assert response.headers["Content-Type"] == "video/mp4"
        assert response.read(8)[4:8] == b"ftyp"
    # An outsider never gets a signed URL.
    outsider = client_for(world.b.users["producer"])
    assert outsider.get(f"/s/{world.a.studio.slug}/p/{world.a.project.code}/download/{version.pk}/").status_code == 404


def test_rejected_upload_leaves_no_object_on_s3(
    s3,
    api,
    world,
    clips,
    eager,
    django_capture_on_commit_callbacks,
):
    version = upload(api, world.a.project, clips["hls"], chunk=64, capture=django_capture_on_commit_callbacks)
    version.refresh_from_db()
    assert version.status == AssetVersion.Status.REJECTED and "playlist" in version.reject_reason.lower()
    assert _keys(s3) == []


def test_bad_checksum_chunk_is_not_stored_on_s3(s3, api, world):
    import base64
    import hashlib

    from tests.footage.test_tus import create, patch

    location = create(api, world.a.project, length=8)["Location"]
    good = "sha256 " + base64.b64encode(hashlib.sha256(b"good").digest()).decode()
    assert patch(api, location, b"good", 0, HTTP_UPLOAD_CHECKSUM=good).status_code == 204
    assert patch(api, location, b"evil", 4, HTTP_UPLOAD_CHECKSUM=good).status_code == 460
    upload_row = Upload.objects.get()
    assert _keys(s3) == [f"studios/{world.a.studio.pk}/uploads/{upload_row.pk}/chunk-{0:016d}"]
    assert upload_row.offset == 4


def test_a_rejection_after_the_original_was_stored_leaves_no_object_on_s3(
    s3, api, world, clips, eager, django_capture_on_commit_callbacks, monkeypatch
):
    from tests.footage.test_ingest_truth import _without_output_at

    # The original and the proxy and poster are in the bucket when the filmstrip step comes out empty.
    _without_output_at("filmstrip.jpg", monkeypatch)
    version = upload(api, world.a.project, clips["mov"], capture=django_capture_on_commit_callbacks, kind="plate")
    version.refresh_from_db()
    assert version.status == AssetVersion.Status.REJECTED and "filmstrip" in version.reject_reason
    assert _keys(s3) == []
