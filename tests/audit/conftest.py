"""Helpers for the audit tests: a small chain to tamper with, and raw-SQL tampering that goes
around the model's refusal (and, on PostgreSQL, around the trigger, like a DBA with owner
rights would)."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from django.db import connection

from portal.audit.models import AuditEvent
from portal.audit.services import chain_for, record
from tests.factories import make_studio

TRIGGER = "audit_event_no_update_delete"
IS_POSTGRES = connection.vendor == "postgresql"


@contextmanager
def owner_rights():
    """On PostgreSQL, switch the append-only trigger off for the block (and back on after)."""
    with connection.cursor() as cursor:
        if IS_POSTGRES:
            # The test's transaction has deferred FK checks queued; ALTER TABLE wants them run first.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"ALTER TABLE audit_auditevent DISABLE TRIGGER {TRIGGER}")
        try:
            yield cursor
        finally:
            if IS_POSTGRES:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cursor.execute(f"ALTER TABLE audit_auditevent ENABLE TRIGGER {TRIGGER}")
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def _column_and_param(name: str, value):
    field = AuditEvent._meta.get_field(name)
    return field.column, field.get_db_prep_value(value, connection, prepared=False)


def raw_update(event_id: int, **values) -> None:
    """UPDATE one audit row behind the ORM's back."""
    sets, params = [], []
    for name, value in values.items():
        column, param = _column_and_param(name, value)
        sets.append(f"{connection.ops.quote_name(column)} = %s")
        params.append(param)
    with owner_rights() as cursor:
        cursor.execute(f"UPDATE audit_auditevent SET {', '.join(sets)} WHERE id = %s", [*params, event_id])
        assert cursor.rowcount == 1


def raw_delete(event_id: int) -> None:
    with owner_rights() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [event_id])
        assert cursor.rowcount == 1


CONTENT_FIELDS = ["action", "details", "target_type", "target_id", "target_repr", "actor_email"]
ALL_BUT_ID = [f.name for f in AuditEvent._meta.concrete_fields if f.name != "id"]


def field_values(event: AuditEvent, names) -> dict:
    return {name: getattr(event, AuditEvent._meta.get_field(name).attname) for name in names}


@pytest.fixture
def chain(db):
    """A studio whose chain holds 7 rows (seq 1 is studio.create); returns (studio, rows by seq)."""
    studio = make_studio("Chain Studio", "chain-studio")
    for i in range(2, 8):
        record(
            action=f"test.step{i}", studio=studio, details={"step": i, "note": f"row {i}"}, actor_email=f"person{i}@chain.test"
        )
    rows = list(AuditEvent.objects.filter(chain=chain_for(studio.pk)).order_by("seq"))
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5, 6, 7]
    return studio, rows
