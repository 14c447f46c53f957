"""Writes to calls for service: the CAD's create-or-update, unit assignments and status.

The CAD retries whatever it did not see acknowledged, so every write here is
idempotent: the same request twice changes nothing the second time (no audit
event, no briefing re-assembly, updated_at untouched) and says so.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone

from apps.accounts.models import Agency, Unit
from apps.accounts.policy import is_cad_writer
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from apps.calls.cad_types import cad_type_resolve
from apps.calls.eido import eido_call_parse
from apps.calls.models import Call, UnitAssignment
from apps.calls.signals import call_changed_notify
from apps.cases.models import Person
from apps.common.errors import NotFound, ValidationFailed
from apps.places.services import place_resolve

# Event numbers travel in URLs: letters, digits, "-", "_" and "." only, at most the column's 40.
EVENT_NUMBER_RE = re.compile(r"[A-Za-z0-9_.-]{1,40}")
MAX_NARRATIVE = 20_000
MAX_PRIORITY = 9

# The fields a CAD update can change, in the order an audit event names them.
_CALL_FIELDS = ("cad_code", "cad_description", "category", "cad_code_unmapped", "priority", "address", "municipality",
                "address_key", "latitude", "longitude", "cell", "located_by", "premise_id", "narrative", "received_at")


def _check_writer(*, actor: Any, agency_id: int) -> None:
    # actor None is the system itself (the history import); a person or the CAD account
    # must be a CAD writer of this very agency, or the call does not exist for them.
    if actor is not None and not is_cad_writer(actor, agency_id=agency_id):
        raise NotFound("Not found.", code="not_found")


def _validate(*, event_number: str, source: str, cad_code: str, cad_description: str, priority: int | None,
              address: str, latitude: float | None, longitude: float | None, narrative: str, status: str | None,
              received_at: datetime) -> None:
    errors: dict[str, list[str]] = {}
    if not EVENT_NUMBER_RE.fullmatch(event_number or ""):
        errors["event_number"] = ["1-40 letters, digits, '-', '_' or '.'"]
    if source not in Call.Source.values:
        errors["source"] = [f"one of {', '.join(Call.Source.values)}"]
    if not cad_code.strip():
        errors["cad_code"] = ["required"]
    elif len(cad_code.strip()) > 80:
        errors["cad_code"] = ["at most 80 characters"]
    if len(cad_description) > 200:
        errors["cad_description"] = ["at most 200 characters"]
    if priority is not None and not 1 <= priority <= MAX_PRIORITY:
        errors["priority"] = [f"1 (most urgent) to {MAX_PRIORITY}"]
    if len(address) > 200:
        errors["address"] = ["at most 200 characters"]
    if (latitude is None) != (longitude is None):
        errors["latitude" if latitude is None else "longitude"] = ["give latitude and longitude together"]
    if latitude is not None and not (math.isfinite(latitude) and -90 <= latitude <= 90):
        errors["latitude"] = ["-90 to 90"]
    if longitude is not None and not (math.isfinite(longitude) and -180 <= longitude <= 180):
        errors["longitude"] = ["-180 to 180"]
    if len(narrative) > MAX_NARRATIVE:
        errors["narrative"] = [f"at most {MAX_NARRATIVE} characters"]
    if status is not None and status not in Call.Status.values:
        errors["status"] = [f"one of {', '.join(Call.Status.values)}"]
    if received_at.tzinfo is None:
        errors["received_at"] = ["give a time zone, e.g. Z or +00:00"]
    if errors:
        raise ValidationFailed("Some fields are missing or wrong.", code="invalid", fields=errors)


def _people(*, agency: Agency, person_ids: list[int]) -> list[Person]:
    people = list(Person.objects.filter(agency=agency, pk__in=person_ids))
    missing = sorted(set(person_ids) - {p.pk for p in people})
    if missing:
        raise ValidationFailed(f"Unknown person_ids: {missing}", code="unknown_reference",
                               fields={"person_ids": [f"{pk} not found" for pk in missing]})
    return people


def _status_changes(*, call: Call, status: str, at: datetime) -> dict[str, Any]:
    """The fields that move a call to `status`; a time already stamped is kept (the first one counts)."""
    changes: dict[str, Any] = {}
    if call.status != status:
        changes["status"] = status
    stamp = {Call.Status.DISPATCHED: "dispatched_at", Call.Status.ON_SCENE: "on_scene_at",
             Call.Status.CLEARED: "cleared_at", Call.Status.CLOSED: "cleared_at"}.get(Call.Status(status))
    if stamp and getattr(call, stamp) is None:
        changes[stamp] = at
    return changes


def _existing_call(*, agency: Agency, event_number: str) -> Call | None:
    return Call.objects.select_for_update().filter(agency=agency, event_number=event_number).first()


def call_upsert(
    *,
    agency: Agency,
    event_number: str,
    actor: Any,
    source: str,
    cad_code: str,
    cad_description: str = "",
    priority: int | None = None,
    address: str = "",
    latitude: float | None = None,
    longitude: float | None = None,
    narrative: str = "",
    status: str | None = None,
    received_at: datetime,
    person_ids: list[int] | None = None,
    ip: str | None = None,
    municipality: str = "",
) -> tuple[Call, bool]:
    """Create the call or bring it up to date; (call, changed). `status` and `person_ids` None leave them as they are.

    Category and priority come from the agency's CAD type mapping (an explicit priority
    from the CAD wins); an unmapped code is kept, categorised unknown and flagged.
    """
    _check_writer(actor=actor, agency_id=agency.pk)
    _validate(event_number=event_number, source=source, cad_code=cad_code, cad_description=cad_description,
              priority=priority, address=address, latitude=latitude, longitude=longitude, narrative=narrative,
              status=status, received_at=received_at)
    people = _people(agency=agency, person_ids=person_ids) if person_ids is not None else None
    cad_type = cad_type_resolve(agency_id=agency.pk, code=cad_code)
    municipality = municipality.strip()[:100]
    place = place_resolve(agency_id=agency.pk, address=address, latitude=latitude, longitude=longitude,
                          municipality=municipality)
    wanted: dict[str, Any] = {
        "cad_code": cad_code.strip(), "cad_description": cad_description, "category": cad_type.category,
        "cad_code_unmapped": cad_type.unmapped, "priority": priority if priority is not None else cad_type.priority,
        "address": address, "municipality": municipality, "address_key": place.address_key, "latitude": place.latitude,
        "longitude": place.longitude, "cell": place.cell, "located_by": place.located_by,
        "premise_id": place.premise_id, "narrative": narrative, "received_at": received_at,
    }
    now = timezone.now()
    with transaction.atomic():
        call = _existing_call(agency=agency, event_number=event_number)
        if call is None:
            try:
                with transaction.atomic():  # a savepoint: losing the race below must not spoil the outer transaction
                    call = Call(agency=agency, event_number=event_number, source=source, **wanted)
                    if status is not None:
                        for name, value in _status_changes(call=call, status=status, at=now).items():
                            setattr(call, name, value)
                    call.save(force_insert=True)
                    if people:
                        call.people.set(people)
            except IntegrityError:
                # Another request created this event number between our read and our insert:
                # theirs stands, and ours becomes an update of it (or nothing, if it is the same).
                call = _existing_call(agency=agency, event_number=event_number)
                if call is None:
                    raise
            else:
                audit_record(actor=actor, action=AuditEvent.Action.CREATE, obj=call, ip=ip,
                             detail={"source": source, "event_number": event_number})
                if call.is_active:  # a history import of closed calls needs no briefing
                    call_changed_notify(call_id=call.pk, reason="call_created")
                return call, True

        changes = {name: value for name, value in wanted.items() if getattr(call, name) != value}
        if status is not None:
            changes.update(_status_changes(call=call, status=status, at=now))
        people_changed = people is not None and {p.pk for p in people} != set(call.people.values_list("pk", flat=True))
        if not changes and not people_changed:
            return call, False
        for name, value in changes.items():
            setattr(call, name, value)
        call.save(update_fields=[*changes, "updated_at"])
        fields = sorted(changes)
        if people_changed and people is not None:
            call.people.set(people)
            fields.append("people")
        audit_record(actor=actor, action=AuditEvent.Action.UPDATE, obj=call, ip=ip, detail={"fields": fields})
        call_changed_notify(call_id=call.pk, reason="call_updated")
    return call, True


def call_status_set(*, call: Call, status: str, actor: Any, at: datetime | None = None,
                    ip: str | None = None) -> bool:
    """Move a call to a status, stamping when it got there; False when it already was."""
    _check_writer(actor=actor, agency_id=call.agency_id)
    if status not in Call.Status.values:
        raise ValidationFailed("Unknown status.", code="invalid",
                               fields={"status": [f"one of {', '.join(Call.Status.values)}"]})
    with transaction.atomic():
        locked = Call.objects.select_for_update().get(pk=call.pk)
        changes = _status_changes(call=locked, status=status, at=at or timezone.now())
        if not changes:
            return False
        for name, value in changes.items():
            setattr(locked, name, value)
            setattr(call, name, value)
        locked.save(update_fields=[*changes, "updated_at"])
        call.updated_at = locked.updated_at
        audit_record(actor=actor, action=AuditEvent.Action.UPDATE, obj=call, ip=ip,
                     detail={"fields": sorted(changes)})
    return True


def _unit(*, call: Call, call_sign: str) -> Unit:
    unit = Unit.objects.filter(agency_id=call.agency_id, call_sign=call_sign.strip()).first()
    if unit is None:
        raise ValidationFailed("No unit of this agency has that call sign.", code="unknown_unit",
                               fields={"unit": ["unknown call sign"]})
    return unit


def call_assignment_add(*, call: Call, unit_call_sign: str, actor: Any, assigned_at: datetime | None = None,
                        ip: str | None = None) -> tuple[UnitAssignment, bool]:
    """Put a unit on a call; (assignment, changed). A unit already on the call changes nothing.

    A received call becomes dispatched. The briefing is re-assembled for the new unit.
    """
    _check_writer(actor=actor, agency_id=call.agency_id)
    unit = _unit(call=call, call_sign=unit_call_sign)
    at = assigned_at or timezone.now()
    if at.tzinfo is None:
        raise ValidationFailed("Give a time zone.", code="invalid", fields={"assigned_at": ["no time zone"]})
    with transaction.atomic():
        assignment, created = UnitAssignment.objects.get_or_create(call=call, unit=unit,
                                                                   defaults={"assigned_at": at})
        if not created and assignment.cleared_at is None:
            return assignment, False
        if not created:  # cleared earlier, sent back now
            assignment.assigned_at, assignment.cleared_at = at, None
            assignment.save(update_fields=["assigned_at", "cleared_at"])
        # Claimed, not read-then-written: only a call still "received" becomes dispatched.
        Call.objects.filter(pk=call.pk, status=Call.Status.RECEIVED).update(
            status=Call.Status.DISPATCHED, dispatched_at=at, updated_at=timezone.now())
        call.refresh_from_db(fields=["status", "dispatched_at", "updated_at"])
        audit_record(actor=actor, action=AuditEvent.Action.CREATE, obj=assignment, ip=ip,
                     detail={"call_id": call.pk, "unit": unit.call_sign})
        call_changed_notify(call_id=call.pk, reason="unit_assigned")
    return assignment, True


def call_assignment_clear(*, call: Call, unit_call_sign: str, actor: Any, cleared_at: datetime | None = None,
                          ip: str | None = None) -> bool:
    """Take a unit off a call (the assignment stays, with its clear time, as history); False if it was not on it."""
    _check_writer(actor=actor, agency_id=call.agency_id)
    unit = _unit(call=call, call_sign=unit_call_sign)
    with transaction.atomic():
        assignment = (UnitAssignment.objects.select_for_update()
                      .filter(call=call, unit=unit, cleared_at__isnull=True).first())
        if assignment is None:
            return False
        assignment.cleared_at = cleared_at or timezone.now()
        assignment.save(update_fields=["cleared_at"])
        audit_record(actor=actor, action=AuditEvent.Action.UPDATE, obj=assignment, ip=ip,
                     detail={"call_id": call.pk, "unit": unit.call_sign, "fields": ["cleared_at"]})
    return True


def call_upsert_from_eido(*, agency: Agency, document: Any, actor: Any, ip: str | None = None) -> tuple[Call, bool]:
    """A call from an EIDO document (NENA-STA-021); an incomplete document writes nothing."""
    parsed = eido_call_parse(document=document)
    return call_upsert(agency=agency, actor=actor, source=Call.Source.EIDO, ip=ip, **parsed.upsert_kwargs())


def calls_recategorise(*, agency: Agency, actor: Any = None,
                       progress: Callable[[int], object] = lambda codes: None) -> dict[str, Any]:
    """Bring the agency's stored calls up to its CAD type mappings now, so a code means one thing everywhere.

    One CAD code at a time (`progress` is told each one done), each code's calls in one UPDATE; the
    category and the unmapped flag change, a priority the CAD gave is kept. One audit event says what
    changed. Returns that detail: codes looked at, calls changed, and the moves by category.
    """
    codes = list(Call.objects.filter(agency=agency).values_list("cad_code", flat=True).distinct().order_by())
    moves: Counter[str] = Counter()
    changed = 0
    with transaction.atomic():
        for code in codes:
            cad_type = cad_type_resolve(agency_id=agency.pk, code=code)
            stale = Call.objects.filter(agency=agency, cad_code=code).exclude(
                category=cad_type.category, cad_code_unmapped=cad_type.unmapped)
            for category, n in stale.values_list("category").annotate(n=Count("*")).order_by():
                moves[f"{category} -> {cad_type.category}"] += n
            changed += stale.update(category=cad_type.category, cad_code_unmapped=cad_type.unmapped,
                                    updated_at=timezone.now())
            progress(1)
        detail = {"agency": agency.ori, "codes": len(codes), "calls_changed": changed, "moves": dict(moves)}
        audit_record(actor=actor, username="" if actor else "recategorise_calls", action=AuditEvent.Action.UPDATE,
                     object_type="calls.call", detail=detail)
    return detail
