"""Every write to assets, versions and uploads: policy, audit and live events meet here."""

from __future__ import annotations

import base64
import binascii
import logging
import secrets
import shutil
import tempfile
import time
import unicodedata
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from portal import jobs
from portal.access.enforce import require
from portal.access.policy import Action
from portal.audit.services import record
from portal.core.db import atomic_with_retry
from portal.footage import partstore, storage
from portal.footage.models import Asset, AssetVersion, Upload
from portal.live.services import publish_on_commit
from portal.projects.models import Project, ProjectMembership
from portal.webhooks import events as webhook_events

log = logging.getLogger(__name__)

GENERATED_LABEL = "AI-GENERATED - NOT APPROVED"


class UploadError(Exception):
    """A tus request that cannot be honoured; `status` is the HTTP status the protocol wants."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


# --- names ------------------------------------------------------------------------------------


def clean_display_name(raw: str, *, fallback: str = "untitled") -> str:
    """A name safe to show and to put in a Content-Disposition: no path, no control or bidi
    characters, at most 200 characters. It is only ever metadata, never a key."""
    raw = (raw or "").replace("\\", "/").split("/")[-1]
    kept = []
    for char in unicodedata.normalize("NFC", raw):
        category = unicodedata.category(char)
        if category.startswith("C"):  # Cc control (NUL...), Cf format (RTL overrides...), Cs, Co, Cn
            continue
        kept.append(char)
    name = "".join(kept).strip().strip(".").strip()
    if len(name) > 200:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 200 - len(ext) - 1] + "." + ext) if dot and len(ext) <= 10 else name[:200]
    return name or fallback


# --- quota ------------------------------------------------------------------------------------


def idle_release() -> timedelta:
    return timedelta(minutes=settings.TUS_IDLE_RELEASE_MINUTES)


def studio_bytes_committed(studio_id: int, *, excluding_upload=None) -> int:
    """Bytes stored (every version that holds a file) plus bytes promised by active uploads."""
    stored = (
        AssetVersion.objects.filter(asset__project__studio_id=studio_id)
        .exclude(status=AssetVersion.Status.UPLOADING)
        .exclude(status=AssetVersion.Status.REJECTED)
        .aggregate(total=Sum("size"))["total"]
        or 0
    )
    now = timezone.now()
    active = Upload.objects.filter(project__studio_id=studio_id, status=Upload.Status.ACTIVE, expires_at__gt=now)
    # An upload that has not written a byte within TUS_IDLE_RELEASE_MINUTES no longer holds its declared
    # size (a page closed right after choosing a 40 GB file held it for a day); if it starts later, its
    # first chunk is checked against the quota again (upload_patch).
    active = active.exclude(offset=0, created_at__lte=now - idle_release())
    if excluding_upload is not None:
        active = active.exclude(pk=excluding_upload.pk)
    promised = active.aggregate(total=Sum("length"))["total"] or 0
    # A deferred-length upload has promised what it has written so far, at least.
    promised += active.filter(length__isnull=True).aggregate(total=Sum("offset"))["total"] or 0
    return stored + promised


def _check_size(project: Project, length: int, *, upload=None) -> None:
    limit = settings.FOOTAGE_MAX_FILE_SIZE
    if length > limit:
        raise UploadError(413, f"This file is {_human(length)}; the largest file the portal accepts is {_human(limit)}.")
    quota = project.studio.storage_quota_bytes
    used = studio_bytes_committed(project.studio_id, excluding_upload=upload)
    if used + length > quota:
        raise UploadError(
            413,
            f"This file ({_human(length)}) would take {project.studio.name} over its storage quota: "
            f"{_human(used)} of {_human(quota)} is already used.",
        )


def _human(n: int) -> str:
    value = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} bytes"


# --- tus creation, PATCH, termination -----------------------------------------------------


@dataclass(frozen=True)
class UploadRequest:
    """What the client asked for in Upload-Metadata, already decoded."""

    filename: str
    kind: str
    name: str
    shot_code: str
    asset_id: int | None
    note: str
    sha256: str


def parse_metadata(header: str | None) -> dict[str, str]:
    """Upload-Metadata: comma-separated `key base64value` pairs (tus 1.0.0, creation)."""
    result: dict[str, str] = {}
    if not header:
        return result
    for pair in header.split(","):
        pair = pair.strip()
        if not pair:
            continue
        key, _, value = pair.partition(" ")
        if not key or len(key) > 64 or key in result:
            raise UploadError(400, "Upload-Metadata is malformed: each key must appear once.")
        try:
            decoded = base64.b64decode(value.strip(), validate=True) if value.strip() else b""
            result[key] = decoded.decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise UploadError(400, f"Upload-Metadata value of “{key}” is not base64 of UTF-8 text.") from exc
    return result


def _upload_request(project: Project, metadata: dict[str, str]) -> UploadRequest:
    filename = clean_display_name(metadata.get("filename") or metadata.get("name") or "")
    kind = (metadata.get("kind") or Asset.Kind.FOOTAGE).strip().lower()
    if kind not in Asset.UPLOADABLE_KINDS:
        choices = ", ".join(k.value for k in Asset.UPLOADABLE_KINDS)
        raise UploadError(400, f"“{kind}” is not a kind you can upload. Choose one of: {choices}.")
    asset_id = None
    if metadata.get("asset"):
        if not metadata["asset"].isdigit():
            raise UploadError(400, "The asset to add a version to must be given by its number.")
        asset_id = int(metadata["asset"])
        if not Asset.objects.filter(pk=asset_id, project=project).exclude(kind=Asset.Kind.GENERATED).exists():
            raise UploadError(404, "That asset does not exist in this project.")
    sha256 = (metadata.get("sha256") or "").strip().lower()
    if sha256 and (len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256)):
        raise UploadError(400, "The sha256 in Upload-Metadata must be 64 hexadecimal digits.")
    shot_code = clean_display_name(metadata.get("shot_code") or "", fallback="")[:64]
    return UploadRequest(
        filename=filename,
        kind=kind,
        name=clean_display_name(metadata.get("asset_name") or "", fallback="") or filename,
        shot_code=shot_code,
        asset_id=asset_id,
        note=(metadata.get("note") or "")[:2000],
        sha256=sha256,
    )


def upload_create(*, actor, project: Project, length: int | None, metadata_header: str | None) -> Upload:
    """tus creation: reserve the upload (and its asset version, status uploading) before any byte."""
    require(actor, Action.FOOTAGE_UPLOAD, project)
    metadata = parse_metadata(metadata_header)
    wanted = _upload_request(project, metadata)
    if length is not None:
        if length < 0:
            raise UploadError(400, "Upload-Length must be a whole number of bytes.")
        if length == 0:
            raise UploadError(400, "This file is empty (0 bytes): there is nothing to upload.")
    return atomic_with_retry(lambda: _upload_reserve(actor, project, wanted, metadata, length))


def _upload_reserve(actor, project: Project, wanted, metadata: dict, length: int | None) -> Upload:
    """The reservation, one transaction: the project's quota lock, then the rows, then the audit chain."""
    project = Project.objects.select_for_update(no_key=True).select_related("studio").get(pk=project.pk)
    # Checked under the project's lock, so two uploads started together cannot both fit the last gigabyte.
    _check_size(project, length or 0)
    if wanted.asset_id is not None:
        asset = Asset.objects.select_for_update().get(pk=wanted.asset_id)
    else:
        asset = Asset(project=project, name=wanted.name, kind=wanted.kind, shot_code=wanted.shot_code, created_by=actor)
        asset.full_clean()
        asset.save()
    number = (asset.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    version = AssetVersion.objects.create(
        asset=asset,
        number=number,
        status=AssetVersion.Status.UPLOADING,
        original_name=wanted.filename,
        size=length,
        note=wanted.note,
        uploaded_by=actor,
    )
    upload = Upload(
        project=project,
        user=actor,
        version=version,
        length=length,
        metadata={**metadata, "filename": wanted.filename, "sha256": wanted.sha256},
        expires_at=timezone.now() + timedelta(hours=settings.TUS_EXPIRY_HOURS),
    )
    upload.part_key = f"{storage.studio_prefix(project.studio_id)}/uploads/{upload.pk}/part"
    upload.save()
    record(
        action="footage.upload.start",
        actor=actor,
        project=project,
        target=version,
        details={
            "upload": str(upload.pk),
            "asset": asset.pk,
            "version": number,
            "length": length,
            "filename": wanted.filename,
            "kind": asset.kind,
        },
    )
    publish_on_commit(project.pk, "asset.changed", {"asset": asset.pk, "version": version.pk, "status": version.status})
    return upload


def upload_lookup(actor, upload_id) -> Upload | None:
    """The actor's own upload (with its project and studio, for the policy), or None: an upload URL is
    worthless to anyone else, and a terminated upload is gone. The tus view's scope (access.scope) finds
    it here and asks the policy once per request."""
    if not getattr(actor, "is_authenticated", False):
        return None
    upload = Upload.objects.select_related("project__studio", "version__asset").filter(pk=upload_id, user_id=actor.pk).first()
    if upload is None or upload.status == Upload.Status.TERMINATED:
        return None
    return upload


def upload_for(actor, upload_id) -> Upload:
    """The actor's own upload, or 404, for a caller that holds only its id (the tus view resolves its
    scope instead, through access.scope)."""
    upload = upload_lookup(actor, upload_id)
    if upload is None:
        raise UploadError(404, "No such upload.")
    # Lost membership or a suspended studio: the upload is gone for them too.
    require(actor, Action.PROJECT_VIEW, upload.project)
    return upload


def upload_head(*, actor, upload: Upload) -> Upload:
    """`upload`: the actor's own, already checked (upload_for, or the tus view's scope)."""
    if upload.is_expired:
        raise UploadError(410, "This upload expired; start it again.")
    return upload


def parse_checksum(header: str | None) -> tuple[str, bytes] | None:
    if not header:
        return None
    algorithm, _, value = header.strip().partition(" ")
    if algorithm.lower() not in settings.TUS_CHECKSUM_ALGORITHMS:
        raise UploadError(400, f"Checksum algorithm “{algorithm}” is not supported; use sha256.")
    try:
        return algorithm.lower(), base64.b64decode(value.strip(), validate=True)
    except binascii.Error as exc:
        raise UploadError(400, "Upload-Checksum is not base64.") from exc


def upload_patch(
    *, actor, upload: Upload, offset: int, body: BinaryIO, checksum: tuple[str, bytes] | None, length: int | None = None
) -> Upload:
    """Append one chunk. Exactly one of two concurrent PATCHes at the same offset wins: each takes
    a lease with a compare-and-set on (offset, lease); the loser gets 409.

    `upload` is the actor's own and checked for footage.upload once, by the tus view's scope (the
    resolver in access.scope): a chunk asks for its upload and the policy once, not three times."""
    if upload.status == Upload.Status.COMPLETE:
        raise UploadError(409 if offset != upload.offset else 403, "This upload is already complete.")
    if upload.is_expired:
        raise UploadError(410, "This upload expired; start it again.")
    if length is not None:
        upload = _set_deferred_length(upload, length)
    if offset != upload.offset:
        raise UploadError(409, f"Upload-Offset {offset} does not match the upload's offset {upload.offset}.")
    token = secrets.token_hex(16)
    now = timezone.now()
    claimed = (
        Upload.objects.filter(pk=upload.pk, offset=offset, status=Upload.Status.ACTIVE)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_token=token, lease_until=now + timedelta(seconds=settings.TUS_LEASE_SECONDS))
    )
    if not claimed:
        upload.refresh_from_db(fields=["offset", "status"])
        if upload.offset != offset:
            raise UploadError(409, f"Upload-Offset {offset} does not match the upload's offset {upload.offset}.")
        raise UploadError(409, "Another request is writing to this upload right now; retry with HEAD.")
    try:
        with _quota_lock(upload):
            written = _write_within_room(upload, body, offset=offset, checksum=checksum, now=now)
            upload = _chunk_written(upload, token, offset + written)
    except BaseException:
        Upload.objects.filter(pk=upload.pk, lease_token=token).update(lease_token="", lease_until=None)
        raise
    return upload


