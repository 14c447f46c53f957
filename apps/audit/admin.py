"""The audit log's health on the admin site: how far it goes, what waits, and the alarm.

Read-only and counts only (no event content): the trail itself is the auditors' (GET /api/v1/audit).
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from apps.accounts.admin_site import ReadOnlyAdmin
from apps.accounts.policy import is_administrator
from apps.audit.models import AuditLogHead
from apps.audit.selectors import LogHealth, audit_log_health


@admin.register(AuditLogHead)
class AuditLogStateAdmin(ReadOnlyAdmin):
    list_display = ("state", "size", "unsequenced", "oldest_unsequenced_at", "sequencer", "last_checkpoint_at")
    list_display_links = None

    def _health(self) -> LogHealth:
        return audit_log_health()

    @admin.display(description="state")
    def state(self, obj: AuditLogHead) -> str:
        return "ALARM: rows wait to be sequenced, or checkpoints stopped" if self._health().alarm else "ok"

    @admin.display(description="rows waiting for the sequencer")
    def unsequenced(self, obj: AuditLogHead) -> int:
        return self._health().unsequenced

    @admin.display(description="oldest waiting row written at")
    def oldest_unsequenced_at(self, obj: AuditLogHead) -> object:
        return self._health().oldest_unsequenced_at or "-"

    @admin.display(description="sequencer holding the lease")
    def sequencer(self, obj: AuditLogHead) -> str:
        return obj.holder or "-"

    @admin.display(description="last signed checkpoint")
    def last_checkpoint_at(self, obj: AuditLogHead) -> object:
        return obj.checkpointed_at or "-"

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_administrator(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self.has_module_permission(request)
