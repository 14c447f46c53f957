"""Reads of calls for service. The only road to them, filtered by agency and role, and audited.

Officers, analysts and supervisors see their agency's calls. Co-responders,
administrators and auditors see none (a co-responder gets what a referral holds,
nothing more), and the CAD machine account reads only through the CAD endpoints
it writes with. What a user may not see answers "not found", never "forbidden".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from apps.accounts.models import Agency, Device, Role, User
from apps.accounts.policy import AGENCY_ROLES, is_cad_writer
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from apps.calls.models import Call, UnitAssignment
from apps.cases.models import Premise
from apps.cases.selectors import records_visible_to
from apps.common.errors import NotFound
from apps.common.pagination import Page, keyset_page
from apps.delivery.selectors import deliveries_pending_for_user, versions_opened_by


def _with_assignments(calls: QuerySet[Call]) -> QuerySet[Call]:
    return calls.prefetch_related(
        Prefetch("assignments", queryset=UnitAssignment.objects.select_related("unit").order_by("assigned_at", "pk")))


def calls_visible_to(*, user: Any) -> QuerySet[Call]:
    if user.role not in AGENCY_ROLES or user.agency_id is None:
        return Call.objects.none()
    return Call.objects.filter(agency_id=user.agency_id)


def user_is_assigned_to_call(*, user: Any, call: Call) -> bool:
    """An officer on shift with a unit assigned to the call now (not cleared from it)."""
    return user.role == Role.OFFICER and UnitAssignment.objects.filter(
        call=call, cleared_at__isnull=True, unit__members_on_shift=user).exists()


# apps.emergencies: the officers whose open emergency a call is the incident of, as a query of their ids.
_raised_on_call: list[Callable[[int], QuerySet[Any]]] = []


def emergency_officers_register(officers: Callable[[int], QuerySet[Any]]) -> None:
    if officers not in _raised_on_call:
        _raised_on_call.append(officers)


def officers_on_call(call_id: int) -> list[int]:
    """The active officers on shift with a unit on the call now (not cleared from it): who hears of its news.

    Not the officer whose open emergency the call is the incident of (it is filed with his unit on it): news of
    his own emergency, its briefing and clips, must not ring his phone while he may be hiding. He hears of the
    emergency itself without an alert, and his terminal still lists the call.
    """
    officers = User.objects.filter(role=Role.OFFICER, is_active=True, units_on_shift__assignments__call_id=call_id,
                                   units_on_shift__assignments__cleared_at__isnull=True)
    for raised in _raised_on_call:
        officers = officers.exclude(pk__in=raised(call_id))  # a subquery: no round trip of its own
    return sorted(set(officers.values_list("pk", flat=True)))


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


@dataclass
class TerminalCall:
    """One of the officer's active calls, with what orders it on the terminal."""

    call: Call
    # Pushes about this call the officer has not acknowledged, newest first.
    pending_pushes: list[int] = field(default_factory=list)
    # When the officer's unit was put on it (None: the call came only by a push to the officer).
    assigned_at: datetime | None = None
    unit: str = ""
    # The briefing version the officer last had on screen (None: never opened).
    seen_version: int | None = None


TERMINAL_CALLS_SHOWN = 20


