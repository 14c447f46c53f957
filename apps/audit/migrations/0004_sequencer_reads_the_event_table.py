"""The sequencer finds committed rows in the event table itself, by the transaction that wrote them,
and the queue table goes (docs/audit.md, "Sequencing"): each audited action is one row written, not
a row and a queue entry written and then deleted.

On PostgreSQL the event table gains `txid` (xid8, the writing transaction, filled by the column's
default) and its index. Adding a column with a volatile default rewrites the table once, under
the ALTER's exclusive lock, giving existing rows this migration's transaction id; the sequencer
then starts its reading from the first queued event, as every row before it is placed.

The actor's foreign key loses its database constraint and its own index: the constraint's check
locked the user's row on every audited action, and the (actor, at) index serves look-ups by actor.
Django still refuses to delete a user with audit events (on_delete=PROTECT).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

TXID_PG = """
ALTER TABLE audit_auditevent ADD COLUMN txid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX audit_auditevent_txid ON audit_auditevent (txid);
"""

DROP_TXID_PG = """
DROP INDEX IF EXISTS audit_auditevent_txid;
ALTER TABLE audit_auditevent DROP COLUMN IF EXISTS txid;
"""


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TXID_PG, params=None)
    # Every event below the first queued one is placed (the queue held exactly the committed, unplaced
    # rows, and the ALTER above waited for every writer to commit), and new ids are all larger.
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT min(event_id) - 1 FROM audit_auditpending")
        after = cursor.fetchone()[0]
        if after is None:
            cursor.execute("SELECT coalesce(max(id), 0) FROM audit_auditevent")
            after = cursor.fetchone()[0]
    apps.get_model("audit", "AuditLogHead").objects.filter(pk=1).update(after_id=after)


def backwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("INSERT INTO audit_auditpending (event_id, at) SELECT e.id, e.at FROM audit_auditevent e "
                       "WHERE NOT EXISTS (SELECT 1 FROM audit_auditleaf l WHERE l.event_id = e.id)")
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_TXID_PG, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ("audit", "0003_merkle_log"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="auditloghead",
            name="after_id",
            field=models.BigIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="auditloghead",
            name="seen_snapshot",
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name="auditloghead",
            name="target_snapshot",
            field=models.TextField(blank=True),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="actor",
            field=models.ForeignKey(db_constraint=False, db_index=False, null=True,
                                    on_delete=django.db.models.deletion.PROTECT, related_name="+",
                                    to=settings.AUTH_USER_MODEL),
        ),
        migrations.RunPython(forwards, backwards),
        migrations.DeleteModel(
            name="AuditPending",
        ),
    ]
