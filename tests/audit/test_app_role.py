"""The application's runtime role cannot rewrite the audit log (hardening finding 5, PostgreSQL).

The probe found the app's role owned the table, so it could DISABLE TRIGGER, DROP TRIGGER or
TRUNCATE. `manage.py grant_app_role` gives a role that is not the owner read/write on the portal's
tables and only SELECT and INSERT on the audit log; this test connects as such a role.
"""

from __future__ import annotations

import uuid
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from portal.audit.services import record
from tests.factories import make_studio

pytestmark = [
    pytest.mark.services,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only: the embedded SQLite default has no roles"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def app_role():
    role = f"portal_app_{uuid.uuid4().hex[:8]}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {role} LOGIN")
    yield role
    with connection.cursor() as cursor:
        cursor.execute(f"DROP OWNED BY {role}")
        cursor.execute(f"DROP ROLE {role}")


def _connect_as(role: str):
    import psycopg

    settings = connection.settings_dict
    return psycopg.connect(
        host=settings["HOST"] or "127.0.0.1", port=settings["PORT"] or 5432, dbname=settings["NAME"], user=role, autocommit=True
    )


def test_the_runtime_role_may_only_read_and_append_the_audit_log(app_role):
    studio = make_studio("Role Studio", "role-studio")
    record(action="test.before", studio=studio)
    out = StringIO()
    call_command("grant_app_role", app_role, stdout=out)
    assert "SELECT and INSERT only" in out.getvalue()
    with _connect_as(app_role) as conn:
        cur = conn.cursor()
        cur.execute("SELECT count(*) FROM audit_auditevent")
        assert cur.fetchone()[0] >= 2
        cur.execute("UPDATE studios_studio SET name = name")  # ordinary tables: read/write
        for attack in (
            "ALTER TABLE audit_auditevent DISABLE TRIGGER ALL",
            "ALTER TABLE audit_auditevent DISABLE TRIGGER audit_event_no_update_delete",
            "DROP TRIGGER audit_event_no_update_delete ON audit_auditevent",
            "TRUNCATE audit_auditevent",
            "DELETE FROM audit_auditevent",
            "UPDATE audit_auditevent SET action = 'x'",
        ):
            with pytest.raises(Exception) as refused:  # noqa: B017 - psycopg's errors differ per statement
                cur.execute(attack)
            assert "permission denied" in str(refused.value) or "must be owner" in str(refused.value), attack


def test_grant_app_role_refuses_a_role_that_does_not_exist_or_is_a_superuser(app_role):
    with pytest.raises(CommandError, match="no database role"):
        call_command("grant_app_role", "no_such_role_here", stdout=StringIO())
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        superuser = cursor.fetchone()[0]
    with pytest.raises(CommandError, match="superuser|owns the tables"):
        call_command("grant_app_role", superuser, stdout=StringIO())
