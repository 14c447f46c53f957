"""CAD type mappings: data each agency's administrator maintains in the admin site.

Calls themselves are not registered: every read of one goes through
apps.calls.selectors, which audits it.
"""

from __future__ import annotations

from django.contrib import admin

from apps.accounts.admin_site import AgencyScopedAdmin
from apps.calls.models import CadTypeMapping


@admin.register(CadTypeMapping)
class CadTypeMappingAdmin(AgencyScopedAdmin):
    list_display = ("code", "description", "category", "priority")
    list_filter = ("category", "priority")
    search_fields = ("code", "description")
    ordering = ("code",)
