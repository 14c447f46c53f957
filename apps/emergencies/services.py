"""The officer emergency ("needs help"): raised, told at once, followed, escalated, acknowledged, closed.

docs/locations.md ("Officer emergency") says it in words. Raising one, in one transaction: the emergency,
its incident (a priority-1 call at the officer's position with the unit assigned), and one push to every
unit within EMERGENCY_RADIUS_M, the supervisors on duty and the center's analysts, sent over the stream AND
as a push alert at once (push_record alert_at_once). After commit the nearest shareable cameras are pinned
to the incident and a clip with pre-roll is asked of each. Raised before the phone had a fix, it takes the
first one that arrives (emergency_locate, told by apps.locations after the fix is stored): the incident moves
there, and the units near it who were not told get the same push. Nobody acknowledging within
EMERGENCY_ESCALATE_SECONDS tells the whole agency on duty (the dispatcher's job, claimed once). Every step is
audited and is a row of the emergency's record (EmergencyStep).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.models import Role, Unit, User
from apps.accounts.policy import AGENCY_ROLES, CENTER_ROLES, agency_staff, agency_staff_filter
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from apps.calls.models import CadTypeMapping, Call, Category, UnitAssignment
from apps.calls.services import call_upsert
from apps.cameras.services import cameras_pin_nearest
from apps.common.errors import Conflict, Gone, NotFound, PermissionDenied, ValidationFailed
from apps.common.jsonbody import json_number
from apps.common.later import after_commit
from apps.delivery.selectors import push_ids_told_to, users_told
from apps.delivery.services import (
    delivery_receipt,
    event_append,
    push_record,
    supervisors_on_duty,
)
from apps.emergencies.models import Emergency, EmergencyStep
from apps.emergencies.tasks import emergency_follow_up_task
from apps.locations.models import UnitPosition
from apps.media.services import clip_job_create_automatic
from apps.places.geo import distance_m, no_fix, on_earth

logger = logging.getLogger(__name__)

EMERGENCY_OBJECT = "emergencies.emergency"
# The highest priority there is (fcm: high priority, max Android priority).
EMERGENCY_PRIORITY = 1
CAD_CODE, CAD_DESCRIPTION = "OFFICER-EMERGENCY", "Officer needs help (emergency button)"
NOTE_MAX = 500


def _step(emergency: Emergency, kind: str, by: User | None, detail: dict[str, Any], *, at: datetime | None = None,
          ip: str | None = None) -> EmergencyStep:
    step = EmergencyStep.objects.create(emergency=emergency, kind=kind, at=at or timezone.now(), by=by, detail=detail)
    audit_record(actor=by, username="" if by else "automatic",
                 action=AuditEvent.Action.CREATE if kind == EmergencyStep.Kind.RAISED else AuditEvent.Action.UPDATE,
                 obj=emergency, ip=ip, detail={"step": kind, **detail})
    return step


def _position(*, unit: Unit | None, latitude: Any, longitude: Any) -> tuple[float | None, float | None]:
    """The position the phone sent with the press, else the unit's latest fix, else none (still raised).

    A phone without a fix may send 0, 0: taken as no position, so the units near the unit's last fix are
    told, not those near the Gulf of Guinea (nobody)."""
    if latitude is not None or longitude is not None:
        if not (json_number(latitude) and json_number(longitude) and on_earth(latitude, longitude)):
            raise ValidationFailed("That is not a position on Earth.", code="position_out_of_range",
                                   fields={"latitude": ["-90..90"], "longitude": ["-180..180"]})
        if not no_fix(latitude, longitude):
            return float(latitude), float(longitude)
    fix = UnitPosition.objects.filter(unit=unit).first() if unit is not None else None
    return (fix.latitude, fix.longitude) if fix else (None, None)


def units_within(*, agency_id: int, latitude: float, longitude: float, radius_m: float,
                 exclude_unit_id: int | None = None) -> list[int]:
    """Units of the agency whose latest fresh fix lies within the radius."""
    since = timezone.now() - timedelta(seconds=settings.LOCATIONS_FRESH_SECONDS)
    # A box around the circle first, in the database: a city's thousands of units are not read to find a few.
    dlat = radius_m / 111_320
    dlon = radius_m / (111_320 * max(math.cos(math.radians(latitude)), 0.01))
    fixes = UnitPosition.objects.filter(agency_id=agency_id, received_at__gte=since,
                                        latitude__range=(latitude - dlat, latitude + dlat),
                                        longitude__range=(longitude - dlon, longitude + dlon))
    if exclude_unit_id is not None:
        fixes = fixes.exclude(unit_id=exclude_unit_id)
    return [p.unit_id for p in fixes.only("unit_id", "latitude", "longitude")
            if distance_m(latitude, longitude, p.latitude, p.longitude) <= radius_m]


def _members(unit_ids: list[int]) -> set[int]:
    return set(User.objects.filter(units_on_shift__in=unit_ids, is_active=True, role=Role.OFFICER)
               .values_list("pk", flat=True))


def _center(agency_id: int) -> set[int]:
    return set(agency_staff(agency_id=agency_id, roles=CENTER_ROLES))


def _incident(*, officer: User, unit: Unit | None, emergency: Emergency,
              status: str | None = Call.Status.DISPATCHED) -> Call:
    """The emergency's incident record: a priority-1 call at the officer's position, the unit on it.

    Filed again (the same event number) it is brought up to date; `status` None leaves the call's as it is.
    """
    CadTypeMapping.objects.get_or_create(agency_id=officer.agency_id, code=CAD_CODE, defaults={
        "description": CAD_DESCRIPTION, "category": Category.VIOLENT, "priority": EMERGENCY_PRIORITY})
    where = (f"{emergency.latitude:.5f}, {emergency.longitude:.5f} (officer's position)"
             if emergency.latitude is not None and emergency.longitude is not None else "Position unknown")
    call, _ = call_upsert(
        agency=officer.agency, event_number=f"EMER-{emergency.pk:08d}", actor=None, source=Call.Source.CAD,  # type: ignore[arg-type]
        cad_code=CAD_CODE, cad_description=CAD_DESCRIPTION, priority=EMERGENCY_PRIORITY, address=where,
        latitude=emergency.latitude, longitude=emergency.longitude, received_at=emergency.raised_at,
        narrative=f"Emergency raised by unit {unit.call_sign if unit else 'none'} from the "
                  f"{emergency.get_source_display()}.", status=status)
    if unit is not None:
        UnitAssignment.objects.get_or_create(call=call, unit=unit, defaults={"assigned_at": emergency.raised_at})
    return call


def _payload(emergency: Emergency) -> dict[str, Any]:
    # Ids only: a push may show on a lock screen. The follow interval tells the officer's own device.
    return {"emergency_id": emergency.pk, "call_id": emergency.call_id, "unit_id": emergency.unit_id,
            "follow_every_s": settings.EMERGENCY_FOLLOW_SECONDS}


PUSHED_OPS = ("raised", "located", "escalated")
# The push an op keeps on the emergency. A located push is the raise's, to the units near a position that came
# later: it is found by its object (push_ids_told_to), and the raise's push_id stays the raise's.
_PUSH_FIELDS = {"raised": "push_id", "escalated": "escalation_push_id"}


def emergency_announce(*, emergency: Emergency, op: str, users: set[int] | None = None,
                       audience: dict[str, Any] | None = None) -> int:
    """The one function that sends `emergency` events; how many were pushed to (acknowledged, closed: told).

    raised, escalated: a highest-priority push to `users`, over the stream and as a push alert at once (never
    one of them alone); the officer himself gets the event without a push. located (the first fix after a
    raise without one): that push to those of `users` not told yet, and an event to everyone told already
    and the officer, so their screens read the position. acknowledged, closed: an event (nobody needs waking
    for it) to everyone the emergency reached, and its officer.
    """
    payload = _payload(emergency)
    told: set[int] = set()
    if op not in PUSHED_OPS or op == "located":
        told = users_told(object_type=EMERGENCY_OBJECT, object_id=emergency.pk) | {emergency.officer_id}
        event_append(users=sorted(told), type="emergency", op=op, object_type=EMERGENCY_OBJECT,
                     object_id=str(emergency.pk), payload=payload)
        if op not in PUSHED_OPS:
            return len(told)
    if op == "raised":
        event_append(users=[emergency.officer_id], type="emergency", op=op, object_type=EMERGENCY_OBJECT,
                     object_id=str(emergency.pk), payload=payload)
    recipients = sorted((users or set()) - told - {emergency.officer_id})
    if not recipients:
        return 0
    push = push_record(agency_id=emergency.agency_id, type="emergency", op=op, object_type=EMERGENCY_OBJECT,
                       object_id=str(emergency.pk), payload=payload, priority=EMERGENCY_PRIORITY, users=recipients,
                       call_id=emergency.call_id, audience=audience, alert_at_once=True, escalate=False)
    field = _PUSH_FIELDS.get(op)
    if field is not None:
        Emergency.objects.filter(pk=emergency.pk).update(**{field: push.pk})
        setattr(emergency, field, push.pk)
    return len(recipients)


@dataclass(frozen=True)
class Raised:
    emergency: Emergency
    created: bool


def emergency_raise(*, officer: User, source: str, latitude: Any = None, longitude: Any = None,
                    ip: str | None = None) -> Raised:
    """An officer needs help. A second press while one is open is the same emergency (created False)."""
    if officer.role != Role.OFFICER or officer.agency_id is None or not officer.is_active:
        raise PermissionDenied("Only an officer raises an emergency.", code="emergency_not_allowed")
    if source not in Emergency.Source.values:
        raise ValidationFailed("source is terminal or phone.", code="invalid",
                               fields={"source": list(Emergency.Source.values)})
    unit = Unit.objects.filter(members_on_shift=officer).order_by("pk").first()
    lat, lon = _position(unit=unit, latitude=latitude, longitude=longitude)
    existing = Emergency.objects.filter(officer=officer, closed_at__isnull=True).first()
    if existing is not None:
        return Raised(existing, False)
    now = timezone.now()
    try:
        # Only what telling people needs, in this transaction: every query here is time before the first
        # terminal hears of it (bench/avl.py). The incident, cameras and clips follow after commit.
        with transaction.atomic():
            emergency = Emergency.objects.create(agency_id=officer.agency_id, officer=officer, unit=unit,
                                                 source=source, latitude=lat, longitude=lon, raised_at=now)
            _step(emergency, EmergencyStep.Kind.RAISED, officer,
                  {"source": source, "located": lat is not None}, at=now, ip=ip)
            nearby = (units_within(agency_id=officer.agency_id, latitude=lat, longitude=lon,
                                   radius_m=settings.EMERGENCY_RADIUS_M, exclude_unit_id=unit.pk if unit else None)
                      if lat is not None and lon is not None else [])
            supervisors = set(supervisors_on_duty(agency_id=officer.agency_id))
            # His own unit's other officers too, wherever its fix is: a partner split from him in a foot
            # pursuit is the nearest help there is (emergency_announce leaves the officer himself out).
            crews = nearby + ([unit.pk] if unit is not None else [])
            told = emergency_announce(emergency=emergency, op="raised",
                                      users=_members(crews) | supervisors | _center(officer.agency_id),
                                      audience={"kind": "emergency", "radius_m": settings.EMERGENCY_RADIUS_M,
                                                "units": nearby})
            _step(emergency, EmergencyStep.Kind.NOTIFIED, None,
                  {"units": nearby, "supervisors": len(supervisors), "recipients": told}, at=now)
            # robust: with the broker down the dispatcher files the incident (emergencies_follow_up_due).
            after_commit(emergency_follow_up_task.delay, emergency.pk, robust=True)
    except IntegrityError:
        # Two presses raced: the other one raised it.
        return Raised(Emergency.objects.get(officer=officer, closed_at__isnull=True), False)
    return Raised(emergency, True)


def emergency_follow_up(*, emergency_id: int) -> int:
    """After the first word went out: the incident on the record (a priority-1 call, the unit on it), the
    nearest shareable cameras pinned to it, and a clip asked of each (pre-roll included: the pre-roll worker
    follows pinned cameras). Claimed by the emergency's call: safe to run twice. How many cameras."""
    with transaction.atomic():
        emergency = (Emergency.objects.select_for_update(of=("self",)).select_related("officer__agency", "unit")
                     .filter(pk=emergency_id, call__isnull=True).first())
        if emergency is None:
            return 0
        emergency.call = _incident(officer=emergency.officer, unit=emergency.unit, emergency=emergency)
        emergency.save(update_fields=["call"])
        # The "raised" event came before the incident existed: the screens that drew the emergency list it now.
        emergency_announce(emergency=emergency, op="filed")
        if not emergency.is_open:
            return 0
        return _cameras(emergency)


