"""A rewrite of the whole chain by someone with write access to the table (hardening finding 5).

The probe deleted a row and re-hashed every later row with the application's own hash function, and
moved the chain head: `verify_audit` said "intact". Now the hash is keyed (HMAC with a key outside the
database) and each chain's head is also written outside the database at intervals (anchors).
"""

from __future__ import annotations

import hashlib
import json
from io import StringIO

import pytest
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command

from portal.audit import anchors
from portal.audit.models import AuditChainHead, AuditEvent
from tests.audit.conftest import raw_delete, raw_update


@pytest.fixture(autouse=True)
def _anchor_folder(settings, tmp_path):
    settings.AUDIT_ANCHOR_DIR = str(tmp_path / "anchors")


def _rebuild_after_deleting(rows, victim: int, digest) -> None:
    """Delete rows[victim], then rebuild every later link with `digest(row) -> hash` and move the head."""
    raw_delete(rows[victim].id)
    prev = rows[victim - 1].hash
    for seq, row in enumerate(rows[victim + 1 :], start=rows[victim].seq):
        row.seq, row.prev_hash = seq, prev
        row.hash = digest(row)
        raw_update(row.id, seq=row.seq, prev_hash=row.prev_hash, hash=row.hash)
        prev = row.hash
    AuditChainHead.objects.filter(chain=rows[0].chain).update(last_seq=rows[-1].seq - 1, last_hash=prev)


def _verify() -> str:
    with pytest.raises(CommandError) as excinfo:
        call_command("verify_audit", stdout=StringIO())
    return str(excinfo.value)


def test_a_rebuilt_chain_without_the_key_does_not_verify(chain):
    _studio, rows = chain

    def unkeyed(row):  # what the application's function was: sha256 over the payload
        blob = json.dumps(row.payload(), sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()

    _rebuild_after_deleting(rows, 3, unkeyed)
    message = _verify()
    assert "seq 4" in message and "content changed" in message


def test_a_rebuilt_chain_with_the_key_is_caught_by_the_anchor_written_before(chain):
    _studio, rows = chain
    assert anchors.anchor_heads() >= 1  # the periodic task ran after seq 7
    _rebuild_after_deleting(rows, 3, lambda row: row.compute_hash())
    # every row verifies on its own now: only the anchor outside the database knows better
    message = _verify()
    assert "anchor written outside the database" in message


def test_a_deleted_tail_is_caught_by_the_anchor_even_with_the_head_moved(chain):
    _studio, rows = chain
    anchors.anchor_heads()
    raw_delete(rows[-1].id)
    AuditChainHead.objects.filter(chain=rows[0].chain).update(last_seq=rows[-2].seq, last_hash=rows[-2].hash)
    message = _verify()
    assert "ends at seq 6" in message and "saw seq 7" in message


def test_a_forged_anchor_is_refused(chain, settings):
    _studio, rows = chain
    anchors.anchor_heads()
    storage = anchors._storage()
    key = anchors._key(rows[0].chain)
    with storage.open(key, "rb") as handle:
        data = json.loads(handle.read())
    data["seq"] = 3  # someone with write access to the anchors, but not the key
    storage.delete(key)
    storage.save(key, ContentFile(json.dumps(data).encode()))
    assert "signature" in _verify()


def test_an_intact_chain_verifies_with_its_anchors(chain):
    anchors.anchor_heads()
    out = StringIO()
    call_command("verify_audit", stdout=out)
    assert "intact" in out.getvalue()
    assert AuditEvent.objects.count() >= 7
