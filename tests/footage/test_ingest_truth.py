"""Ingest tells the truth about a file and keeps nothing of one it rejects: a truncated MP4 whose
index is at the front is refused at the proxy with a reason (not after retries), a step that
"succeeds" without output is a rejection, a rejected version leaves no byte in storage and no
scratch folder; audio-less files get no waveform and say so; a browser-playable source is remuxed,
anything else encoded, and the version says which. Media is generated with lavfi."""

from __future__ import annotations

import subprocess
from pathlib import Path

import ffmpeg as ffmpeg_python
import pytest
from django.core.files.storage import default_storage

from portal.audit.models import AuditEvent
from portal.footage.models import AssetVersion, Upload
from tests.footage.conftest import ffmpeg
from tests.footage.helpers import make_ready_version
from tests.footage.test_ingest import upload


@pytest.fixture
def artist(world):
    return world.a.users["artist"]


@pytest.fixture
def api(api_for, artist):
    return api_for(artist)


@pytest.fixture
def scratch(settings, tmp_path):
    folder = tmp_path / "scratch"
    folder.mkdir()
    settings.FOOTAGE_TEMP_DIR = str(folder)
    return folder


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("truth-clips")
    made = {}
    # H.264 + AAC, 8-bit 4:2:0, square, CFR, in MP4 with the index at the front: browser-playable.
    playable = root / "playable.mp4"
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=8",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=8",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
        "-movflags", "+faststart", str(playable),
    )  # fmt: skip
    made["playable"] = playable
    # The same file cut to 40%: the moov at the front still promises all 8 s.
    truncated = root / "truncated-faststart.mp4"
    data = playable.read_bytes()
    assert data.find(b"moov") < data.find(b"mdat"), "the source must have its index at the front"
    truncated.write_bytes(data[: int(len(data) * 0.4)])
    made["truncated"] = truncated
    silent = root / "silent.mp4"
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=2",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(silent),
    )  # fmt: skip
    made["silent"] = silent
    return made


def stored_files(world) -> list[Path]:
    prefix = Path(default_storage.path(f"studios/{world.a.studio.pk}"))
    return [p for p in prefix.rglob("*") if p.is_file()] if prefix.exists() else []


def assert_nothing_kept(version: AssetVersion, world, scratch: Path) -> None:
    assert not (version.file_key or version.proxy_key or version.poster_key or version.filmstrip_key or version.waveform_key)
    upload_row = Upload.objects.get(version=version)
    assert not default_storage.exists(upload_row.part_key)
    assert stored_files(world) == []
    assert list(scratch.iterdir()) == []


def page_of(client_for, user, world, version) -> str:
    url = f"/s/{world.a.studio.slug}/p/{world.a.project.code}/assets/{version.asset_id}/"
    return client_for(user).get(url).content.decode()


def test_a_truncated_faststart_mp4_is_rejected_at_once_with_its_reason_and_nothing_kept(
    api, world, media, eager, scratch, django_capture_on_commit_callbacks, client_for, artist
):
    version = upload(api, world.a.project, media["truncated"], capture=django_capture_on_commit_callbacks)
    version.refresh_from_db()
    assert version.status == AssetVersion.Status.REJECTED
    reason = version.reject_reason
    # Specific: what the index promised, where the pictures stop, and what to do.
    assert "200 frames" in reason and "cut short" in reason and "complete file" in reason, reason
    assert version.ingest_attempts == 1, "a truncated file is refused on the first attempt, not after retries"
    assert_nothing_kept(version, world, scratch)
    body = api.get(f"/api/v1/projects/{world.a.project.pk}/versions/").json()
    rows = body["results"] if isinstance(body, dict) else body
    row = next(r for r in rows if r["id"] == version.pk)
    assert row["status"] == "rejected" and row["reject_reason"] == reason and row["links"] == {}
    html = page_of(client_for, artist, world, version)
    assert "This file was rejected" in html and "cut short" in html
    assert AuditEvent.objects.filter(action="footage.ingest.rejected", project=world.a.project).count() == 1


def _without_output_at(step: str, monkeypatch) -> None:
    """ffmpeg 'succeeds' without writing the output of `step` (its staged file is named after it)."""
    from studio_tools.media import derivatives

    real = derivatives._run

    def run(out, info, progress, cancelled, limits):
        if any(f".{step}." in arg for arg in ffmpeg_python.get_args(out)):
            return None  # exit status 0, nothing written
        return real(out, info, progress, cancelled, limits)

    monkeypatch.setattr(derivatives, "_run", run)