def _cameras(emergency: Emergency) -> int:
    """The nearest shareable cameras pinned to the incident, and a clip asked of each; how many cameras.

    An incident at no position has none near it: pinned again when the emergency is located.
    """
    if settings.EMERGENCY_CAMERAS <= 0 or emergency.call is None:
        return 0
    pins = cameras_pin_nearest(call=emergency.call, pinned_by=emergency.officer, limit=settings.EMERGENCY_CAMERAS)
    _step(emergency, EmergencyStep.Kind.CAMERAS_PINNED, None, {"cameras": [p.camera_id for p in pins]})
    clips = [clip_job_create_automatic(call=emergency.call, camera=pin.camera,
                                       seconds=settings.EMERGENCY_CLIP_SECONDS,
                                       reason=f"emergency {emergency.pk}").pk
             for pin in pins if pin.camera.source_kind != pin.camera.SourceKind.SNAPSHOT]
    if clips:
        _step(emergency, EmergencyStep.Kind.CLIP_REQUESTED, None, {"clips": clips})
    return len(pins)


def emergency_locate(*, fixes: dict[int, tuple[float, float]]) -> int:
    """The newest fix of units with an open emergency (unit id -> latitude, longitude), just stored: an
    emergency raised before its phone had a fix takes this one; how many were located.

    Claimed under the row's lock where the position is still empty: a second fix, or a report racing this one,
    finds it located and changes nothing. The incident moves to the position (or is filed there, if the
    follow-up has not run yet), its cameras are pinned, and the units now within EMERGENCY_RADIUS_M who were not
    told get the raise's push; everyone told already gets an event to read the position.
    """
    waiting = list(Emergency.objects.filter(unit_id__in=list(fixes), closed_at__isnull=True, latitude__isnull=True)
                   .values_list("pk", "unit_id"))
    located = 0
    for emergency_id, unit_id in waiting:
        with transaction.atomic():
            # FOR UPDATE of the emergency's own row only: PostgreSQL refuses it across the nullable joins.
            emergency = (Emergency.objects.select_for_update(of=("self",)).select_related("officer__agency", "unit")
                         .filter(pk=emergency_id, closed_at__isnull=True, latitude__isnull=True).first())
            if emergency is None:
                continue  # another report located it first, or it was closed meanwhile
            latitude, longitude = fixes[unit_id]
            emergency.latitude, emergency.longitude = latitude, longitude
            emergency.save(update_fields=["latitude", "longitude"])
            # The supervisors and the center were told at the raise; the units near it could not be.
            nearby = units_within(agency_id=emergency.agency_id, latitude=latitude, longitude=longitude,
                                  radius_m=settings.EMERGENCY_RADIUS_M, exclude_unit_id=unit_id)
            told = emergency_announce(emergency=emergency, op="located", users=_members(nearby),
                                      audience={"kind": "emergency", "radius_m": settings.EMERGENCY_RADIUS_M,
                                                "units": nearby})
            _step(emergency, EmergencyStep.Kind.LOCATED, None, {"units": nearby, "recipients": told})
            if emergency.call_id is not None:
                # Filed already at "Position unknown": moved here, its status left as it is, its cameras pinned.
                _incident(officer=emergency.officer, unit=emergency.unit, emergency=emergency, status=None)
                _cameras(emergency)
            located += 1
    return located


