"""Migration 0004: chains written with the old unkeyed hash are checked, then re-hashed with the key;
a chain that does not verify is refused, never laundered."""

from __future__ import annotations

import hashlib
import importlib
import json
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import connection

from portal.audit.models import AuditChainHead
from portal.audit.verify import verify_all
from tests.audit.conftest import raw_update

migration = importlib.import_module("portal.audit.migrations.0004_keyed_chain")


def _to_legacy(rows) -> None:
    """Rewrite the chain as the previous release wrote it: sha256 over the payload, no key."""
    prev = "0" * 64
    for row in rows:
        row.prev_hash = prev
        blob = json.dumps(row.payload(), sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
        row.hash = hashlib.sha256(blob.encode()).hexdigest()
        raw_update(row.id, prev_hash=row.prev_hash, hash=row.hash)
        prev = row.hash
    AuditChainHead.objects.filter(chain=rows[0].chain).update(last_hash=prev)


def _migrate() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # the test's transaction has deferred FK checks queued
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    migration.rehash(apps, SimpleNamespace(connection=connection))


def test_a_legacy_chain_is_rehashed_with_the_key(chain):
    _studio, rows = chain
    _to_legacy(rows)
    assert verify_all()[1] is not None  # the keyed verifier does not accept the old hashes
    _migrate()
    assert verify_all()[1] is None


def test_a_tampered_legacy_chain_stops_the_migration(chain):
    _studio, rows = chain
    _to_legacy(rows)
    raw_update(rows[2].id, action="test.tampered")
    with pytest.raises(RuntimeError, match="does not verify at seq 3"):
        _migrate()