@contextmanager
def _quota_lock(upload: Upload):
    """A deferred-length upload has promised no size: each chunk is measured against the quota, under the
    project's lock that upload creation takes too, until its new offset is committed; so four chunks
    sent at once cannot each find the same last megabytes free. A declared length was checked (and
    counted) when the upload was created: its chunks need no lock."""
    if upload.length is not None:
        yield
        return
    with transaction.atomic():
        Project.objects.select_for_update(no_key=True).filter(pk=upload.project_id).first()
        yield


def _write_within_room(upload: Upload, body: BinaryIO, *, offset: int, checksum, now) -> int:
    if upload.length is not None and offset == 0 and upload.created_at <= now - idle_release():
        # Its promise lapsed while it wrote nothing: the studio may have used the room since.
        _check_size(upload.project, upload.length, upload=upload)
    if upload.length is not None:
        room = upload.length - offset
    else:
        # Deferred length: the chunk may not take the upload past the size limit or the quota.
        room = min(
            settings.FOOTAGE_MAX_FILE_SIZE - offset,
            upload.project.studio.storage_quota_bytes
            - studio_bytes_committed(upload.project.studio_id, excluding_upload=upload)
            - offset,
        )
    try:
        return partstore.write_chunk(upload, body, offset=offset, limit=max(room, 0), checksum=checksum)
    except partstore.ChunkTooLarge as exc:
        if upload.length is not None:
            raise UploadError(413, "This chunk goes past the upload's declared length.") from exc
        raise UploadError(413, "This upload would go past the largest file size or the studio's quota.") from exc
    except partstore.ChunkChecksumMismatch as exc:
        raise UploadError(460, "Checksum mismatch: the chunk was not stored; send it again.") from exc