def _for_staff(*, user: User, emergency_id: int, lock: bool = False) -> Emergency:
    if user.agency_id is None:
        raise NotFound("Emergency not found.", code="emergency_not_found")
    found = Emergency.objects.filter(pk=emergency_id, agency_id=user.agency_id)
    emergency = (found.select_for_update() if lock else found).first()
    if emergency is None or user.role not in AGENCY_ROLES or not user.is_active:
        raise NotFound("Emergency not found.", code="emergency_not_found")
    return emergency


def emergency_acknowledge(*, user: User, emergency_id: int, ip: str | None = None) -> Emergency:
    """Someone is on it: the first acknowledgement stops the escalation; every one is on the record."""
    with transaction.atomic():
        emergency = _for_staff(user=user, emergency_id=emergency_id, lock=True)
        if user.pk == emergency.officer_id:
            raise PermissionDenied("The officer who needs help does not acknowledge his own emergency.",
                                   code="emergency_not_allowed")
        if not emergency.is_open:
            raise Conflict("This emergency is closed.", code="emergency_closed")
        now = timezone.now()
        first = emergency.acknowledged_at is None
        if first:
            emergency.acknowledged_at, emergency.acknowledged_by = now, user
            emergency.save(update_fields=["acknowledged_at", "acknowledged_by"])
        _step(emergency, EmergencyStep.Kind.ACKNOWLEDGED, user, {"first": first}, at=now, ip=ip)
        # The receipts of the pushes that told him as well (the raise, its located push, the escalation), so
        # each reads acknowledged wherever it is shown. A supervisor opening it from the console may have none.
        for push_id in push_ids_told_to(user_id=user.pk, object_type=EMERGENCY_OBJECT, object_id=emergency.pk):
            try:
                delivery_receipt(user=user, push_id=push_id, state="acknowledged", ip=ip)
            except (Conflict, Gone):
                pass  # already done, or past its expiry (DELIVERY_ALERT_TTL_SECONDS): the emergency still is
        if first:
            emergency_announce(emergency=emergency, op="acknowledged")
    return emergency


