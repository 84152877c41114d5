"""The tus 1.0.0 endpoint: every protocol rule of the ingest issue, on whichever database runs."""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.footage import services
from portal.footage.models import Asset, AssetVersion, Upload
from portal.projects.services import project_archive

TUS = {"HTTP_TUS_RESUMABLE": "1.0.0"}


def meta(**values) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


def create(api, project, length: int | None = 10, **metadata):
    headers = dict(TUS)
    if length is None:
        headers["HTTP_UPLOAD_DEFER_LENGTH"] = "1"
    else:
        headers["HTTP_UPLOAD_LENGTH"] = str(length)
    headers["HTTP_UPLOAD_METADATA"] = meta(filename=metadata.pop("filename", "clip.mov"), **metadata)
    return api.post(f"/api/v1/projects/{project.pk}/uploads/", **headers)


def patch(api, location: str, body: bytes, offset: int, **extra):
    return api.generic(
        "PATCH",
        location,
        data=body,
        content_type="application/offset+octet-stream",
        HTTP_UPLOAD_OFFSET=str(offset),
        **TUS,
        **extra,
    )


def sha256_header(body: bytes) -> str:
    return "sha256 " + base64.b64encode(hashlib.sha256(body).digest()).decode()


def part_bytes(upload: Upload) -> bytes:
    path = Path(default_storage.path(upload.part_key))
    return path.read_bytes() if path.exists() else b""


@pytest.fixture
def artist(world):
    return world.a.users["artist"]


@pytest.fixture
def api(api_for, artist):
    return api_for(artist)


def test_options_advertises_the_extensions(api, world):
    response = api.options(f"/api/v1/projects/{world.a.project.pk}/uploads/")
    assert response.status_code == 204
    assert response["Tus-Version"] == "1.0.0"
    assert set(response["Tus-Extension"].split(",")) >= {"creation", "termination", "checksum", "expiration"}
    assert response["Tus-Checksum-Algorithm"] == "sha256"


def test_whole_upload_in_chunks_reassembles_exactly(api, world, django_capture_on_commit_callbacks):
    data = bytes(range(256)) * 40  # 10240 bytes
    response = create(api, world.a.project, length=len(data), kind="plate", shot_code="010_0020")
    assert response.status_code == 201, response.content
    location = response["Location"]
    assert response["Upload-Expires"]
    offset = 0
    for size in (4096, 4096, 2048):
        chunk = data[offset : offset + size]
        with django_capture_on_commit_callbacks(execute=False):
            r = patch(api, location, chunk, offset, HTTP_UPLOAD_CHECKSUM=sha256_header(chunk))
        assert r.status_code == 204, r.content
        offset += size
        assert r["Upload-Offset"] == str(offset)
        head = api.head(location, **TUS)
        assert head["Upload-Offset"] == str(offset) and head["Upload-Length"] == str(len(data))
        assert head["Cache-Control"] == "no-store"
    upload = Upload.objects.get()
    assert upload.status == Upload.Status.COMPLETE
    assert hashlib.sha256(part_bytes(upload)).hexdigest() == hashlib.sha256(data).hexdigest()
    version = upload.version
    assert version.status == AssetVersion.Status.PROCESSING
    assert version.asset.kind == Asset.Kind.PLATE and version.asset.shot_code == "010_0020"
    assert AuditEvent.objects.filter(action="footage.upload.complete", project=world.a.project).count() == 1


def test_wrong_offset_is_409_and_nothing_changes(api, world):
    location = create(api, world.a.project, length=10)["Location"]
    assert patch(api, location, b"abcd", 0).status_code == 204
    response = patch(api, location, b"zzzz", 2)
    assert response.status_code == 409
    assert "does not match" in response.content.decode()
    assert part_bytes(Upload.objects.get()) == b"abcd"


def test_chunk_past_declared_length_is_413_and_nothing_kept(api, world):
    location = create(api, world.a.project, length=6)["Location"]
    assert patch(api, location, b"abc", 0).status_code == 204
    response = patch(api, location, b"defghij", 3)
    assert response.status_code == 413
    upload = Upload.objects.get()
    assert upload.offset == 3 and part_bytes(upload) == b"abc"