def _chunk_written(upload: Upload, token: str, new_offset: int) -> Upload:
    with transaction.atomic():
        done = upload.length is not None and new_offset >= upload.length
        updated = Upload.objects.filter(pk=upload.pk, lease_token=token).update(
            offset=new_offset,
            lease_token="",
            lease_until=None,
            status=Upload.Status.COMPLETE if done else Upload.Status.ACTIVE,
            completed_at=timezone.now() if done else None,
        )
        if not updated:  # our lease ran out and someone else took over: their write wins
            raise UploadError(409, "This chunk took too long and was overtaken; retry with HEAD.")
        upload.refresh_from_db()
        if done:
            _upload_completed(upload)
    return upload


def _set_deferred_length(upload: Upload, length: int) -> Upload:
    if upload.length is not None:
        if upload.length != length:
            raise UploadError(400, "Upload-Length cannot change once it is set.")
        return upload
    if length < upload.offset or length == 0:
        raise UploadError(400, "Upload-Length is smaller than what was already sent.")
    with transaction.atomic():
        project = Project.objects.select_for_update(no_key=True).select_related("studio").get(pk=upload.project_id)
        _check_size(project, length, upload=upload)
        Upload.objects.filter(pk=upload.pk, length__isnull=True).update(length=length)
        AssetVersion.objects.filter(pk=upload.version_id).update(size=length)
    upload.refresh_from_db()
    return upload