def emergency_close(*, user: User, emergency_id: int, reason: Any, note: Any = "", ip: str | None = None) -> Emergency:
    """The officer, or a supervisor of the agency, closes it with a reason (resolved, false_alarm, other)."""
    if reason not in Emergency.CloseReason.values:
        raise ValidationFailed("Say why it is closed: " + ", ".join(Emergency.CloseReason.values) + ".",
                               code="close_reason_required", fields={"reason": list(Emergency.CloseReason.values)})
    note = note.strip() if isinstance(note, str) else ""
    if len(note) > NOTE_MAX or (reason == Emergency.CloseReason.OTHER and not note):
        raise ValidationFailed(f"A note of up to {NOTE_MAX} characters; 'other' needs one.", code="invalid",
                               fields={"note": [f"1..{NOTE_MAX} characters"]})
    with transaction.atomic():
        emergency = _for_staff(user=user, emergency_id=emergency_id, lock=True)
        if not (user.pk == emergency.officer_id or user.role == Role.SUPERVISOR):
            raise PermissionDenied("Only the officer or a supervisor closes an emergency.",
                                   code="emergency_not_allowed")
        if not emergency.is_open:
            raise Conflict("This emergency is already closed.", code="emergency_closed")
        now = timezone.now()
        emergency.closed_at, emergency.closed_by = now, user
        emergency.close_reason, emergency.close_note = reason, note
        emergency.save(update_fields=["closed_at", "closed_by", "close_reason", "close_note"])
        _step(emergency, EmergencyStep.Kind.CLOSED, user, {"reason": reason}, at=now, ip=ip)
        if emergency.call_id is not None:
            Call.objects.filter(pk=emergency.call_id, status__in=Call.ACTIVE_STATUSES).update(
                status=Call.Status.CLEARED, cleared_at=now, updated_at=now)
        emergency_announce(emergency=emergency, op="closed")
    return emergency


