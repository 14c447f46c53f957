"""Reading unit locations: who sees which unit live, past tracks (with a purpose, audited), nearest units.

The visibility rule lives here once (position_scopes_for) and is applied by the live map, the stream and
GET /units/positions alike (PositionScope.allows). docs/locations.md says it in words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from apps.accounts.models import Role, Unit, User
from apps.accounts.policy import CENTER_ROLES
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from apps.calls.models import Call, UnitAssignment
from apps.calls.selectors import calls_visible_to, user_is_assigned_to_call
from apps.common.errors import NotFound, ValidationFailed
from apps.locations.live import PositionScope
from apps.locations.models import PositionReport, TrackLookup, UnitPosition
from apps.places.geo import distance_m
from apps.referrals.models import Referral

# A co-responder sees the unit of a referral only while working it.
_REFERRAL_WORKING = (Referral.State.ACCEPTED, Referral.State.EN_ROUTE, Referral.State.ON_SCENE)
# "Case or incident number": the agency's formats vary (26-000101, 2026-12345, INC-4411); a word, not a sentence.
CASE_NUMBER_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_./-]{2,39}")
PURPOSE_MIN, PURPOSE_MAX = 10, 300
TRACK_MAX_HOURS = 24
TRACK_MAX_POINTS = 20_000
NEAREST_MAX = 25
_emergency_units: list[Any] = []


def emergency_units_register(units: Any) -> None:
    """apps.emergencies: the agency's units with an open emergency (unit id -> emergency id)."""
    if units not in _emergency_units:
        _emergency_units.append(units)


def _call_mates(unit_ids: set[int]) -> dict[int, set[int]]:
    """For each of these units, the units on the same active calls (itself included)."""
    mine = list(UnitAssignment.objects.filter(unit_id__in=unit_ids, cleared_at__isnull=True,
                                              call__status__in=Call.ACTIVE_STATUSES).values_list("unit_id", "call_id"))
    calls = {call_id for _, call_id in mine}
    on_call: dict[int, set[int]] = {}
    for unit_id, call_id in UnitAssignment.objects.filter(call_id__in=calls, cleared_at__isnull=True).values_list(
            "unit_id", "call_id"):
        on_call.setdefault(call_id, set()).add(unit_id)
    mates: dict[int, set[int]] = {unit_id: {unit_id} for unit_id in unit_ids}
    for unit_id, call_id in mine:
        mates[unit_id] |= on_call.get(call_id, set())
    return mates


def position_scopes_for(*, user_ids: list[int]) -> dict[int, PositionScope | None]:
    """What each of these users may see live; None: nothing. A few queries whatever their number.

    Analysts and supervisors: their agency's units. Officers: their own unit, the units on the same active
    calls, the units within LOCATIONS_NEAR_M of their own, and any unit of the agency whose officer needs
    help. Co-responders: the units on the call of a referral they are working (accepted, en route, on scene),
    only until it closes. Administrators, auditors, integrations, other agencies' people: nothing of this one.
    """
    users = {u.pk: u for u in User.objects.filter(pk__in=user_ids, is_active=True).only("pk", "role", "agency_id")}
    scopes: dict[int, PositionScope | None] = {uid: None for uid in user_ids}
    officers = [u for u in users.values() if u.role == Role.OFFICER and u.agency_id is not None]
    own: dict[int, int] = {}
    for row in (Unit.members_on_shift.through.objects.filter(user_id__in=[u.pk for u in officers])
                .order_by("user_id", "unit_id").values_list("user_id", "unit_id")):
        own.setdefault(row[0], row[1])
    mates = _call_mates(set(own.values())) if own else {}
    # Each co-responder's referral call's agency and the units on that call now.
    working: dict[int, tuple[int, set[int]]] = {}
    co_responders = [u.pk for u in users.values() if u.role == Role.CO_RESPONDER]
    if co_responders:
        referrals = Referral.objects.filter(responder_id__in=co_responders, state__in=_REFERRAL_WORKING,
                                            call__status__in=Call.ACTIVE_STATUSES)
        for responder, agency_id, unit_id in (UnitAssignment.objects.filter(
                call__referrals__in=referrals, cleared_at__isnull=True)
                .values_list("call__referrals__responder_id", "call__agency_id", "unit_id").order_by("call_id")):
            # An organisation may serve several agencies; one scope is one agency (the first referral's).
            working.setdefault(responder, (agency_id, set()))
            if working[responder][0] == agency_id:
                working[responder][1].add(unit_id)
    for user in users.values():
        if user.role in CENTER_ROLES and user.agency_id is not None:
            scopes[user.pk] = PositionScope(agency_id=user.agency_id, everyone=True)
        elif user.role == Role.OFFICER and user.agency_id is not None:
            own_unit = own.get(user.pk)
            scopes[user.pk] = PositionScope(
                agency_id=user.agency_id, unit_ids=frozenset(mates.get(own_unit, set()) if own_unit else set()),
                own_unit_id=own_unit, near_m=float(settings.LOCATIONS_NEAR_M) if own_unit else 0.0, emergencies=True)
        elif user.role == Role.CO_RESPONDER and user.pk in working:
            agency_id, unit_ids = working[user.pk]
            scopes[user.pk] = PositionScope(agency_id=agency_id, unit_ids=frozenset(unit_ids))
    return scopes