def _upload_completed(upload: Upload) -> None:
    version = AssetVersion.objects.select_for_update().get(pk=upload.version_id)
    version.status = AssetVersion.Status.PROCESSING
    version.size = upload.length
    version.ingest_dispatched_at = timezone.now()
    version.save(update_fields=["status", "size", "ingest_dispatched_at"])
    record(
        action="footage.upload.complete",
        actor=upload.user,
        project=upload.project,
        target=version,
        details={"upload": str(upload.pk), "length": upload.length},
    )
    publish_on_commit(
        upload.project_id, "asset.changed", {"asset": version.asset_id, "version": version.pk, "status": version.status}
    )
    jobs.enqueue_on_commit(INGEST, version.pk)


def upload_terminate(*, actor, upload: Upload) -> None:
    """tus termination: the client gives up; every stored byte goes, and the empty version with it.
    `upload`: the actor's own, already checked (upload_for, or the tus view's scope)."""
    if upload.status == Upload.Status.COMPLETE:
        raise UploadError(403, "This upload is complete and being processed; it can no longer be cancelled.")
    _discard_upload(upload, actor=actor, reason="terminated")


def _discard_upload(upload: Upload, *, actor, reason: str) -> None:
    with transaction.atomic():
        locked = Upload.objects.select_for_update().filter(pk=upload.pk, status=Upload.Status.ACTIVE).first()
        if locked is None:
            return
        locked.status = Upload.Status.TERMINATED
        locked.save(update_fields=["status"])
        # Lock order: the version and its asset (deleted below) before record() takes the chain head.
        version = AssetVersion.objects.select_for_update().select_related("asset").filter(pk=locked.version_id).first()
        details = {"upload": str(locked.pk), "offset": locked.offset, "length": locked.length, "reason": reason}
        record(action=f"footage.upload.{reason}", actor=actor, project=upload.project, target=version or locked, details=details)
        if version is not None and version.status == AssetVersion.Status.UPLOADING:
            asset = version.asset
            version.delete()
            if not asset.versions.exists():
                asset.delete()
            publish_on_commit(upload.project_id, "asset.changed", {"asset": asset.pk, "status": "removed"})
        transaction.on_commit(lambda: partstore.delete(locked))


def uploads_expire(*, now=None) -> int:
    """Periodic: drop uploads past their expiry (and their bytes). Returns how many went."""
    now = now or timezone.now()
    expired = list(
        Upload.objects.select_related("project__studio").filter(status=Upload.Status.ACTIVE, expires_at__lte=now)[:500]
    )
    for upload in expired:
        _discard_upload(upload, actor=None, reason="expired")
    return len(expired)


# --- ingest -----------------------------------------------------------------------------------


INGEST = "ingest"
REDERIVE = "rederive"


def _claim_for_ingest(version_id: int) -> tuple[AssetVersion, jobs.Claim] | None:
    """The job engine's compare-and-set, so a redelivered task never ingests a version twice at once
    or again; a version out of attempts is rejected instead (`_ingest_give_up`)."""
    job = jobs.claim(INGEST, version_id)
    if job is None:
        return None
    version = AssetVersion.objects.select_related("asset__project__studio").get(pk=version_id)
    return version, job


def _ingest_give_up(version_id: int, now) -> bool:
    """A version that killed its worker (or timed out) FOOTAGE_INGEST_MAX_ATTEMPTS times: rejected."""
    with transaction.atomic():
        version = (
            # of=self: the version alone (h6's lock order: never the project or studio rows here).
            AssetVersion.objects.select_for_update(of=("self",))
            .select_related("asset__project__studio")
            .filter(pk=version_id, ingest_attempts__gte=settings.FOOTAGE_INGEST_MAX_ATTEMPTS)
            .filter(jobs.handler(INGEST).claimable(now))
            .first()
        )
        if version is None:
            return False
        upload = Upload.objects.filter(version=version).first()
        _reject(version, "Processing this file failed repeatedly; upload it again or contact support.", upload=upload)
    return True


def ingest_scratch_sweep() -> int:
    """The ingest job's part of the recovery pass: scratch folders of killed workers on this machine
    (ingests no longer running, and any scratch folder, a re-derivation's, older than the longest a
    task may run). One small function, so other clean-ups of killed ingests can hook in here."""
    return _sweep_scratch(older_than=UNLEASED_SCRATCH_SECONDS)


def _reject(version: AssetVersion, reason: str, *, upload: Upload | None = None) -> None:
    """Mark rejected with the reason the user will read; keep no byte of the file."""
    version.status = AssetVersion.Status.REJECTED
    version.reject_reason = reason
    keys = [version.file_key, version.proxy_key, version.poster_key, version.filmstrip_key, version.waveform_key]
    version.file_key = version.proxy_key = version.poster_key = version.filmstrip_key = version.waveform_key = ""
    version.save()
    record(
        action="footage.ingest.rejected",
        actor=None,
        project=version.asset.project,
        target=version,
        details={"reason": reason},
    )
    publish_on_commit(
        version.asset.project_id,
        "asset.changed",
        {"asset": version.asset_id, "version": version.pk, "status": version.status, "reason": reason},
    )
    # Whatever step it failed in, nothing of it stays: the keys it recorded and anything an
    # interrupted attempt stored under its folder without recording it (the original is moved into
    # place before the derivatives are made).
    folder = storage.version_folder(version)
    transaction.on_commit(lambda: storage.delete_quietly(*keys))
    transaction.on_commit(lambda: storage.delete_folder(folder))
    if upload is not None:
        transaction.on_commit(lambda: partstore.delete(upload))
    transaction.on_commit(lambda: _sweep_scratch(version.pk))


