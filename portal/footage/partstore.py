"""Where the bytes of an unfinished tus upload go, chunk by chunk, streaming.

- Local storage: one part file, each PATCH written at its offset (a failed chunk is cut off
  again, so the file always ends at the recorded offset).
- Object storage (S3): objects cannot be appended to, so each accepted PATCH becomes one chunk
  object named by its offset; ingest streams them back in order into one file.
Callers hold the upload's lease (see services.upload_patch), so only one writer runs at a time."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.core.files.storage import default_storage

from portal.footage import storage

READ_SIZE = 1024 * 1024


class ChunkTooLarge(Exception):
    """The body went past the declared length (or the limit): nothing of it was kept."""


class ChunkChecksumMismatch(Exception):
    """Upload-Checksum did not match the body: nothing of it was kept."""


def _copy_limited(source: BinaryIO, target: BinaryIO, limit: int, hasher) -> int:
    written = 0
    while True:
        block = source.read(READ_SIZE)
        if not block:
            return written
        written += len(block)
        if written > limit:
            raise ChunkTooLarge()
        if hasher is not None:
            hasher.update(block)
        target.write(block)


def write_chunk(upload, body: BinaryIO, *, offset: int, limit: int, checksum: tuple[str, bytes] | None) -> int:
    """Append the request body at `offset`; returns how many bytes were kept. On any error the
    stored data is exactly as it was (ending at `offset`)."""
    hasher = hashlib.new(checksum[0]) if checksum else None
    if storage.is_local():
        path = Path(default_storage.path(upload.part_key))
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab") as _:  # create if missing, without truncating
            pass
        with open(path, "r+b") as handle:
            handle.truncate(offset)  # drop bytes of an earlier request that failed half-way
            handle.seek(offset)
            try:
                written = _copy_limited(body, handle, limit, hasher)
                if hasher is not None and hasher.digest() != checksum[1]:
                    raise ChunkChecksumMismatch()
                handle.flush()
                os.fsync(handle.fileno())
            except BaseException:
                handle.truncate(offset)
                raise
        return written
    # Object storage: spool the chunk, check it, then store it as its own object.
    with tempfile.NamedTemporaryFile(dir=settings.FOOTAGE_TEMP_DIR, prefix="tus-chunk-") as spool:
        written = _copy_limited(body, spool, limit, hasher)
        if hasher is not None and hasher.digest() != checksum[1]:
            raise ChunkChecksumMismatch()
        if written:
            spool.flush()
            storage.save_file(f"{storage.upload_prefix(upload)}/chunk-{offset:016d}", spool.name)
    return written


def _chunk_keys(upload) -> list[tuple[int, str]]:
    prefix = storage.upload_prefix(upload)
    try:
        _dirs, files = default_storage.listdir(prefix)
    except FileNotFoundError:
        return []
    chunks = []
    for name in files:
        if name.startswith("chunk-"):
            chunks.append((int(name.removeprefix("chunk-")), f"{prefix}/{name}"))
    return sorted(chunks)


def materialize(upload, workdir: str | os.PathLike) -> Path:
    """A local file holding the whole upload: the part file itself on local storage, else the
    chunks concatenated into workdir."""
    if storage.is_local():
        return Path(default_storage.path(upload.part_key))
    target = Path(workdir) / "original"
    expected = 0
    with open(target, "wb") as out:
        for offset, key in _chunk_keys(upload):
            if offset != expected:
                raise OSError(f"upload {upload.pk}: chunk at {offset} where {expected} was expected")
            with default_storage.open(key, "rb") as chunk:
                shutil.copyfileobj(chunk, out, 8 * 1024 * 1024)
            expected = out.tell()
    return target


def delete(upload) -> None:
    """Remove every stored byte of the upload (idempotent)."""
    if storage.is_local():
        storage.delete_quietly(upload.part_key)
        try:
            Path(default_storage.path(upload.part_key)).parent.rmdir()
        except OSError:
            pass
        return
    storage.delete_quietly(*(key for _offset, key in _chunk_keys(upload)))
