"""The one file hash: copying and hashing in one pass agrees with hashing the file, and the core's
`file_sha256` is the same hash."""

from __future__ import annotations

import hashlib
import io

import pytest

from studio_tools.core import Cancelled, file_sha256
from studio_tools.media.hashing import sha256_copy, sha256_file


def test_copy_and_hash_in_one_pass_matches_the_file_hash(tmp_path):
    data = bytes(range(256)) * 4099
    target = tmp_path / "copy.bin"
    calls = []
    digest = sha256_copy(io.BytesIO(data), target, chunk=1000, between_chunks=lambda: calls.append(1))
    assert digest == hashlib.sha256(data).hexdigest() == sha256_file(target) == file_sha256(target, chunk_size=7)
    assert target.read_bytes() == data and len(calls) == -(-len(data) // 1000)


def test_a_cancel_between_chunks_stops_the_copy(tmp_path):
    def cancel():
        raise Cancelled()

    with pytest.raises(Cancelled):
        sha256_copy(io.BytesIO(b"x" * 5000), tmp_path / "copy.bin", chunk=1000, between_chunks=cancel)
    assert (tmp_path / "copy.bin").stat().st_size == 1000