def version_ingest(*, version_id: int) -> AssetVersion | None:
    """Verify, probe, store and derive: turns an uploaded file into something the browser plays.
    Called by the ingest task; safe to call twice (the claim makes the second a no-op)."""
    from studio_tools.media import MediaRejected, parse_subtitles, probe, sha256_file
    from studio_tools.media.sandbox import ProcessFailed

    claimed = _claim_for_ingest(version_id)
    if claimed is None:
        return None
    version, job = claimed
    # We hold the lease: scratch folders of this version are an earlier attempt's, whose worker died.
    _sweep_scratch(version.pk)
    upload = Upload.objects.select_related("project__studio").filter(version=version).first()
    workdir = Path(tempfile.mkdtemp(prefix=f"ingest-{version.pk}-", dir=settings.FOOTAGE_TEMP_DIR))
    try:
        if upload is None:
            raise RuntimeError(f"version {version.pk} has no upload to ingest")
        file_key = storage.version_key(version, "original")
        local = partstore.materialize(upload, workdir)
        if storage.is_local() and not local.exists() and storage.default_storage.exists(file_key):
            # A worker died after moving the part into place: this retry picks up from there.
            local = Path(storage.default_storage.path(file_key))
        size = local.stat().st_size
        digest = sha256_file(local)
        expected = (upload.metadata or {}).get("sha256")
        if size != upload.length:
            with transaction.atomic():
                _reject(
                    version, f"The file arrived incomplete ({size} of {upload.length} bytes); upload it again.", upload=upload
                )
            return version
        if expected and expected != digest:
            with transaction.atomic():
                _reject(
                    version,
                    "The file's SHA-256 does not match the one given at upload: it was damaged on the way.",
                    upload=upload,
                )
            return version
        media = None
        try:
            if version.asset.kind == Asset.Kind.SUBTITLES:
                cues = parse_subtitles(local, filename=version.original_name or "subtitles.srt")
                info = {"kind": "subtitles", "cues": len(cues), "duration": cues[-1].end if cues else 0.0}
            else:
                media = probe(local, filename=version.original_name or None)
                info = media.to_dict()
        except MediaRejected as exc:
            with transaction.atomic():
                _reject(version, exc.reason, upload=upload)
            return version
        job.renew()
        # Local storage: the part file moves into place (no copy); object storage: it is uploaded.
        storage.move_local_into(file_key, local)
        local_original = storage.local_path_or_copy(file_key, workdir, "original") if storage.is_local() else local
        version.media_info = info
        try:
            derived = _make_derivatives(version, media, local_original, workdir, renew=job.renew) if media is not None else {}
        except MediaRejected as exc:  # accepted by the probe, but a derivative came out missing or short
            with transaction.atomic():
                _reject(version, exc.reason, upload=upload)
            return version
        except ProcessFailed as exc:
            if _is_our_fault(exc):
                raise
            # ffmpeg read the probe's header but failed decoding the file itself: reading it again
            # would fail again, so this is the file's answer, not a reason to retry.
            log.warning("ingest of version %s: ffmpeg failed on the file: %s", version.pk, exc)
            with transaction.atomic():
                _reject(
                    version,
                    "This file could not be decoded through to the end: it is probably truncated or damaged. "
                    "Export it again and upload that.",
                    upload=upload,
                )
            return version
        version_id = version.pk

        def mark_ready() -> AssetVersion | None:
            # of=self: the version alone; joining its asset, project and studio FOR UPDATE would queue every
            # upload of the project (and every audited write referencing the studio) behind this claim.
            version = (
                AssetVersion.objects.select_for_update(of=("self",)).select_related("asset__project__studio").get(pk=version_id)
            )
            if version.ingest_claim_token != job.token or version.status != AssetVersion.Status.PROCESSING:
                # Our lease lapsed and another worker took the version over (or it was given up): theirs wins.
                log.warning("ingest of version %s lost its claim; this worker stops", version.pk)
                return None
            version.sha256 = digest
            version.size = size
            version.media_info = info
            version.file_key = file_key
            for field, value in derived.items():
                setattr(version, field, value)
            version.status = AssetVersion.Status.READY
            version.ready_at = timezone.now()
            version.ingest_lease_until = None
            version.ingest_claim_token = ""
            version.save()
            record(
                action="footage.ingest.ready",
                actor=None,
                project=version.asset.project,
                target=version,
                details={"sha256": digest, "size": size, "kind": info.get("kind"), "duration": info.get("duration")},
            )
            publish_on_commit(
                version.asset.project_id,
                "asset.ready",
                {"asset": version.asset_id, "version": version.pk, "status": version.status},
            )
            webhook_events.asset_ready(version)
            return version

        # Only database writes in here: a deadlock or serialization failure runs them again.
        version = atomic_with_retry(mark_ready)
        if version is None:
            return None
        if upload is not None:
            partstore.delete(upload)
        return version
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _make_derivatives(version: AssetVersion, media, source: Path, workdir: Path, *, renew=None) -> dict:
    """Proxy, poster, filmstrip, waveform (whichever the media has), each stored under the
    version's keys. Returns the fields to set on the version, `media_info` among them: the probe's
    description (the version's own, or `media`'s) with what was made added under "proxy" (how it was
    made: remuxed or encoded, and its rate, frame count and size, read back from it) and "waveform"
    (made, or why not). Calls `renew` (an ingest's claim renewal) every 30 s as it goes, so a long
    transcode is not mistaken for a dead worker. A step that yields nothing, or a proxy short of its
    frames, raises MediaRejected."""
    from studio_tools.media import make_filmstrip, make_poster, make_review_proxy, make_waveform

    last_renewal = [time.monotonic()]

    def progress(_fraction: float) -> None:
        if renew is not None and time.monotonic() - last_renewal[0] > 30:
            last_renewal[0] = time.monotonic()
            renew()

    out: dict = {}
    info = dict(version.media_info or media.to_dict())
    # Generated media is watchable before a producer approves it, but only with the label burned in.
    label = None if version.is_released else GENERATED_LABEL

    def keep(field: str, name: str) -> None:
        out[field] = storage.save_file(storage.version_key(version, name), workdir / name)

    if media.kind == "video":
        proxy = make_review_proxy(source, workdir / "proxy.mp4", media, progress=progress, burn_in=label)
        keep("proxy_key", "proxy.mp4")
        info["proxy"] = proxy.to_dict()
        make_poster(source, workdir / "poster.jpg", media, burn_in=label)
        keep("poster_key", "poster.jpg")
        if label is None:  # unlabelled thumbnails of unapproved generated frames would slip past the gate
            strip = make_filmstrip(source, workdir / "filmstrip.jpg", media)
            keep("filmstrip_key", "filmstrip.jpg")
            out["filmstrip_times"] = list(strip.times)
    elif media.kind == "still":
        proxy = make_review_proxy(source, workdir / "proxy.jpg", media, burn_in=label)
        keep("proxy_key", "proxy.jpg")
        info["proxy"] = proxy.to_dict()
        make_poster(source, workdir / "poster.jpg", media, burn_in=label)
        keep("poster_key", "poster.jpg")
    elif media.kind == "audio":
        proxy = make_review_proxy(source, workdir / "proxy.m4a", media, progress=progress)
        keep("proxy_key", "proxy.m4a")
        info["proxy"] = proxy.to_dict()
    if media.has_audio:
        make_waveform(source, workdir / "waveform.png", media)
        keep("waveform_key", "waveform.png")
        info["waveform"] = {"made": True, "reason": ""}
    else:
        out["waveform_key"] = ""
        info["waveform"] = {"made": False, "reason": "no audio"}
    out["media_info"] = info
    return out


