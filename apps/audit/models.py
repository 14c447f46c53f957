from __future__ import annotations

from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    """One row of the append-only audit trail (docs/audit.md).

    `hash` covers this row's own content, so a writer needs nothing from any other row and waits
    for no one. The sequencer later gives each committed row its place in a Merkle tree
    (`AuditLeaf`) and signs the tree's root (`AuditCheckpoint`); `manage.py audit_verify` names
    the first row edited, removed or moved. On PostgreSQL a trigger refuses UPDATE and DELETE
    outright (migration 0002), and a column the model does not list, `txid`, records the writing
    transaction (migration 0004) so the sequencer finds committed rows without a queue.
    """

    class Action(models.TextChoices):
        LOGIN_SUCCESS = "login.success"
        LOGIN_FAILURE = "login.failure"
        MFA_CHALLENGE = "login.mfa_challenge"
        MFA_FAILURE = "login.mfa_failure"
        MFA_ENROLLED = "login.mfa_enrolled"
        ACCOUNT_LOCKED = "account.locked"
        ACCOUNT_RELEASED = "account.released"
        ACCOUNT_DISABLED = "account.disabled"
        TOKEN_ISSUED = "token.issued"  # noqa: S105 (an action name, not a secret)
        TOKEN_REVOKED = "token.revoked"  # noqa: S105
        DEVICE_REVOKED = "device.revoked"
        READ = "read"
        SEARCH = "search"
        CREATE = "create"
        UPDATE = "update"
        DELETE = "delete"
        PERMISSION_GRANTED = "permission.granted"
        PERMISSION_REVOKED = "permission.revoked"
        AUDIT_READ = "audit.read"

    at = models.DateTimeField(db_index=True)
    # PROTECT is Django's, checked when a user is deleted. No database constraint and no index of its own:
    # the constraint's check locked the actor's row (FOR KEY SHARE) on every audited action, and
    # (actor, at) below serves every look-up by actor (docs/audit.md, "Writing").
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+",
                              db_constraint=False, db_index=False)
    # Kept as text as well, so a row still reads the same after a rename.
    actor_username = models.CharField(max_length=150, blank=True)
    agency_id_snapshot = models.BigIntegerField(null=True)
    action = models.CharField(max_length=32, choices=Action.choices)
    object_type = models.CharField(max_length=50, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    # Ids of every object a list or search returned; detail holds no case content.
    object_ids = models.JSONField(default=list)
    detail = models.JSONField(default=dict)
    ip = models.GenericIPAddressField(null=True)
    # Rows written before the Merkle log (migration 0003) were chained; their hash covers this link.
    prev_hash = models.CharField(max_length=64, blank=True, default="")
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["actor", "at"]),
            models.Index(fields=["object_type", "object_id"]),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_username} {self.action} {self.object_type}:{self.object_id}"


class AuditLeaf(models.Model):
    """Position `seq` of the log: which event is there and the leaf hash it was placed with.

    Its own table, so placing a row never updates the audited row. `event_id` is no foreign key:
    a deleted event is a fault for `audit_verify` to name, not a constraint to switch off.
    """

    seq = models.BigIntegerField(primary_key=True)
    event_id = models.BigIntegerField(unique=True)
    leaf_hash = models.CharField(max_length=64)
    sequenced_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"log position {self.seq}: event {self.event_id}"


class AuditNode(models.Model):
    """The hash of a complete subtree of two or more leaves: leaves [index * 2**level, (index+1) * 2**level).

    Stored once when complete and never changed, so any proof takes O(log n) look-ups.
    """

    level = models.PositiveSmallIntegerField()
    index = models.BigIntegerField()
    hash = models.CharField(max_length=64)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["level", "index"], name="audit_node_position")]

    def __str__(self) -> str:
        return f"subtree {self.level}/{self.index}"


class AuditLogHead(models.Model):
    """The one row that says how far the log goes, and which sequencer holds the lease.

    Sequencers take it FOR UPDATE SKIP LOCKED, so two of them never place the same batch; the lease
    keeps the stand-by one idle until the holder stops renewing it.
    """

    size = models.BigIntegerField(default=0)
    root_hash = models.CharField(max_length=64)
    # The complete subtrees the tree is made of, largest first: [[level, hex], ...].
    frontier = models.JSONField(default=list)
    holder = models.CharField(max_length=200, blank=True)
    lease_until = models.DateTimeField(null=True)
    sequenced_at = models.DateTimeField(null=True)
    checkpointed_at = models.DateTimeField(null=True)
    # How far the sequencer has read (docs/audit.md, "Sequencing"). PostgreSQL: every row whose
    # transaction this snapshot sees as finished is placed; `target_snapshot` is the one a batch
    # is working through, with `after_id` the last id it placed. SQLite: `after_id` is the largest
    # id placed (one writer at a time, so rows commit in id order).
    seen_snapshot = models.TextField(blank=True)
    target_snapshot = models.TextField(blank=True)
    after_id = models.BigIntegerField(default=0)
    # Set while a committed row has waited longer than AUDIT_UNSEQUENCED_ALARM_SECONDS.
    alarm_since = models.DateTimeField(null=True)

    class Meta:
        verbose_name = "audit log state"
        verbose_name_plural = "audit log state"

    def __str__(self) -> str:
        return f"audit log: {self.size} events"


class AuditCheckpoint(models.Model):
    """A signed statement of the log's size and root (the checkpoint note of docs/audit.md)."""

    tree_size = models.BigIntegerField()
    root_hash = models.CharField(max_length=64)
    signed_at = models.DateTimeField(db_index=True)
    origin = models.CharField(max_length=100)
    key_id = models.CharField(max_length=16)
    signature = models.CharField(max_length=100)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"checkpoint {self.pk}: {self.tree_size} events at {self.signed_at:%Y-%m-%d %H:%M:%S}"
