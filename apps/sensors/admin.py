"""Sensor sources and hot lists in the admin site, for each agency's administrators.

Sources are registered with `manage.py sensor_source_add` (the secret is shown
once, there); here they can be renamed, moved or disabled, never read for their secret.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from apps.accounts.admin_site import AgencyScopedAdmin
from apps.sensors.models import Alert, HotList, SensorSource


@admin.register(SensorSource)
class SensorSourceAdmin(AgencyScopedAdmin):
    list_display = ("name", "kind", "enabled", "last_seen_at", "silent_since")
    list_filter = ("kind", "enabled")
    search_fields = ("name", "key")
    fields = ("name", "kind", "key", "latitude", "longitude", "camera", "enabled", "silence_alert_seconds",
              "last_seen_at", "silent_since")
    readonly_fields = ("kind", "key", "last_seen_at", "silent_since")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # made by `manage.py sensor_source_add`, which shows the secret once


@admin.register(HotList)
class HotListAdmin(AgencyScopedAdmin):
    list_display = ("name", "kind", "priority", "enabled", "expires_at")
    list_filter = ("kind", "enabled")
    search_fields = ("name",)
    readonly_fields = ("owner",)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not change:
            obj.owner = request.user
        super().save_model(request, obj, form, change)


@admin.register(Alert)
class AlertAdmin(AgencyScopedAdmin):
    """Read-only: alerts are verified through the API, where the reason and the push follow."""

    list_display = ("id", "kind", "state", "priority", "received_at", "source")
    list_filter = ("kind", "state")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
