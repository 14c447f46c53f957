"""What the audit tests share: running audit_verify, and editing rows the way a database superuser could."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from io import StringIO

from django.core.management import call_command
from django.db import connection

APPEND_ONLY = {
    "audit_auditevent": "audit_auditevent_append_only",
    "audit_auditleaf": "audit_auditleaf_append_only",
    "audit_auditnode": "audit_auditnode_append_only",
    "audit_auditcheckpoint": "audit_auditcheckpoint_append_only",
}


def verify() -> str:
    out = StringIO()
    call_command("audit_verify", stdout=out, stderr=StringIO())
    return out.getvalue()


@contextmanager
def behind_the_apis_back(*tables: str) -> Iterator[None]:
    """What someone with a database prompt could do. On PostgreSQL that needs the triggers switched off first."""
    if connection.vendor != "postgresql":
        yield
        return
    tables = tables or ("audit_auditevent",)
    with connection.cursor() as cursor:
        # Pending deferred FK checks on the table would make ALTER TABLE refuse; run them now.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for table in tables:
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {APPEND_ONLY[table]}")
        try:
            yield
        finally:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for table in tables:
                cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {APPEND_ONLY[table]}")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