def position_scope_for(*, user: User) -> PositionScope | None:
    return position_scopes_for(user_ids=[user.pk])[user.pk]


def unit_points(*, unit_ids: list[int]) -> dict[int, tuple[float, float]]:
    """The latest (latitude, longitude) of these units: where an officer's "near me" is measured from."""
    return {unit_id: (lat, lon) for unit_id, lat, lon in
            UnitPosition.objects.filter(unit_id__in=unit_ids).values_list("unit_id", "latitude", "longitude")}


def emergency_units_of(unit_ids: list[int]) -> dict[int, int]:
    """Which of these units have an open emergency: unit id -> emergency id."""
    found: dict[int, int] = {}
    for lookup in _emergency_units:
        found.update(lookup(unit_ids))
    return found


@dataclass(frozen=True)
class LivePosition:
    position: UnitPosition
    call_sign: str
    emergency_id: int | None


def unit_positions_for_user(*, user: User, ip: str | None = None) -> list[LivePosition]:
    """The latest fix of every unit this user may see, fresh within LOCATIONS_FRESH_SECONDS; audited.

    The snapshot a console or terminal reads at start and after a resync; the stream then moves them.
    """
    scope = position_scope_for(user=user)
    if scope is None:
        return []
    since = timezone.now() - timedelta(seconds=settings.LOCATIONS_FRESH_SECONDS)
    rows = list(UnitPosition.objects.filter(agency_id=scope.agency_id, received_at__gte=since)
                .select_related("unit").order_by("unit__call_sign"))
    flags = emergency_units_of([p.unit_id for p in rows])
    near_from = next(((p.latitude, p.longitude) for p in rows if p.unit_id == scope.own_unit_id), None)
    found = [LivePosition(position=p, call_sign=p.unit.call_sign, emergency_id=flags.get(p.unit_id)) for p in rows
             if scope.allows(unit_id=p.unit_id, agency_id=p.agency_id, latitude=p.latitude, longitude=p.longitude,
                             emergency=p.unit_id in flags, near_from=near_from)]
    audit_record(actor=user, action=AuditEvent.Action.READ, object_type=Unit._meta.label_lower,
                 objects=[lp.position.unit for lp in found], ip=ip, detail={"purpose": "live_positions"})
    return found


def _track_unit(*, user: User, unit_id: int) -> Unit:
    if user.role not in CENTER_ROLES or user.agency_id is None:
        raise NotFound("Unit not found.", code="unit_not_found")
    unit = Unit.objects.filter(pk=unit_id, agency_id=user.agency_id).first()
    if unit is None:
        raise NotFound("Unit not found.", code="unit_not_found")
    return unit


def _lookup_reason(*, purpose: Any, case_number: Any) -> tuple[str, str]:
    purpose = purpose.strip() if isinstance(purpose, str) else ""
    if not PURPOSE_MIN <= len(purpose) <= PURPOSE_MAX:
        raise ValidationFailed(f"Say why you need this track ({PURPOSE_MIN} to {PURPOSE_MAX} characters): it is "
                               f"recorded and shown to the unit's officers.", code="purpose_required",
                               fields={"purpose": [f"{PURPOSE_MIN}..{PURPOSE_MAX} characters"]})
    case_number = case_number.strip() if isinstance(case_number, str) else ""
    if not CASE_NUMBER_RE.fullmatch(case_number):
        raise ValidationFailed("Name the case or incident number the lookup is for.", code="case_number_required",
                               fields={"case_number": ["a case or incident number"]})
    return purpose, case_number