@pytest.mark.parametrize(
    ("step", "words"),
    [
        ("proxy.mp4", "review copy"),
        ("poster.jpg", "poster"),
        ("filmstrip.jpg", "filmstrip"),
        ("waveform.png", "waveform"),
    ],
)
def test_a_step_that_succeeds_without_output_is_a_rejection_that_keeps_nothing(
    api, world, media, eager, scratch, django_capture_on_commit_callbacks, client_for, artist, monkeypatch, step, words
):
    _without_output_at(step, monkeypatch)
    version = upload(api, world.a.project, media["playable"], capture=django_capture_on_commit_callbacks)
    version.refresh_from_db()
    assert version.status == AssetVersion.Status.REJECTED
    assert words in version.reject_reason and "/tmp" not in version.reject_reason, version.reject_reason
    assert version.ingest_attempts == 1
    # The original was already moved into the version's folder and earlier steps stored theirs: all gone.
    assert_nothing_kept(version, world, scratch)
    body = api.get(f"/api/v1/projects/{world.a.project.pk}/versions/{version.pk}/").json()
    assert body["reject_reason"] == version.reject_reason


def test_scratch_folders_of_a_killed_ingest_are_removed(
    api, world, media, eager, scratch, django_capture_on_commit_callbacks, settings
):
    from django.utils import timezone

    from portal import jobs

    # A worker was SIGKILLed mid-ingest (its `finally` never ran): a folder with half a proxy stays,
    # the version stays processing and its lease runs out.
    settings.CELERY_TASK_ALWAYS_EAGER = False
    from portal.celery import app

    app.conf.task_always_eager = False
    with django_capture_on_commit_callbacks(execute=False):
        version = upload(api, world.a.project, media["silent"], capture=django_capture_on_commit_callbacks)
    app.conf.task_always_eager = True
    dead = scratch / f"ingest-{version.pk}-killed"
    dead.mkdir()
    (dead / "proxy.mp4").write_bytes(b"\0" * 1000)
    AssetVersion.objects.filter(pk=version.pk).update(
        status=AssetVersion.Status.PROCESSING, ingest_lease_until=timezone.now() - timezone.timedelta(seconds=1)
    )
    Upload.objects.filter(version=version).update(completed_at=timezone.now() - timezone.timedelta(hours=1))
    # Another killed worker's folder, of a version that has long been rejected.
    other = make_ready_version(world.a.project, uploader=world.a.users["artist"], name="other.mov")
    AssetVersion.objects.filter(pk=other.pk).update(status=AssetVersion.Status.REJECTED)
    (scratch / f"ingest-{other.pk}-killed").mkdir()
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.recover(only=["ingest"])["ingest"]["redispatched"] == 1  # dispatched again; eager: it runs here
    version.refresh_from_db()
    assert version.status == AssetVersion.Status.READY, version.reject_reason
    assert list(scratch.iterdir()) == []


def test_an_audio_less_video_has_no_waveform_and_says_so(
    api, world, media, eager, scratch, django_capture_on_commit_callbacks, client_for, artist
):
    version = upload(api, world.a.project, media["silent"], capture=django_capture_on_commit_callbacks)
    version.refresh_from_db()
    assert version.status == AssetVersion.Status.READY, version.reject_reason
    assert not version.waveform_key
    assert version.media_info["waveform"] == {"made": False, "reason": "no audio"}
    assert version.media_info["audio"] is None
    body = api.get(f"/api/v1/projects/{world.a.project.pk}/versions/{version.pk}/").json()
    assert body["has_audio"] is False and "waveform" not in body["links"]
    html = page_of(client_for, artist, world, version)
    assert "data-no-audio" in html and "no sound, so there is no waveform" in html
    assert "notice-danger" not in html and "This file was rejected" not in html  # a fact, not an error
    assert list(scratch.iterdir()) == []


def _video_md5(path: Path) -> str:
    """MD5 of the video stream's packets as stored (no decode): equal only for copied streams."""
    out = subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-i", str(path), "-map", "0:v:0", "-c", "copy", "-f", "md5", "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.strip()


