"""Admin registration for CAD type mappings: data administrators maintain per agency.

The admin site is not routed (see rtcc_server/urls.py); this registration is
ready for when it is. Calls themselves are not registered: every read of one
must go through apps.calls.selectors, which audits it.
"""

from __future__ import annotations

from django.contrib import admin

from apps.calls.models import CadTypeMapping


@admin.register(CadTypeMapping)
class CadTypeMappingAdmin(admin.ModelAdmin):
    list_display = ("agency", "code", "description", "category", "priority")
    list_filter = ("agency", "category")
    search_fields = ("code", "description")
    ordering = ("agency", "code")
