from __future__ import annotations

from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    """One row of the append-only audit trail.

    Rows form a hash chain: `hash` covers this row's content and `prev_hash`,
    the hash of the row before it, so editing or deleting any row breaks every
    link after it (`manage.py audit_verify` names the first). On PostgreSQL a
    trigger refuses UPDATE and DELETE outright (migration 0002).
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
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
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
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["actor", "at"]),
            models.Index(fields=["object_type", "object_id"]),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_username} {self.action} {self.object_type}:{self.object_id}"
