"""Agreements, organisations, teams, members and on-call rosters, kept by an agency's administrators.

An administrator sees the organisations their agency has an agreement with. Referrals are
shown read-only, without the health notes or the Part 2 notes.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.accounts.admin_site import AdministratorOnlyAdmin, AgencyScopedAdmin, ReadOnlyAdmin
from apps.referrals.models import Agreement, Member, OnCallShift, Organisation, Referral, Team


@admin.register(Agreement)
class AgreementAdmin(AgencyScopedAdmin):
    list_display = ("organisation", "starts_on", "ends_on", "officers_read_notes_after_close")


class PartnerAdmin(AdministratorOnlyAdmin):
    """Rows of the organisations the administrator's agency works with; every change audited."""

    organisation_path = "organisation"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        agency_id = getattr(request.user, "agency_id", None)
        prefix = f"{self.organisation_path}__" if self.organisation_path else ""
        lookup = f"{prefix}agreements__agency_id"
        return super().get_queryset(request).filter(**{lookup: agency_id}).distinct()


@admin.register(Organisation)
class OrganisationAdmin(PartnerAdmin):
    organisation_path = ""
    list_display = ("name", "kind", "callback_number")


@admin.register(Team)
class TeamAdmin(PartnerAdmin):
    list_display = ("name", "organisation", "responder_kind")


@admin.register(Member)
class MemberAdmin(PartnerAdmin):
    list_display = ("user", "organisation", "team", "is_coordinator")


@admin.register(OnCallShift)
class OnCallShiftAdmin(PartnerAdmin):
    organisation_path = "team__organisation"
    list_display = ("user", "team", "starts_at", "ends_at", "rank")


@admin.register(Referral)
class ReferralAdmin(ReadOnlyAdmin, AgencyScopedAdmin):
    list_display = ("pk", "call", "organisation", "state", "outcome", "created_at")
    list_filter = ("state", "outcome")
    # Never the notes: the health side keeps those (and Part 2 notes go nowhere).
    exclude = ("agency", "health_notes", "part2_notes")  # type: ignore[assignment]