def _period(*, start: datetime, end: datetime) -> None:
    if end <= start or end - start > timedelta(hours=TRACK_MAX_HOURS):
        raise ValidationFailed(f"A lookup covers up to {TRACK_MAX_HOURS} hours, start before end.",
                               code="invalid_period", fields={"end": [f"after start, within {TRACK_MAX_HOURS} h"]})


@dataclass(frozen=True)
class Track:
    lookup: TrackLookup
    unit: Unit
    points: list[PositionReport]


def track_for_user(*, user: User, unit_id: int, start: datetime, end: datetime, purpose: Any, case_number: Any,
                   ip: str | None = None) -> Track:
    """Where a unit was between start and end: for analysts and supervisors of its agency, with a stated purpose
    and a case or incident number. Recorded (TrackLookup, shown to the unit's officers) and audited."""
    unit = _track_unit(user=user, unit_id=unit_id)
    purpose, case_number = _lookup_reason(purpose=purpose, case_number=case_number)
    _period(start=start, end=end)
    points = list(PositionReport.objects.filter(unit_id=unit.pk, reported_at__gte=start, reported_at__lte=end)
                  .order_by("reported_at")[:TRACK_MAX_POINTS])
    with transaction.atomic():
        lookup = TrackLookup.objects.create(unit=unit, looked_by=user, start=start, end=end, purpose=purpose,
                                            case_number=case_number, points=len(points), at=timezone.now())
        lookup.officers.set({p.user_id for p in points})
        audit_record(actor=user, action=AuditEvent.Action.READ, obj=unit, ip=ip,
                     detail={"purpose": purpose, "case_number": case_number, "track_lookup_id": lookup.pk,
                             "start": start.isoformat(), "end": end.isoformat(), "points": len(points)})
    return Track(lookup=lookup, unit=unit, points=points)


def track_lookups_of_user(*, user: User) -> QuerySet[TrackLookup]:
    """Who looked at my track, when, why and for which case: every officer may read their own."""
    return (TrackLookup.objects.filter(officers=user).select_related("unit", "looked_by").order_by("-at", "-id"))


@dataclass(frozen=True)
class NearUnit:
    unit: Unit
    distance_m: float
    age_s: float
    position: UnitPosition


def nearest_units_for_call(*, user: User, call_id: int, limit: int = 10, ip: str | None = None) -> list[NearUnit]:
    """The available units nearest a call, straight-line, with how old each one's fix is.

    Available: someone on shift, and on no active call. For the center's staff and officers on the call.
    """
    call = calls_visible_to(user=user).filter(pk=call_id).first()
    if call is None or not (user.role in CENTER_ROLES or user_is_assigned_to_call(user=user, call=call)):
        raise NotFound("Call not found.", code="call_not_found")
    if call.latitude is None or call.longitude is None:
        return []
    now = timezone.now()
    busy = UnitAssignment.objects.filter(cleared_at__isnull=True, call__status__in=Call.ACTIVE_STATUSES,
                                         call__agency_id=call.agency_id).values("unit_id")
    rows = (UnitPosition.objects.filter(agency_id=call.agency_id,
                                        received_at__gte=now - timedelta(seconds=settings.LOCATIONS_FRESH_SECONDS),
                                        unit__members_on_shift__isnull=False)
            .exclude(unit_id__in=busy).select_related("unit").distinct())
    found = sorted((NearUnit(unit=p.unit, position=p, age_s=max((now - p.reported_at).total_seconds(), 0.0),
                             distance_m=distance_m(call.latitude, call.longitude, p.latitude, p.longitude))
                    for p in rows), key=lambda n: (n.distance_m, n.unit.pk))[:max(1, min(limit, NEAREST_MAX))]
    audit_record(actor=user, action=AuditEvent.Action.READ, object_type=Unit._meta.label_lower,
                 objects=[n.unit for n in found], ip=ip, detail={"call_id": call.pk, "purpose": "nearest_units"})
    return found