def _is_our_fault(exc) -> bool:
    """ffmpeg failures that say nothing about the file: worth another attempt, not a rejection."""
    text = (getattr(exc, "stderr", "") or "").lower()
    return any(sign in text for sign in ("no space left on device", "cannot allocate memory", "resource temporarily"))


# Scratch in FOOTAGE_TEMP_DIR is named after its job: "ingest-<version>-*" (leased in the database),
# "rederive-<version>-*" and "character-*" (no lease: bounded by their task's or request's limits),
# and the tus chunk spools "tus-chunk-*" (files).
_LEASED_PREFIX = "ingest-"
_UNLEASED_PREFIXES = ("rederive-", "character-", "tus-chunk-")
# Unleased scratch older than this belongs to no live job: longer than a re-derivation may run (3 h).
UNLEASED_SCRATCH_SECONDS = 4 * 3600


def _sweep_scratch(version_id: int | None = None, *, older_than: float | None = None) -> int:
    """Remove scratch a killed worker or server left in FOOTAGE_TEMP_DIR (its `finally` never ran).

    With `version_id`: that version's ingest folders (the caller holds its lease or it is done, so
    none is in use). Without: every ingest folder whose version holds no live ingest lease (however
    young: a live ingest claims its lease before it makes its folder), and unleased scratch last
    touched more than `older_than` seconds ago. An ingest under a live lease keeps its folder however
    old it is: a long transcode renews its lease, not its folder's time. Returns how many went."""
    root = Path(settings.FOOTAGE_TEMP_DIR)
    if not root.is_dir():
        return 0
    ingests: dict[int, list[Path]] = {}
    unleased: list[Path] = []
    for entry in root.iterdir():
        if entry.name.startswith(_LEASED_PREFIX) and entry.is_dir():
            number = entry.name.split("-")[1]
            if number.isdigit() and (version_id is None or int(number) == version_id):
                ingests.setdefault(int(number), []).append(entry)
        elif version_id is None and older_than is not None and entry.name.startswith(_UNLEASED_PREFIXES):
            unleased.append(entry)
    if version_id is None and ingests:
        live = set(
            AssetVersion.objects.filter(
                pk__in=list(ingests), status=AssetVersion.Status.PROCESSING, ingest_lease_until__gt=timezone.now()
            ).values_list("pk", flat=True)
        )
        ingests = {pk: folders for pk, folders in ingests.items() if pk not in live}
    now = time.time()
    stale = [folder for folders in ingests.values() for folder in folders]
    for entry in unleased:
        try:
            if now - entry.stat().st_mtime > older_than:
                stale.append(entry)
        except FileNotFoundError:  # its job ended while we looked
            continue
    for entry in stale:
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
    return len(stale)


