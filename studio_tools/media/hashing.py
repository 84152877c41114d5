"""Content hashes: provenance and approvals name exact bytes, so this reads every one of them.

The one file hash of the project: the tools' provenance, the command line's report and the portal
(ingest, tool-run inputs and outputs) all hash through here.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from typing import BinaryIO

DEFAULT_CHUNK = 8 * 1024 * 1024


def sha256_file(path: str | os.PathLike[str], chunk: int = DEFAULT_CHUNK) -> str:
    """Hex SHA-256 of the file, read in `chunk`-byte blocks so memory stays flat for any size."""
    if chunk <= 0:
        raise ValueError("chunk must be positive")
    with open(path, "rb") as f:
        return _digest(f, chunk)


def sha256_copy(
    source: BinaryIO,
    target: str | os.PathLike[str],
    chunk: int = DEFAULT_CHUNK,
    *,
    between_chunks: Callable[[], None] | None = None,
) -> str:
    """Copy an open binary stream to the file `target` and return the hex SHA-256 of what was copied,
    in one pass. `between_chunks` runs after each block (e.g. a cancel check that raises)."""
    if chunk <= 0:
        raise ValueError("chunk must be positive")
    with open(target, "wb") as out:
        return _digest(source, chunk, out.write, between_chunks)


def _digest(
    source: BinaryIO,
    chunk: int,
    sink: Callable[[bytes], object] | None = None,
    between_chunks: Callable[[], None] | None = None,
) -> str:
    digest = hashlib.sha256()
    while block := source.read(chunk):
        digest.update(block)
        if sink is not None:
            sink(block)
        if between_chunks is not None:
            between_chunks()
    return digest.hexdigest()
