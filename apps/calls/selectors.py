"""Reads of calls for service. The only road to them, filtered by agency and role, and audited.

Officers, analysts and supervisors see their agency's calls. Co-responders,
administrators and auditors see none (a co-responder gets what a referral holds,
nothing more), and the CAD machine account reads only through the CAD endpoints
it writes with. What a user may not see answers "not found", never "forbidden".
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet

from apps.accounts.models import Agency, Role
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from apps.calls.models import Call, UnitAssignment
from apps.cases.models import Premise
from apps.cases.selectors import records_visible_to
from apps.common.errors import NotFound
from apps.common.pagination import Page, keyset_page

CALL_READ_ROLES = frozenset({Role.OFFICER, Role.ANALYST, Role.SUPERVISOR})
# Who may write calls and assignments as the CAD does: its machine account, and the
# center's analysts and supervisors (to enter a call by hand when the CAD link is down).
CAD_ROLES = frozenset({Role.INTEGRATION, Role.ANALYST, Role.SUPERVISOR})


def _with_assignments(calls: QuerySet[Call]) -> QuerySet[Call]:
    return calls.prefetch_related(
        Prefetch("assignments", queryset=UnitAssignment.objects.select_related("unit").order_by("assigned_at", "pk")))


def calls_visible_to(*, user: Any) -> QuerySet[Call]:
    if user.role not in CALL_READ_ROLES or user.agency_id is None:
        return Call.objects.none()
    return Call.objects.filter(agency_id=user.agency_id)


def user_is_assigned_to_call(*, user: Any, call: Call) -> bool:
    """An officer on shift with a unit assigned to the call now (not cleared from it)."""
    return user.role == Role.OFFICER and UnitAssignment.objects.filter(
        call=call, cleared_at__isnull=True, unit__members_on_shift=user).exists()


def call_list_for_user(*, user: Any, active_only: bool = True, status: str | None = None,
                       category: str | None = None, mine: bool = False, cursor: str | None = None, size: int = 50,
                       ip: str | None = None) -> Page[Call]:
    """Calls of the user's agency, most recently changed first; active ones unless a status is asked for.

    `mine`: only calls a unit the user is on shift with is assigned to now (the officer's own calls).
    """
    calls = calls_visible_to(user=user)
    if mine:
        calls = calls.filter(assignments__unit__members_on_shift=user, assignments__cleared_at__isnull=True).distinct()
    if status:
        calls = calls.filter(status=status)
    elif active_only:
        calls = calls.filter(status__in=Call.ACTIVE_STATUSES)
    if category:
        calls = calls.filter(category=category)
    page = keyset_page([calls], cursor=cursor, size=size)
    _hide_unseen_premises(user=user, calls=page.items)
    audit_record(actor=user, action=AuditEvent.Action.READ, object_type=Call._meta.label_lower,
                 objects=page.items, ip=ip)
    return page


def call_get_for_user(*, user: Any, call_id: int, ip: str | None = None) -> Call:
    call = _with_assignments(calls_visible_to(user=user)).filter(pk=call_id).first()
    if call is None:
        raise NotFound("Call not found.", code="call_not_found")
    _hide_unseen_premises(user=user, calls=[call])
    audit_record(actor=user, action=AuditEvent.Action.READ, obj=call, ip=ip)
    return call


def _hide_unseen_premises(*, user: Any, calls: list[Call]) -> None:
    """A premise restricted after the call was written must not show through the call (not saved)."""
    ids = {c.premise_id for c in calls if c.premise_id}
    if not ids:
        return
    visible = set(records_visible_to(user=user, model=Premise).filter(pk__in=ids).values_list("pk", flat=True))
    for call in calls:
        if call.premise_id and call.premise_id not in visible:
            call.premise_id = None


def cad_agency_get(*, user: Any) -> Agency:
    """The agency a CAD writer writes for. For anyone else the CAD endpoints answer like an unknown URL."""
    agency = user.agency if user is not None and user.role in CAD_ROLES else None
    if agency is None:
        raise NotFound("Not found.", code="not_found")
    return agency


def call_get_for_cad(*, user: Any, event_number: str) -> Call:
    """The call a CAD writer names by its event number, in the writer's agency.

    Not audited as a read: it only precedes a write, which is audited.
    """
    # The writer's agency id is enough here: loading the agency would cost every CAD request a query.
    if user is None or user.role not in CAD_ROLES or user.agency_id is None:
        raise NotFound("Not found.", code="not_found")
    call = _with_assignments(Call.objects.filter(agency_id=user.agency_id, event_number=event_number)).first()
    if call is None:
        raise NotFound("Call not found.", code="call_not_found")
    return call
