"""Reading emergencies: the agency's officers, supervisors and analysts see them; nobody else does (404)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from apps.accounts.models import User
from apps.accounts.policy import AGENCY_ROLES
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from apps.common.errors import NotFound
from apps.emergencies.models import Emergency


def emergencies_visible_to(*, user: User) -> QuerySet[Emergency]:
    # Everyone who may be sent one (officers, analysts, supervisors): it is where a colleague needs help.
    if user.role not in AGENCY_ROLES or user.agency_id is None or not user.is_active:
        return Emergency.objects.none()
    return Emergency.objects.filter(agency_id=user.agency_id).select_related("unit", "officer")


def emergency_list_for_user(*, user: User, open_only: bool = True, ip: str | None = None) -> list[Emergency]:
    found = emergencies_visible_to(user=user)
    if open_only:
        found = found.filter(closed_at__isnull=True)
    emergencies = list(found.order_by("-raised_at", "-id")[:100])
    audit_record(actor=user, action=AuditEvent.Action.READ, object_type=Emergency._meta.label_lower,
                 objects=emergencies, ip=ip, detail={"open_only": open_only})
    return emergencies


def emergency_get_for_user(*, user: User, emergency_id: int, ip: str | None = None) -> Emergency:
    emergency = emergencies_visible_to(user=user).prefetch_related("steps").filter(pk=emergency_id).first()
    if emergency is None:
        raise NotFound("Emergency not found.", code="emergency_not_found")
    audit_record(actor=user, action=AuditEvent.Action.READ, obj=emergency, ip=ip)
    return emergency


def incident_officers(call_id: int) -> QuerySet[Any]:
    """The officer whose open emergency this call is the incident of, as a query of ids (apps.calls asks)."""
    return Emergency.objects.filter(call_id=call_id, closed_at__isnull=True).values("officer_id")