def version_rederive(*, version_id: int) -> AssetVersion | None:
    """Make the browser derivatives again from the stored original: after a producer approves a
    generated plate, its proxy and poster lose the "not approved" label (and it gets a filmstrip)."""
    from studio_tools.media import probe

    version = AssetVersion.objects.select_related("asset__project__studio").filter(pk=version_id).first()
    if version is None or version.status != AssetVersion.Status.READY or not version.file_key:
        return None
    workdir = Path(tempfile.mkdtemp(prefix=f"rederive-{version.pk}-", dir=settings.FOOTAGE_TEMP_DIR))
    try:
        source = storage.local_path_or_copy(version.file_key, workdir, "original")
        media = probe(source, filename=version.original_name or None)
        old_keys = {version.proxy_key, version.poster_key, version.filmstrip_key, version.waveform_key}
        fields = _make_derivatives(version, media, source, workdir)
        with transaction.atomic():
            locked = AssetVersion.objects.select_for_update().get(pk=version.pk)
            for field, value in fields.items():
                setattr(locked, field, value)
            locked.save(update_fields=list(fields))
            record(
                action="footage.rederive",
                actor=None,
                project=version.asset.project,
                target=locked,
                details={"fields": sorted(fields)},
            )
            publish_on_commit(
                version.asset.project_id,
                "asset.changed",
                {"asset": version.asset_id, "version": version.pk, "status": locked.status},
            )
        stale = old_keys - {value for value in fields.values() if isinstance(value, str)}
        storage.delete_quietly(*[k for k in stale if k])
        return locked
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def version_fail_ingest(*, version_id: int, reason: str) -> None:
    """The ingest job gave up (time limit, worker lost too often): the user sees why."""

    def fail() -> None:
        version = (
            # of=self: the version alone; joining its asset, project and studio FOR UPDATE would queue every
            # upload of the project (and every audited write referencing the studio) behind this claim.
            AssetVersion.objects.select_for_update(of=("self",))
            .select_related("asset__project__studio")
            .filter(pk=version_id, status=AssetVersion.Status.PROCESSING)
            .first()
        )
        if version is not None:
            upload = Upload.objects.filter(version=version).first()
            _reject(version, reason, upload=upload)

    atomic_with_retry(fail)


def download_record(*, actor, version: AssetVersion, what: str) -> None:
    """Every download and every stream start is on the record (called by the authorizing views)."""
    record(
        action=f"footage.{what}",
        actor=actor,
        project=version.asset.project,
        target=version,
        details={"asset": version.asset_id, "version": version.number},
    )


# --- generated versions (tool outputs) --------------------------------------------------------


def generated_assets_lock(*, project_id: int, asset_ids) -> dict[int, Asset]:
    """Lock the generated assets of this project that new versions are about to stack on (FOR UPDATE,
    in id order, so two runs stacking on the same outputs wait for each other instead of deadlocking),
    inside the caller's transaction and before any version row: the house lock order (domain rows,
    asset before version, then the audit chain). Assets of another project, or not generated, are left
    out: the caller makes new assets for those outputs."""
    ids = sorted({int(i) for i in asset_ids})
    if not ids:
        return {}
    rows = Asset.objects.select_for_update().filter(pk__in=ids, project_id=project_id, kind=Asset.Kind.GENERATED).order_by("pk")
    return {asset.pk: asset for asset in rows}