def test_bad_checksum_is_460_with_offset_unchanged(api, world):
    location = create(api, world.a.project, length=8)["Location"]
    assert patch(api, location, b"good", 0, HTTP_UPLOAD_CHECKSUM=sha256_header(b"good")).status_code == 204
    response = patch(api, location, b"evil", 4, HTTP_UPLOAD_CHECKSUM=sha256_header(b"good"))
    assert response.status_code == 460
    assert "Checksum mismatch" in response.content.decode()
    assert api.head(location, **TUS)["Upload-Offset"] == "4"
    assert part_bytes(Upload.objects.get()) == b"good"
    # The same chunk sent again, correctly, goes in.
    assert patch(api, location, b"evil", 4, HTTP_UPLOAD_CHECKSUM=sha256_header(b"evil")).status_code == 204


def test_unsupported_checksum_algorithm_is_400(api, world):
    location = create(api, world.a.project, length=4)["Location"]
    response = patch(api, location, b"data", 0, HTTP_UPLOAD_CHECKSUM="md5 " + base64.b64encode(b"x" * 16).decode())
    assert response.status_code == 400
    assert Upload.objects.get().offset == 0


def test_missing_tus_resumable_is_412(api, world):
    response = api.post(f"/api/v1/projects/{world.a.project.pk}/uploads/", HTTP_UPLOAD_LENGTH="4")
    assert response.status_code == 412
    assert response["Tus-Version"] == "1.0.0"


def test_wrong_content_type_is_415(api, world):
    location = create(api, world.a.project, length=4)["Location"]
    response = api.generic("PATCH", location, data=b"data", content_type="text/plain", HTTP_UPLOAD_OFFSET="0", **TUS)
    assert response.status_code == 415


def test_zero_byte_file_is_refused_before_anything_is_stored(api, world):
    response = create(api, world.a.project, length=0)
    assert response.status_code == 400
    assert "empty" in response.content.decode()
    assert not Upload.objects.exists() and not Asset.objects.exists()


def test_declared_size_over_the_quota_is_413_before_any_byte(api, world):
    studio = world.a.studio
    studio.storage_quota_bytes = 1000
    studio.save(update_fields=["storage_quota_bytes"])
    response = create(api, world.a.project, length=1001)
    assert response.status_code == 413
    assert "quota" in response.content.decode()
    assert not Upload.objects.exists() and not Asset.objects.exists()


def test_declared_size_over_the_max_file_size_is_413(api, world, settings):
    settings.FOOTAGE_MAX_FILE_SIZE = 100
    response = create(api, world.a.project, length=101)
    assert response.status_code == 413
    assert "largest file" in response.content.decode()


def test_quota_counts_uploads_in_flight(api, world):
    studio = world.a.studio
    studio.storage_quota_bytes = 1000
    studio.save(update_fields=["storage_quota_bytes"])
    assert create(api, world.a.project, length=600).status_code == 201
    assert create(api, world.a.project, length=600).status_code == 413


def test_deferred_length_cannot_sneak_past_the_quota(api, world):
    studio = world.a.studio
    studio.storage_quota_bytes = 10
    studio.save(update_fields=["storage_quota_bytes"])
    response = create(api, world.a.project, length=None)
    assert response.status_code == 201
    location = response["Location"]
    assert api.head(location, **TUS)["Upload-Defer-Length"] == "1"
    assert patch(api, location, b"12345678", 0).status_code == 204
    assert patch(api, location, b"90abc", 8).status_code == 413  # would make 13 bytes > 10
    assert Upload.objects.get().offset == 8
    # Declaring the length later is checked too.
    assert patch(api, location, b"", 8, HTTP_UPLOAD_LENGTH="50").status_code == 413


def test_deferred_length_completes_once_declared(api, world, django_capture_on_commit_callbacks):
    location = create(api, world.a.project, length=None)["Location"]
    assert patch(api, location, b"hello ", 0).status_code == 204
    with django_capture_on_commit_callbacks(execute=False):
        assert patch(api, location, b"world", 6, HTTP_UPLOAD_LENGTH="11").status_code == 204
    upload = Upload.objects.get()
    assert upload.status == Upload.Status.COMPLETE and upload.length == 11


def test_patch_after_expiry_is_410(api, world):
    location = create(api, world.a.project, length=10)["Location"]
    Upload.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert patch(api, location, b"late", 0).status_code == 410
    assert api.head(location, **TUS).status_code == 410


