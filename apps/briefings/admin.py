"""Co-responder recommendation rules, also editable by analysts and supervisors through the API."""

from __future__ import annotations

from django.contrib import admin

from apps.accounts.admin_site import AgencyScopedAdmin
from apps.briefings.models import RecommendationRule


@admin.register(RecommendationRule)
class RecommendationRuleAdmin(AgencyScopedAdmin):
    list_display = ("name", "responder", "enabled")
    list_filter = ("responder", "enabled")
