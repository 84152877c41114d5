"""Audit rows are never updated or deleted: the model refuses, and on PostgreSQL the database
refuses too (so not even raw SQL from the application rewrites history)."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.models import ProtectedError

from portal.audit.models import AppendOnlyError, AuditEvent
from portal.audit.services import record
from portal.audit.verify import verify_all
from tests.audit.conftest import IS_POSTGRES, TRIGGER
from tests.factories import make_studio


@pytest.fixture
def event(db):
    studio = make_studio("Append Only", "append-only")
    return record(action="test.original", studio=studio, details={"kept": True})


def assert_untouched(event: AuditEvent) -> None:
    fresh = AuditEvent.objects.get(pk=event.pk)
    assert fresh.action == "test.original"
    assert fresh.details == {"kept": True}
    assert fresh.hash == event.hash
    assert verify_all()[1] is None


def test_saving_an_existing_row_is_refused(event):
    event.action = "test.rewritten"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.get(pk=event.pk).save(update_fields=["action"])
    event.action = "test.original"
    assert_untouched(event)


def test_deleting_a_row_is_refused(event):
    with pytest.raises(AppendOnlyError):
        event.delete()
    assert_untouched(event)


def test_queryset_update_is_refused(event):
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(action="test.rewritten")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().update(details={})
    assert_untouched(event)


def test_queryset_delete_is_refused(event):
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()
    assert_untouched(event)


def test_a_studio_or_person_with_an_audit_trail_cannot_be_deleted(world):
    """Deleting them would cascade into the log; PROTECT refuses instead."""
    with pytest.raises(ProtectedError):
        world.a.studio.delete()
    with pytest.raises(ProtectedError):
        world.a.users["studio_admin"].delete()
    assert AuditEvent.objects.filter(studio=world.a.studio).exists()
    assert verify_all()[1] is None


if IS_POSTGRES:

    def test_postgres_trigger_refuses_raw_update_and_delete(event):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT tgenabled FROM pg_trigger WHERE tgname = %s AND tgrelid = 'audit_auditevent'::regclass",
                [TRIGGER],
            )
            assert cursor.fetchone() == ("O",)  # present and enabled
        with pytest.raises(DatabaseError, match="append-only: UPDATE refused"):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("UPDATE audit_auditevent SET action = 'test.rewritten' WHERE id = %s", [event.pk])
        with pytest.raises(DatabaseError, match="append-only: DELETE refused"):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [event.pk])
        with pytest.raises(DatabaseError, match="append-only"):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("DELETE FROM audit_auditevent")
        assert_untouched(event)

else:

    def test_sqlite_relies_on_the_model_refusing_every_orm_write(event):
        """SQLite has no trigger: every ORM path that could rewrite a row must be refused."""
        assert connection.vendor == "sqlite"
        with connection.cursor() as cursor:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_auditevent'")
            assert cursor.fetchall() == []
        for attempt in (
            lambda: AuditEvent.objects.filter(pk=event.pk).update(action="x"),
            lambda: AuditEvent.objects.filter(pk=event.pk).delete(),
            lambda: AuditEvent.objects.get(pk=event.pk).delete(),
            lambda: AuditEvent.objects.bulk_update([AuditEvent.objects.get(pk=event.pk)], ["action"]),
        ):
            with pytest.raises(AppendOnlyError), transaction.atomic():
                attempt()
        assert_untouched(event)
