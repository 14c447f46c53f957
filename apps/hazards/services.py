"""Writes to hazards recorded on premises and people: add one, remove one. Both audited.

Analysts and supervisors record hazards, on the records they may see. Anyone
else who can see the record reads its hazards but gets 403 for a change; a
record they cannot see is "not found", like an unknown id.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.accounts.policy import CENTER_ROLES
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from apps.calls.models import Call
from apps.calls.signals import call_changed_notify
from apps.cases.models import Person, Premise
from apps.cases.selectors import records_visible_to
from apps.common.errors import NotFound, PermissionDenied, ValidationFailed
from apps.common.rows import locked_get
from apps.hazards.models import RecordHazard
from apps.hazards.selectors import record_hazards_visible_to

_DESCRIPTION_MAX = RecordHazard._meta.get_field("description").max_length or 500
_SOURCE_MAX = RecordHazard._meta.get_field("source").max_length or 200


def _read_only() -> PermissionDenied:
    return PermissionDenied("You may read the hazards on this record but not change them.", code="hazard_read_only")


def _text(value: str, *, field: str, limit: int) -> str:
    value = value.strip()
    if not value or len(value) > limit:
        raise ValidationFailed(f"Give a {field} of 1 to {limit} characters.", fields={field: [
            f"1 to {limit} characters"]})
    return value


def record_hazard_add(
    *,
    actor: Any,
    premise_id: int | None = None,
    person_id: int | None = None,
    kind: str,
    description: str,
    source: str,
    expires_at: datetime | None = None,
    ip: str | None = None,
) -> RecordHazard:
    """Record a hazard on a premise and/or a person the actor may see."""
    if premise_id is None and person_id is None:
        raise ValidationFailed("A hazard is recorded on a premise or a person.", code="hazard_needs_record")
    premise = person = None
    if premise_id is not None:
        premise = records_visible_to(user=actor, model=Premise).filter(pk=premise_id).first()
        if premise is None:
            raise NotFound("Premise not found.", code="premise_not_found")
    if person_id is not None:
        person = records_visible_to(user=actor, model=Person).filter(pk=person_id).first()
        if person is None:
            raise NotFound("Person not found.", code="person_not_found")
    if actor.role not in CENTER_ROLES:
        raise _read_only()
    if kind not in RecordHazard.Kind.values:
        raise ValidationFailed("Unknown hazard kind.", fields={"kind": [
            f"one of {', '.join(RecordHazard.Kind.values)}"]})
    description = _text(description, field="description", limit=_DESCRIPTION_MAX)
    source = _text(source, field="source", limit=_SOURCE_MAX)
    now = timezone.now()
    if expires_at is not None and (timezone.is_naive(expires_at) or expires_at <= now):
        raise ValidationFailed("expires_at must be a future time with a time zone.",
                               fields={"expires_at": ["a future time with a time zone"]})
    # The hazard belongs to the record's agency (the premise's when on both), like the record itself.
    record: Premise | Person = next(r for r in (premise, person) if r is not None)
    with transaction.atomic():
        hazard = RecordHazard.objects.create(
            agency_id=record.agency_id, kind=kind, premise=premise, person=person, description=description,
            source=source, reported_at=now, expires_at=expires_at, created_by=actor,
        )
        # Ids and kind only: the description is case data and stays in the record, not the trail.
        audit_record(actor=actor, action=AuditEvent.Action.CREATE, obj=hazard, ip=ip,
                     detail={"kind": kind, "premise_id": premise_id, "person_id": person_id})
        _reassemble_active_calls(premise_id=premise_id, person_id=person_id)
    return hazard


def _reassemble_active_calls(*, premise_id: int | None, person_id: int | None) -> None:
    """Officers on an active call at this premise, or with this person named, get the new hazard."""

    on_record = Q(premise_id=premise_id) if premise_id is not None else Q(pk__in=[])
    if person_id is not None:
        on_record |= Q(people=person_id)
    for call_id in (Call.objects.filter(on_record, status__in=Call.ACTIVE_STATUSES)
                    .values_list("pk", flat=True).distinct()):
        call_changed_notify(call_id=call_id, reason="record_changed")


def record_hazard_remove(*, actor: Any, hazard_id: int, ip: str | None = None) -> None:
    """Delete a hazard (e.g. recorded in error, or no longer true) on records the actor may see."""
    with transaction.atomic():
        hazard = locked_get(record_hazards_visible_to(user=actor), pk=hazard_id, noun="Hazard", code="hazard_not_found")
        if actor.role not in CENTER_ROLES:
            raise _read_only()
        premise_id, person_id = hazard.premise_id, hazard.person_id
        detail = {"kind": hazard.kind, "premise_id": premise_id, "person_id": person_id}
        hazard.delete()
        audit_record(actor=actor, action=AuditEvent.Action.DELETE, object_type=RecordHazard._meta.label_lower,
                     object_id=hazard_id, ip=ip, detail=detail)
        _reassemble_active_calls(premise_id=premise_id, person_id=person_id)
