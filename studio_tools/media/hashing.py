"""Content hashes: provenance and approvals name exact bytes, so this reads every one of them."""

from __future__ import annotations

import hashlib
import os

DEFAULT_CHUNK = 8 * 1024 * 1024


def sha256_file(path: str | os.PathLike[str], chunk: int = DEFAULT_CHUNK) -> str:
    """Hex SHA-256 of the file, read in `chunk`-byte blocks so memory stays flat for any size."""
    if chunk <= 0:
        raise ValueError("chunk must be positive")
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()