def emergencies_escalate_due(*, now: datetime | None = None) -> int:
    """Open emergencies nobody acknowledged in EMERGENCY_ESCALATE_SECONDS: the whole agency on duty is told.

    Claimed by a conditional UPDATE in the same transaction as the push: two dispatchers escalate once.
    """
    now = now or timezone.now()
    due = Emergency.objects.filter(closed_at__isnull=True, acknowledged_at__isnull=True, escalated_at__isnull=True,
                                   raised_at__lte=now - timedelta(seconds=settings.EMERGENCY_ESCALATE_SECONDS))
    if not due.exists():  # the dispatcher polls five times a second: a read, not a write lock
        return 0
    escalated = 0
    for emergency_id in due.values_list("pk", flat=True)[:50]:
        with transaction.atomic():
            if not Emergency.objects.filter(pk=emergency_id, escalated_at__isnull=True,
                                            acknowledged_at__isnull=True).update(escalated_at=now):
                continue
            emergency = Emergency.objects.get(pk=emergency_id)
            on_duty = set(User.objects.filter(agency_id=emergency.agency_id, is_active=True, role__in=AGENCY_ROLES)
                          .filter(units_on_shift__isnull=False).values_list("pk", flat=True))
            everyone = on_duty | set(supervisors_on_duty(agency_id=emergency.agency_id)) | _center(emergency.agency_id)
            told = emergency_announce(emergency=emergency, op="escalated", users=everyone,
                                      audience={"kind": "emergency_escalation"})
            _step(emergency, EmergencyStep.Kind.ESCALATED, None,
                  {"after_s": settings.EMERGENCY_ESCALATE_SECONDS, "recipients": told}, at=now)
            escalated += 1
    return escalated


def emergencies_follow_up_due(*, now: datetime | None = None) -> int:
    """Emergencies whose follow-up task was lost (a worker killed, the broker down): done by the dispatcher."""
    now = now or timezone.now()
    stale = Emergency.objects.filter(call__isnull=True, raised_at__lte=now - timedelta(seconds=5))
    return sum(1 for emergency_id in stale.values_list("pk", flat=True)[:20]
               if emergency_follow_up(emergency_id=emergency_id) >= 0)


# Who may be sent an emergency: the agency's officers, analysts and supervisors (apps.accounts.policy).
emergency_recipients_allowed = agency_staff_filter(Emergency)


def open_emergency_units(unit_ids: list[int]) -> dict[int, int]:
    """Unit id -> open emergency id, for the live map (apps.locations)."""
    return dict(Emergency.objects.filter(unit_id__in=unit_ids, closed_at__isnull=True).values_list("unit_id", "pk"))