def test_a_playable_source_is_remuxed_and_anything_else_encoded_and_the_version_says_which(
    api, world, media, clips, eager, scratch, django_capture_on_commit_callbacks, client_for, artist
):
    playable = upload(api, world.a.project, media["playable"], capture=django_capture_on_commit_callbacks)
    mpeg4 = upload(api, world.a.project, clips["mov"], capture=django_capture_on_commit_callbacks, kind="plate")
    for version in (playable, mpeg4):
        version.refresh_from_db()
        assert version.status == AssetVersion.Status.READY, version.reject_reason
    api_of = {v.pk: api.get(f"/api/v1/projects/{world.a.project.pk}/versions/{v.pk}/").json() for v in (playable, mpeg4)}

    remuxed = Path(default_storage.path(playable.proxy_key))
    assert api_of[playable.pk]["proxy_method"] == "remux"
    assert playable.media_info["proxy"]["method"] == "remux" and playable.media_info["proxy"]["encode_reasons"] == []
    assert _video_md5(remuxed) == _video_md5(media["playable"]), "a remux copies the H.264 as it is"
    head = remuxed.read_bytes()
    assert head.find(b"moov") < head.find(b"mdat")
    assert playable.media_info["proxy"]["frame_count"] == 200 and playable.media_info["proxy"]["frame_rate"] == "25/1"
    assert 'data-proxy-method="remux"' in page_of(client_for, artist, world, playable)

    encoded = Path(default_storage.path(mpeg4.proxy_key))
    assert api_of[mpeg4.pk]["proxy_method"] == "encode"
    assert any("mpeg4" in r for r in mpeg4.media_info["proxy"]["encode_reasons"])
    assert mpeg4.media_info["proxy"]["frame_count"] == 50 and mpeg4.media_info["proxy"]["frame_rate"] == "25/1"
    codec = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=codec_name",
            "-of",
            "csv=p=0",
            str(encoded),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert codec == "h264"
    assert 'data-proxy-method="encode"' in page_of(client_for, artist, world, mpeg4)


def test_page_and_api_show_the_true_rate_the_header_claim_and_a_vfr_badge(world, client_for, api_for, artist):
    version = make_ready_version(world.a.project, uploader=artist, name="packed.avi")
    version.media_info = {
        "kind": "video",
        "container": "avi",
        "duration": 13.64,
        "audio": None,
        "audio_tracks": [],
        "video": {
            "codec": "mpeg4",
            "width": 640,
            "height": 360,
            "frame_rate": "25/1",
            "header_frame_rate": "50/1",
            "frame_count": 341,
            "variable_frame_rate": True,
        },
        "proxy": {"method": "encode", "encode_reasons": ["container AVI, not MP4/MOV"], "frame_rate": "25/1"},
    }
    version.save()
    html = page_of(client_for, artist, world, version)
    assert "data-vfr" in html and "Variable frame rate" in html
    assert 'data-frame-rate="25/1"' in html and "25 fps" in html
    assert 'data-header-frame-rate="50/1"' in html and "header says 50 fps" in html
    assert 'data-frame-count="341"' in html
    body = api_for(artist).get(f"/api/v1/projects/{world.a.project.pk}/versions/{version.pk}/").json()
    assert (body["frame_rate"], body["header_frame_rate"], body["frame_count"], body["variable_frame_rate"]) == (
        "25/1",
        "50/1",
        341,
        True,
    )
    assert body["proxy_method"] == "encode" and body["has_audio"] is False
    # The asset list of the project marks it too.
    listing = client_for(artist).get(f"/s/{world.a.studio.slug}/p/{world.a.project.code}/").content.decode()
    assert "VFR" in listing


def _failing_at(step: str, stderr: str, monkeypatch) -> None:
    """ffmpeg exits non-zero while making `step`, saying `stderr`."""
    from studio_tools.media import derivatives
    from studio_tools.media.sandbox import ProcessFailed

    real = derivatives._run

    def run(out, info, progress, cancelled, limits):
        if any(f".{step}." in arg for arg in ffmpeg_python.get_args(out)):
            raise ProcessFailed("ffmpeg exited with status 1", returncode=1, stderr=stderr)
        return real(out, info, progress, cancelled, limits)

    monkeypatch.setattr(derivatives, "_run", run)