def call_list_for_terminal(*, user: Any, ip: str | None = None) -> list[TerminalCall]:
    """The officer's active calls (their unit's, and any pushed to them) in the order the terminal shows them.

    The order: a call with an unacknowledged push first, then by priority (1 first), then the latest
    assignment first (the call dispatch gave most recently is the one the officer is driving to).
    """
    pending: dict[int, list[int]] = {}
    for delivery in deliveries_pending_for_user(user=user):
        if delivery.push.call_id is not None:
            pending.setdefault(delivery.push.call_id, []).append(delivery.push_id)
    visible = calls_visible_to(user=user).filter(status__in=Call.ACTIVE_STATUSES)
    assignments = (UnitAssignment.objects.filter(call__in=visible, unit__members_on_shift=user, cleared_at__isnull=True)
                   .select_related("unit").order_by("assigned_at", "pk"))
    latest: dict[int, UnitAssignment] = {a.call_id: a for a in assignments}
    # A call the officer's unit cleared from is done for them, whatever is still unacknowledged about it.
    cleared = set(UnitAssignment.objects.filter(call_id__in=pending, unit__members_on_shift=user,
                                                cleared_at__isnull=False).values_list("call_id", flat=True))
    calls = list(visible.filter(pk__in={*latest, *(set(pending) - cleared)}))
    _hide_unseen_premises(user=user, calls=calls)
    seen = versions_opened_by(user=user, call_ids=[c.pk for c in calls], type="briefing")
    found = [TerminalCall(call=c, pending_pushes=pending.get(c.pk, []),
                          assigned_at=latest[c.pk].assigned_at if c.pk in latest else None,
                          unit=latest[c.pk].unit.call_sign if c.pk in latest else "", seen_version=seen.get(c.pk))
             for c in calls]
    found.sort(key=lambda t: (not t.pending_pushes, t.call.priority,
                              -(t.assigned_at or t.call.received_at).timestamp(), t.call.pk))
    shown = found[:TERMINAL_CALLS_SHOWN]
    audit_record(actor=user, action=AuditEvent.Action.READ, object_type=Call._meta.label_lower,
                 objects=[t.call for t in shown], ip=ip)
    return shown


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
    agency = user.agency if is_cad_writer(user) else None
    if agency is None:
        raise NotFound("Not found.", code="not_found")
    return agency


def call_get_for_cad(*, user: Any, event_number: str) -> Call:
    """The call a CAD writer names by its event number, in the writer's agency.

    Not audited as a read: it only precedes a write, which is audited.
    """
    # The writer's agency id is enough here: loading the agency would cost every CAD request a query.
    if not is_cad_writer(user):
        raise NotFound("Not found.", code="not_found")
    call = _with_assignments(Call.objects.filter(agency_id=user.agency_id, event_number=event_number)).first()
    if call is None:
        raise NotFound("Call not found.", code="call_not_found")
    return call


@dataclass(frozen=True)
class Officer:
    id: int
    name: str


@dataclass(frozen=True)
class UnitOnCall:
    """A unit assigned to a call now, who is in it, and where it last was (its members' freshest device fix)."""

    call_sign: str
    assigned_at: datetime
    officers: list[Officer]
    latitude: float | None
    longitude: float | None
    located_at: datetime | None


def units_on_calls(*, calls: list[Call]) -> dict[int, list[UnitOnCall]]:
    """The units on each of these calls now, in assignment order. Two queries whatever the number of calls.

    A position older than RTCC_DELIVERY_LOCATION_MAX_AGE_SECONDS is not shown: a unit drawn where it was
    twenty minutes ago would mislead more than a unit not drawn.
    """
    assignments = list(UnitAssignment.objects.filter(call__in=calls, cleared_at__isnull=True)
                       .select_related("unit").prefetch_related("unit__members_on_shift")
                       .order_by("assigned_at", "pk"))
    members = {user.pk for a in assignments for user in a.unit.members_on_shift.all()}
    since = timezone.now() - timedelta(seconds=settings.DELIVERY_LOCATION_MAX_AGE_SECONDS)
    fixes: dict[int, tuple[float | None, float | None, datetime]] = {}
    for user_id, lat, lon, at in (Device.objects.filter(user_id__in=members, revoked_at=None, located_at__gte=since,
                                                         latitude__isnull=False, longitude__isnull=False)
                                  .order_by("located_at").values_list("user_id", "latitude", "longitude",
                                                                      "located_at")):
        if at is not None:
            fixes[user_id] = (lat, lon, at)  # the latest wins
    found: dict[int, list[UnitOnCall]] = {call.pk: [] for call in calls}
    seen: set[tuple[int, int]] = set()
    for assignment in assignments:
        if (assignment.call_id, assignment.unit_id) in seen:
            continue  # a unit assigned again before it cleared is still one unit on the call
        seen.add((assignment.call_id, assignment.unit_id))
        crew = sorted(assignment.unit.members_on_shift.all(), key=lambda user: user.pk)
        fix = max((fixes[user.pk] for user in crew if user.pk in fixes), key=lambda f: f[2], default=None)
        found[assignment.call_id].append(UnitOnCall(
            call_sign=assignment.unit.call_sign, assigned_at=assignment.assigned_at,
            officers=[Officer(user.pk, user.get_full_name() or user.username) for user in crew],
            latitude=fix[0] if fix else None, longitude=fix[1] if fix else None, located_at=fix[2] if fix else None))
    return found
