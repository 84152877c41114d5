"""Gives the application's runtime database role what it needs and no more (PostgreSQL).

Run as the tables' owner (the role migrations run as), after every migrate:

    manage.py grant_app_role portal_app

The runtime role may read and write the portal's tables, but on the audit log only SELECT and INSERT:
it cannot UPDATE, DELETE, TRUNCATE, and, not being the owner, cannot DISABLE or DROP the trigger
either. The chain heads it may update (appending moves them). Future tables made by the owner get
the same rights (ALTER DEFAULT PRIVILEGES), so a new migration does not lock the portal out.
"""

from __future__ import annotations

import os

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

AUDIT_TABLE = "audit_auditevent"


class Command(BaseCommand):
    help = "Grant the runtime database role the portal's rights: insert-only on the audit log (PostgreSQL)."

    def add_arguments(self, parser):
        parser.add_argument("role", help="the runtime role (must exist and must not own the tables)")
        parser.add_argument(
            "--create",
            action="store_true",
            help="create the role (LOGIN, password from $APP_DB_PASSWORD) when it does not exist yet",
        )

    def handle(self, *args, role: str, create: bool = False, **options):
        if connection.vendor != "postgresql":
            raise CommandError("grant_app_role is for PostgreSQL; the embedded SQLite default has no roles")
        quoted = connection.ops.quote_name(role)
        with connection.cursor() as cursor:
            cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", [role])
            found = cursor.fetchone()
            if found is None and create:
                password = os.environ.get("APP_DB_PASSWORD", "")
                if not password:
                    raise CommandError("--create needs the new role's password in APP_DB_PASSWORD")
                cursor.execute(f"CREATE ROLE {quoted} LOGIN PASSWORD %s", [password])
                found = (False,)
            if found is None:
                raise CommandError(f"no database role {role!r}: create it first (CREATE ROLE {role} LOGIN PASSWORD ...)")
            if found[0]:
                raise CommandError(f"{role!r} is a superuser: the runtime role must be an ordinary role")
            cursor.execute("SELECT tableowner FROM pg_tables WHERE tablename = %s", [AUDIT_TABLE])
            owner = cursor.fetchone()
            if owner and owner[0] == role:
                raise CommandError(f"{role!r} owns the tables: run migrations as another role and grant {role!r} here")
            cursor.execute("SELECT current_schema()")
            schema = connection.ops.quote_name(cursor.fetchone()[0])
            statements = [
                f"GRANT USAGE ON SCHEMA {schema} TO {quoted}",
                f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {quoted}",
                f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {quoted}",
                f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {quoted}",
                f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT USAGE, SELECT ON SEQUENCES TO {quoted}",
                f"REVOKE ALL ON {AUDIT_TABLE} FROM {quoted}",
                f"GRANT SELECT, INSERT ON {AUDIT_TABLE} TO {quoted}",
            ]
            for statement in statements:
                cursor.execute(statement)
        self.stdout.write(
            self.style.SUCCESS(f"{role}: read/write on the portal's tables, SELECT and INSERT only on {AUDIT_TABLE}")
        )