def test_ffmpeg_failing_on_the_file_is_a_rejection_but_a_full_disk_is_retried(
    api, world, media, eager, scratch, django_capture_on_commit_callbacks, monkeypatch
):
    _failing_at("filmstrip.jpg", "[h264 @ 0x1] Invalid NAL unit size\nError while decoding stream #0:0", monkeypatch)
    version = upload(api, world.a.project, media["playable"], capture=django_capture_on_commit_callbacks)
    version.refresh_from_db()
    assert version.status == AssetVersion.Status.REJECTED and version.ingest_attempts == 1
    assert "could not be decoded through to the end" in version.reject_reason
    assert_nothing_kept(version, world, scratch)

    # Our disk, not the file: the ingest fails for another attempt (the lease lapses, recovery retries).
    _failing_at("filmstrip.jpg", "Error writing trailer: No space left on device", monkeypatch)
    with pytest.raises(Exception, match="status 1"):
        upload(api, world.a.project, media["silent"], capture=django_capture_on_commit_callbacks)
    second = AssetVersion.objects.exclude(pk=version.pk).get(asset__project=world.a.project)
    assert second.status == AssetVersion.Status.PROCESSING and not second.reject_reason
    assert list(scratch.iterdir()) == []  # the failed attempt's own scratch went with it


def test_a_vfr_upload_gets_a_constant_rate_proxy_and_a_badge(
    api, world, eager, scratch, django_capture_on_commit_callbacks, client_for, artist, tmp_path
):
    vfr = tmp_path / "phone.mp4"
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=2", "-vf", "select=not(eq(mod(n\\,5)\\,3))",
        "-fps_mode", "vfr", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(vfr),
    )  # fmt: skip
    version = upload(api, world.a.project, vfr, capture=django_capture_on_commit_callbacks)
    version.refresh_from_db()
    assert version.status == AssetVersion.Status.READY, version.reject_reason
    body = api.get(f"/api/v1/projects/{world.a.project.pk}/versions/{version.pk}/").json()
    summary = (body["variable_frame_rate"], body["frame_rate"], body["frame_count"], body["proxy_method"])
    assert summary == (True, "25/1", 40, "encode")
    proxy = version.media_info["proxy"]
    assert (proxy["frame_rate"], proxy["frame_count"]) == ("25/1", 50)  # 2 s at a constant 25 fps
    html = page_of(client_for, artist, world, version)
    assert "data-vfr" in html and "Variable frame rate" in html and "at a constant 25 fps" in html


def _no_decodable_frame(root: Path) -> Path:
    """An AVI whose chunks are all zeroed: the header promises frames, no decoder gives one."""
    path = root / "no-frames.avi"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=64x48:r=25:d=1", "-c:v", "mpeg4", str(path))
    data = bytearray(path.read_bytes())
    start, end = data.find(b"movi") + 4, data.find(b"idx1")
    data[start:end] = bytes(end - start)
    path.write_bytes(bytes(data))
    return path


def _times_go_backwards(root: Path) -> Path:
    """Frames 20-29 moved back a second (the muxer clamps them: ten frames share one time)."""
    path = root / "backwards.mkv"
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=s=64x48:r=25:d=2", "-c:v", "libx264", "-bf", "0",
        "-bsf:v", "setts=ts=if(between(N\\,20\\,29)\\,TS-25*40\\,TS)", str(path),
    )  # fmt: skip
    return path


def _absurd_size(root: Path) -> Path:
    """A picture 16400 pixels wide (and 8 high): past the largest size any camera or plate has."""
    path = root / "strip.png"
    ffmpeg("-f", "lavfi", "-i", "color=c=black:s=16400x8:d=1", "-frames:v", "1", str(path))
    return path


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (_no_decodable_frame, "no frame that can be decoded"),
        (_times_go_backwards, "cannot be put in order"),
        (_absurd_size, "largest accepted"),
    ],
    ids=["no-decodable-frame", "times-go-backwards", "absurd-dimensions"],
)
def test_bad_media_is_rejected_with_its_reason_on_the_page_and_in_the_api_and_nothing_kept(
    make, words, api, world, eager, scratch, django_capture_on_commit_callbacks, client_for, artist, tmp_path
):
    version = upload(api, world.a.project, make(tmp_path), capture=django_capture_on_commit_callbacks)
    version.refresh_from_db()
    assert version.status == AssetVersion.Status.REJECTED
    assert words in version.reject_reason, version.reject_reason
    assert_nothing_kept(version, world, scratch)
    row = api.get(f"/api/v1/projects/{world.a.project.pk}/versions/{version.pk}/").json()
    assert row["status"] == "rejected" and row["reject_reason"] == version.reject_reason
    html = page_of(client_for, artist, world, version)
    assert "This file was rejected" in html and words in html
