"""Where footage lives. Keys are built here from ids only, under a per-studio prefix; nothing a
user typed ever reaches a key. Works on any django-storages backend: local folders on the
embedded default, an S3-compatible bucket in services mode."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import BinaryIO

from django.core.files import File
from django.core.files.storage import default_storage


def studio_prefix(studio_id: int) -> str:
    return f"studios/{int(studio_id)}"


def version_key(version, name: str) -> str:
    """Key of a file belonging to an asset version. `name` is one of ours (original, proxy.mp4...)."""
    asset = version.asset
    project = asset.project
    return f"{studio_prefix(project.studio_id)}/projects/{project.pk}/assets/{asset.pk}/v{version.number}/{name}"


def upload_prefix(upload) -> str:
    return f"{studio_prefix(upload.project.studio_id)}/uploads/{upload.pk}"


def is_local() -> bool:
    """True when the default storage is a folder on this machine (it can give a path)."""
    try:
        default_storage.path("probe")
    except NotImplementedError:
        return False
    return True


def save_file(key: str, local_path: str | os.PathLike) -> str:
    """Store a local file at exactly `key` (replacing what was there: keys are unique per version)."""
    if default_storage.exists(key):
        default_storage.delete(key)
    with open(local_path, "rb") as handle:
        saved = default_storage.save(key, File(handle, name=os.path.basename(key)))
    if saved != key:  # a backend that renamed the file would break our key scheme: fail loudly
        default_storage.delete(saved)
        raise RuntimeError(f"storage saved {key!r} as {saved!r}")
    return saved


def move_local_into(key: str, local_path: str | os.PathLike) -> str:
    """Store a local file at `key`, moving it when the storage is local (no copy of a 50 GiB file)."""
    if is_local():
        target = Path(default_storage.path(key))
        if Path(local_path).resolve() == target.resolve():
            return key
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(os.fspath(local_path), target)
        return key
    return save_file(key, local_path)


def open_file(key: str, mode: str = "rb") -> BinaryIO:
    return default_storage.open(key, mode)


def download_to(key: str, local_path: str | os.PathLike, chunk_size: int = 8 * 1024 * 1024) -> Path:
    """Copy a stored file to a local path, streaming."""
    local_path = Path(local_path)
    local_path.parent.mkdir(parents=True, exist_ok=True)
    with default_storage.open(key, "rb") as source, open(local_path, "wb") as target:
        shutil.copyfileobj(source, target, chunk_size)
    return local_path


def local_path_or_copy(key: str, workdir: str | os.PathLike, name: str) -> Path:
    """A local path to read the stored file from: the file itself on local storage, else a copy in workdir."""
    if is_local():
        return Path(default_storage.path(key))
    return download_to(key, Path(workdir) / name)


def delete_quietly(*keys: str) -> None:
    for key in keys:
        if key:
            try:
                default_storage.delete(key)
            except FileNotFoundError:
                pass


def size_of(key: str) -> int:
    return default_storage.size(key)


def signed_url(key: str, *, filename: str | None = None, attachment: bool = False, content_type: str | None = None) -> str:
    """A short-lived URL (S3 only: settings keep it at 15 minutes) with the headers we want."""
    params = {}
    if attachment and filename:
        params["ResponseContentDisposition"] = _content_disposition(filename, attachment=True)
    if content_type:
        params["ResponseContentType"] = content_type
    return default_storage.url(key, parameters=params or None)


def _content_disposition(filename: str, *, attachment: bool) -> str:
    from django.utils.http import content_disposition_header

    return content_disposition_header(attachment, filename)


def version_folder(version) -> str:
    """The folder holding every file of one asset version (original and derivatives)."""
    return version_key(version, "").rstrip("/")


def delete_folder(prefix: str) -> None:
    """Delete every stored file under `prefix` (a folder of ours, e.g. `version_folder`), on any backend."""
    if not prefix or not prefix.startswith("studios/"):
        raise ValueError(f"refusing to delete outside the studios' folders: {prefix!r}")
    try:
        folders, files = default_storage.listdir(prefix)
    except FileNotFoundError:
        return
    for name in files:
        delete_quietly(f"{prefix}/{name}")
    for name in folders:
        delete_folder(f"{prefix}/{name}")
    if is_local():
        with contextlib.suppress(OSError):
            Path(default_storage.path(prefix)).rmdir()