def generated_version_create(
    *,
    project_id: int,
    name: str,
    created_by,
    original_name: str,
    size: int,
    media_info: dict,
    provenance: dict,
    asset_id: int | None = None,
) -> AssetVersion:
    """A tool's output becomes a generated version with its provenance: version 1 of a new generated
    asset, or, with `asset_id` (an earlier run's output of the same name), the next version of that
    asset. Its status is uploading (nothing else in the portal processes those) until
    `generated_version_ready`; the storage keys exist from here, so `generated_version_store` can put
    the bytes under them. Called inside the caller's transaction (the tool run's), which decides
    whether the row stays. The asset row is locked (FOR UPDATE) before its versions are counted, so
    two runs stacking on one asset at once get v2 and v3, never two v2s (the caller locks several
    assets at once, in order, with `generated_assets_lock`)."""
    if asset_id is not None:
        asset = Asset.objects.select_for_update().filter(pk=asset_id, project_id=project_id, kind=Asset.Kind.GENERATED).first()
        if asset is None:
            raise ValueError(f"generated asset {asset_id} is not in project {project_id}")
        number = (asset.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    else:
        asset = Asset(project_id=project_id, name=name[:200], kind=Asset.Kind.GENERATED, created_by=created_by)
        asset.full_clean()
        asset.save()
        number = 1
    return AssetVersion.objects.create(
        asset=asset,
        number=number,
        status=AssetVersion.Status.UPLOADING,
        original_name=original_name,
        size=size,
        media_info=media_info,
        provenance=provenance,
        uploaded_by=created_by,
    )


def generated_version_store(*, version: AssetVersion, path: Path, media, scratch: Path) -> dict:
    """Store the output's bytes (and, for media, the same derivatives as uploaded footage: proxy,
    poster, filmstrip, waveform, labelled while unapproved), outside any transaction. Returns the
    fields `generated_version_ready` sets; on failure the caller removes what was stored with
    `version_files_delete`."""
    from studio_tools.media import sha256_file

    fields = {"sha256": sha256_file(path), "file_key": storage.save_file(storage.version_key(version, "original"), path)}
    if media is not None:
        folder = scratch / str(version.pk)
        folder.mkdir(parents=True, exist_ok=True)
        fields.update(_make_derivatives(version, media, path, folder))
    return fields


def download_blocker(version: AssetVersion) -> str:
    """Why this version's original cannot be downloaded now, in words that say what happens next
    (read from the row review stamps: approval and content credentials)."""
    if version.release_hold == "signing":
        return _("Approved: the content credentials are being signed. The original can be downloaded in a moment.")
    if version.release_hold == "signing_failed":
        return _("Approved, but signing the content credentials failed (%(reason)s). Ask platform staff.") % {
            "reason": version.release_note
        }
    state = version.approval_state
    if state == "rejected":
        return _("This generated plate was rejected in review: its original cannot be downloaded.")
    if state == "changes_requested":
        return _(
            "Changes were requested on this generated plate: its original can be downloaded once a producer approves a version."
        )
    producers = [
        m.user.full_name or m.user.email
        for m in ProjectMembership.objects.filter(
            project_id=version.asset.project_id, role=ProjectMembership.Role.PRODUCER
        ).select_related("user")
    ]
    if producers:
        return _(
            "This generated plate is awaiting approval by a producer of the project (%(who)s): until then only its "
            "labelled proxy can be watched."
        ) % {"who": ", ".join(sorted(producers))}
    return _(
        "This generated plate is awaiting a producer's approval, and the project has no producer yet: until then only "
        "its labelled proxy can be watched."
    )


def generated_version_ready(*, version: AssetVersion, fields: dict, now) -> None:
    """The stored output is ready (inside the caller's transaction, with the run's success)."""
    AssetVersion.objects.filter(pk=version.pk).update(status=AssetVersion.Status.READY, ready_at=now, **fields)
    publish_on_commit(
        version.asset.project_id, "asset.ready", {"asset": version.asset_id, "version": version.pk, "status": "ready"}
    )
    webhook_events.asset_ready(version, project=version.asset.project)


def version_files_delete(version: AssetVersion) -> None:
    """Every stored file under the version's folder (an interrupted output's bytes)."""
    prefix = storage.version_key(version, "").rstrip("/")
    try:
        _dirs, files = storage.default_storage.listdir(prefix)
    except (FileNotFoundError, NotADirectoryError):
        return
    storage.delete_quietly(*(f"{prefix}/{name}" for name in files))


def generated_version_discard(*, version: AssetVersion) -> None:
    """An output that never became ready (its worker died while storing it): row, asset if it has no
    other version, and bytes go (the bytes once the transaction commits)."""
    asset = version.asset
    project_id = asset.project_id
    version.delete()
    if not asset.versions.exists():
        asset.delete()
    transaction.on_commit(lambda: version_files_delete(version))
    publish_on_commit(project_id, "asset.changed", {"asset": asset.pk, "status": "removed"})


# --- the jobs ---------------------------------------------------------------------------------


def _ingest_job(version_id: int) -> None:
    from celery.exceptions import SoftTimeLimitExceeded

    try:
        version_ingest(version_id=version_id)
    except SoftTimeLimitExceeded:
        version_fail_ingest(version_id=version_id, reason="Processing took longer than the portal allows.")
        raise


INGEST_JOB = jobs.Handler(
    kind=INGEST,
    execute=_ingest_job,
    soft_time_limit=jobs.from_settings("FOOTAGE_INGEST_SOFT_TIME_LIMIT"),
    time_limit=jobs.from_settings("FOOTAGE_INGEST_TIME_LIMIT"),
    model=AssetVersion,
    waiting=AssetVersion.Status.PROCESSING,
    running=AssetVersion.Status.PROCESSING,
    token_field="ingest_claim_token",
    lease_field="ingest_lease_until",
    attempts_field="ingest_attempts",
    dispatched_field="ingest_dispatched_at",
    lease_seconds=jobs.from_settings("FOOTAGE_INGEST_LEASE_SECONDS"),
    max_attempts=jobs.from_settings("FOOTAGE_INGEST_MAX_ATTEMPTS"),
    # a message younger than a lease may still be on its way to a worker
    redispatch_seconds=jobs.from_settings("FOOTAGE_INGEST_LEASE_SECONDS"),
    end=_ingest_give_up,
    sweep=ingest_scratch_sweep,
)
# Re-derivation keeps no claim: it is made again from the stored original, so a double is harmless.
REDERIVE_JOB = jobs.Handler(
    kind=REDERIVE,
    execute=lambda version_id: version_rederive(version_id=version_id),
    soft_time_limit=jobs.from_settings("FOOTAGE_INGEST_SOFT_TIME_LIMIT"),
    time_limit=jobs.from_settings("FOOTAGE_INGEST_TIME_LIMIT"),
)