def test_expired_uploads_are_removed_with_their_bytes(api, world):
    location = create(api, world.a.project, length=10)["Location"]
    assert patch(api, location, b"abc", 0).status_code == 204
    upload = Upload.objects.get()
    part = Path(default_storage.path(upload.part_key))
    assert part.exists()
    Upload.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert services.uploads_expire() == 1
    upload.refresh_from_db()
    assert upload.status == Upload.Status.TERMINATED
    assert not AssetVersion.objects.exists() and not Asset.objects.exists()
    assert AuditEvent.objects.filter(action="footage.upload.expired").count() == 1
    assert api.head(location, **TUS).status_code == 404


def test_termination_removes_everything(api, world, django_capture_on_commit_callbacks):
    location = create(api, world.a.project, length=10)["Location"]
    assert patch(api, location, b"abc", 0).status_code == 204
    upload = Upload.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete(location, **TUS).status_code == 204
    assert not Path(default_storage.path(upload.part_key)).exists()
    assert not Asset.objects.exists()
    assert api.head(location, **TUS).status_code == 404


def test_another_user_gets_404_on_someone_elses_upload(api, world, api_for):
    location = create(api, world.a.project, length=10)["Location"]
    for intruder in (world.a.users["director"], world.a.users["producer"], world.b.users["artist"], world.staff):
        other = api_for(intruder)
        assert other.head(location, **TUS).status_code == 404
        assert patch(other, location, b"x", 0).status_code == 404
        assert other.delete(location, **TUS).status_code == 404
    assert Upload.objects.get().offset == 0


def test_anonymous_is_refused(api_for, world):
    response = create(api_for(None), world.a.project, length=10)
    assert response.status_code in (401, 403)
    assert not Upload.objects.exists()


def test_viewer_may_not_upload(api_for, world):
    response = create(api_for(world.a.users["viewer"]), world.a.project, length=10)
    assert response.status_code == 403
    assert AuditEvent.objects.filter(action="access.denied", project=world.a.project).exists()
    assert not Asset.objects.exists()


def test_other_studio_project_is_404(api, world):
    assert create(api, world.b.project, length=10).status_code == 404
    assert create(api, type("P", (), {"pk": 999999})(), length=10).status_code == 404


def test_upload_to_archived_project_is_refused(api, world):
    project_archive(actor=world.a.users["studio_admin"], project=world.a.project)
    response = create(api, world.a.project, length=10)
    assert response.status_code == 403
    assert not Asset.objects.exists()


def test_uploads_stop_when_membership_goes(api, world):
    from portal.projects.models import ProjectMembership
    from portal.projects.services import project_member_remove

    location = create(api, world.a.project, length=10)["Location"]
    membership = ProjectMembership.objects.get(project=world.a.project, user=world.a.users["artist"])
    project_member_remove(actor=world.a.users["producer"], membership=membership)
    assert patch(api, location, b"abc", 0).status_code == 404


@pytest.mark.parametrize(
    "name",
    [
        "../../etc/passwd",
        "/etc/passwd",
        "C:\\Windows\\system32\\evil.mov",
        "clip\x00.mov",
        "\u202eevom.exe",
        "a" * 300 + ".mov",
        "",
    ],
)
def test_hostile_names_never_reach_a_key(api, world, name):
    response = create(api, world.a.project, length=4, filename=name)
    assert response.status_code == 201
    upload = Upload.objects.get()
    version = upload.version
    prefix = f"studios/{world.a.studio.pk}/uploads/{upload.pk}/part"
    assert upload.part_key == prefix
    shown = version.original_name
    assert "/" not in shown and "\\" not in shown and "\x00" not in shown and "\u202e" not in shown
    assert 0 < len(shown) <= 200
    assert len(version.asset.name) <= 200


def test_unknown_kind_is_a_clear_400(api, world):
    response = create(api, world.a.project, length=4, kind="generated")
    assert response.status_code == 400
    assert "not a kind you can upload" in response.content.decode()
    assert not Asset.objects.exists()


