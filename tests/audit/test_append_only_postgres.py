"""On PostgreSQL the audit tables refuse UPDATE and DELETE, whoever asks (migrations 0002 and 0003)."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from apps.audit.models import AuditCheckpoint, AuditEvent, AuditLeaf
from apps.audit.services import audit_log_sequence, audit_record
from tests.base import World

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="PostgreSQL only: SQLite has no append-only trigger; the Merkle log guards it (tests/audit/test_verify.py)",
)


@pytest.fixture
def event(world: World) -> AuditEvent:
    return audit_record(actor=world.omar, action=AuditEvent.Action.READ, obj=world.case)


def test_a_raw_update_of_an_audit_row_is_refused(event: AuditEvent) -> None:
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET actor_username = %s WHERE id = %s", ["someone-else", event.pk])

    event.refresh_from_db()
    assert event.actor_username == "omar"


def test_a_raw_delete_of_an_audit_row_is_refused(event: AuditEvent) -> None:
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [event.pk])

    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_the_orm_cannot_edit_or_delete_audit_rows_either(event: AuditEvent) -> None:
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(detail={"forged": True})
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.all().delete()

    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_the_trigger_is_installed_and_enabled(db: None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgenabled FROM pg_trigger WHERE tgname = 'audit_auditevent_append_only' "
            "AND tgrelid = 'audit_auditevent'::regclass"
        )
        assert cursor.fetchall() == [("O",)]


@pytest.mark.parametrize("model", [AuditLeaf, AuditCheckpoint], ids=["log positions", "checkpoints"])
def test_the_log_and_its_checkpoints_refuse_edits_too(event: AuditEvent, model: type) -> None:
    audit_log_sequence(checkpoint=True)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        model.objects.all().delete()  # type: ignore[attr-defined]

    assert model.objects.exists()  # type: ignore[attr-defined]


def test_the_log_verifies_on_postgresql(event: AuditEvent) -> None:
    audit_log_sequence(checkpoint=True)
    call_command("audit_verify", verbosity=0)