def test_new_version_of_an_existing_asset(api, world, django_capture_on_commit_callbacks):
    first = create(api, world.a.project, length=3)["Location"]
    with django_capture_on_commit_callbacks(execute=False):
        patch(api, first, b"one", 0)
    asset = Asset.objects.get()
    second = create(api, world.a.project, length=3, asset=str(asset.pk))
    assert second.status_code == 201
    assert list(asset.versions.values_list("number", flat=True).order_by("number")) == [1, 2]
    # Another studio's asset id: 404, nothing created.
    assert create(api, world.b.project, length=3, asset=str(asset.pk)).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_two_patches_at_the_same_offset_one_wins(world_tx, api_for):
    """Two requests racing at offset 0: exactly one is stored, the other 409, the file stays right."""
    artist = world_tx.a.users["artist"]
    api = api_for(artist)
    location = create(api, world_tx.a.project, length=2 * 1024 * 1024)["Location"]
    bodies = {b"A": b"A" * 1024 * 1024, b"B": b"B" * 1024 * 1024}
    results = {}
    barrier = threading.Barrier(2)

    def send(key):
        client = api_for(artist)
        barrier.wait()
        try:
            results[key] = patch(client, location, bodies[key], 0).status_code
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(k,)) for k in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results.values()) == [204, 409], results
    winner = next(k for k, status in results.items() if status == 204)
    upload = Upload.objects.get()
    assert upload.offset == 1024 * 1024
    assert part_bytes(upload) == bodies[winner]


def test_an_upload_that_never_writes_releases_its_quota_after_an_hour(api, world, settings):
    """Finding 15: an upload created and never written held its declared size of the quota for 24 h."""
    studio = world.a.studio
    studio.storage_quota_bytes = 1000
    studio.save(update_fields=["storage_quota_bytes"])
    idle = create(api, world.a.project, length=600)
    assert idle.status_code == 201
    assert create(api, world.a.project, length=600).status_code == 413  # held while it may still start
    Upload.objects.filter(offset=0).update(created_at=timezone.now() - timedelta(minutes=settings.TUS_IDLE_RELEASE_MINUTES + 1))
    busy = create(api, world.a.project, length=600)
    assert busy.status_code == 201  # the idle one no longer holds its 600 bytes
    # the idle upload starts after all: its first chunk finds the room taken, and says so
    late = patch(api, idle["Location"], b"x" * 10, 0)
    assert late.status_code == 413 and "quota" in late.content.decode()
    assert Upload.objects.get(pk=idle["Location"].rstrip("/").rsplit("/", 1)[1]).offset == 0
    # an upload that has written something keeps holding its room however old it is
    assert patch(api, busy["Location"], b"y" * 10, 0).status_code == 204
    Upload.objects.filter(offset__gt=0).update(created_at=timezone.now() - timedelta(hours=5))
    assert create(api, world.a.project, length=600).status_code == 413


@pytest.mark.django_db(transaction=True)
def test_parallel_deferred_length_chunks_cannot_overrun_the_quota_together(world_tx, api_for, monkeypatch):
    """Finding 13: four deferred-length uploads sending a chunk at once each found the same free room
    (each counted the others at offset 0) and ended 22 MiB over. Each chunk now takes the project's lock."""
    from portal.footage import partstore

    write = partstore.write_chunk

    def slow_disk(*args, **kwargs):  # a chunk takes a while to land, as over a real network and disk
        time.sleep(0.4)
        return write(*args, **kwargs)

    monkeypatch.setattr(partstore, "write_chunk", slow_disk)
    studio = world_tx.a.studio
    studio.storage_quota_bytes = 10 * 1024 * 1024
    studio.save(update_fields=["storage_quota_bytes"])
    artist = world_tx.a.users["artist"]
    locations = [create(api_for(artist), world_tx.a.project, length=None)["Location"] for _ in range(4)]
    chunk = b"z" * (4 * 1024 * 1024)
    results: list[int] = []
    barrier = threading.Barrier(len(locations))

    def send(location):
        client = api_for(artist)
        barrier.wait()
        try:
            results.append(patch(client, location, chunk, 0).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(loc,)) for loc in locations]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [204, 204, 413, 413], results  # 2 x 4 MiB fit in 10 MiB, a third would not
    written = sum(Upload.objects.values_list("offset", flat=True))
    assert written == 8 * 1024 * 1024 <= studio.storage_quota_bytes
