"""Writes to case files: create and update cases, and name who may see a restricted record."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from guardian.shortcuts import assign_perm, remove_perm

from apps.accounts.models import Role, User
from apps.accounts.policy import AGENCY_ROLES, CENTER_ROLES
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from apps.cases.models import Case, Person, PersonPhoto, PersonPhotoVariant, Premise, Restriction, Vehicle
from apps.cases.selectors import record_is_visible, records_visible_to
from apps.common.errors import NotFound, PermissionDenied, ValidationFailed
from apps.common.rows import locked_get
from apps.media.photos import photo_store

CASE_EDITABLE_FIELDS = ("case_type", "title", "status", "notes", "restriction")


def _linked(*, user: Any, model: Any, ids: list[int], field: str) -> list[Any]:
    """The records a user may link by id; an id they cannot see is an error, like an unknown one."""
    records = list(records_visible_to(user=user, model=model).filter(pk__in=ids))
    if len(records) != len(set(ids)):
        missing = sorted(set(ids) - {r.pk for r in records})
        raise ValidationFailed(f"Unknown {field}: {missing}", code="unknown_reference", fields={field: [
            f"{pk} not found" for pk in missing]})
    return records


def case_create(
    *,
    created_by: User,
    number: str,
    case_type: str,
    title: str,
    status: str = Case.Status.OPEN,
    notes: str = "",
    restriction: str = "",
    opened_at: datetime | None = None,
    person_ids: list[int] | None = None,
    vehicle_ids: list[int] | None = None,
    premise_ids: list[int] | None = None,
    ip: str | None = None,
) -> Case:
    if created_by.role not in CENTER_ROLES or created_by.agency_id is None:
        raise PermissionDenied("Your role cannot open cases.", code="role_cannot_create_cases")
    people = _linked(user=created_by, model=Person, ids=person_ids or [], field="person_ids")
    vehicles = _linked(user=created_by, model=Vehicle, ids=vehicle_ids or [], field="vehicle_ids")
    premises = _linked(user=created_by, model=Premise, ids=premise_ids or [], field="premise_ids")
    try:
        with transaction.atomic():
            case = Case.objects.create(
                agency_id=created_by.agency_id, number=number, case_type=case_type, title=title, status=status,
                notes=notes, restriction=restriction, opened_at=opened_at or timezone.now(), created_by=created_by,
            )
            case.people.add(*people)
            case.vehicles.add(*vehicles)
            case.premises.add(*premises)
            if restriction:
                # Whoever opens a restricted case is named on it, or it would vanish from them.
                for perm in ("view_case", "change_case"):
                    assign_perm(perm, created_by, case)
            audit_record(actor=created_by, action=AuditEvent.Action.CREATE, obj=case, ip=ip,
                         detail={"restriction": restriction})
    except IntegrityError as exc:
        raise ValidationFailed("A case with this number already exists.", code="case_number_taken",
                               fields={"number": ["already exists"]}) from exc
    return case


def _restriction_change_check(*, case: Case, user: User, changes: dict[str, Any]) -> None:
    """Only a supervisor lifts an undercover restriction.

    Lifting it puts an undercover officer's case (names, places, vehicles) into every briefing and list
    the agency sees, at once and for good: one analyst's mistaken PATCH could expose an officer. A
    supervisor is accountable for deployments and can tell whether the operation has ended; an analyst
    named on the case may still add or tighten any restriction.
    """
    lifting = case.restriction == Restriction.UNDERCOVER and changes.get("restriction", case.restriction) != (
        Restriction.UNDERCOVER)
    if lifting and user.role != Role.SUPERVISOR:
        raise PermissionDenied("Only a supervisor can lift an undercover restriction.",
                               code="restriction_needs_supervisor", fields={"restriction": ["supervisor only"]})


def case_update(*, case_id: int, updated_by: User, changes: dict[str, Any], ip: str | None = None) -> Case:
    unknown = set(changes) - set(CASE_EDITABLE_FIELDS)
    if unknown:
        raise ValidationFailed("These fields cannot be changed.", code="field_not_editable",
                               fields={name: ["not editable"] for name in sorted(unknown)})
    with transaction.atomic():
        case = locked_get(records_visible_to(user=updated_by, model=Case), pk=case_id, noun="Case",
                          code="case_not_found")
        if not record_is_visible(user=updated_by, obj=case, action="change"):
            raise PermissionDenied("You may read this case but not change it.", code="case_read_only")
        _restriction_change_check(case=case, user=updated_by, changes=changes)
        before = {name: getattr(case, name) for name in changes}
        for name, value in changes.items():
            setattr(case, name, value)
        case.save()
        changed = sorted(name for name in changes if before[name] != changes[name])
        audit_record(actor=updated_by, action=AuditEvent.Action.UPDATE, obj=case, ip=ip, detail={"fields": changed})
    return case


def record_access_grant(*, obj: Case | Person | Vehicle | Premise, grantee: User, granted_by: User | None,
                        can_change: bool = False, ip: str | None = None) -> None:
    """Name a user on a record, so they see it even when it is restricted."""
    if grantee.role not in AGENCY_ROLES:
        raise ValidationFailed("Only officers, analysts and supervisors can be named on case files.",
                               code="grantee_role_not_allowed", fields={"user_id": ["role not allowed"]})
    model_name = obj._meta.model_name
    perms = [f"view_{model_name}"] + ([f"change_{model_name}"] if can_change else [])
    with transaction.atomic():
        for perm in perms:
            assign_perm(perm, grantee, obj)
        audit_record(actor=granted_by, action=AuditEvent.Action.PERMISSION_GRANTED, obj=obj, ip=ip,
                     detail={"grantee_id": grantee.pk, "permissions": perms})


def record_access_revoke(*, obj: Case | Person | Vehicle | Premise, grantee: User, revoked_by: User | None,
                         ip: str | None = None) -> None:
    model_name = obj._meta.model_name
    perms = [f"view_{model_name}", f"change_{model_name}"]
    with transaction.atomic():
        for perm in perms:
            remove_perm(perm, grantee, obj)
        audit_record(actor=revoked_by, action=AuditEvent.Action.PERMISSION_REVOKED, obj=obj, ip=ip,
                     detail={"grantee_id": grantee.pk, "permissions": perms})


def case_access_change(*, case_id: int, grantee_id: int, changed_by: User, grant: bool, can_change: bool = False,
                       ip: str | None = None) -> Case:
    """A supervisor, or anyone who may change the case, names (or un-names) a colleague on it."""
    case = records_visible_to(user=changed_by, model=Case).filter(pk=case_id).first()
    if case is None:
        raise NotFound("Case not found.", code="case_not_found")
    if not record_is_visible(user=changed_by, obj=case, action="change"):
        raise PermissionDenied("You may read this case but not change who sees it.", code="case_read_only")
    grantee = User.objects.filter(pk=grantee_id, agency=changed_by.agency, is_active=True).first()
    if grantee is None:
        raise ValidationFailed("Unknown user.", code="unknown_user", fields={"user_id": ["not found"]})
    if grant:
        record_access_grant(obj=case, grantee=grantee, granted_by=changed_by, can_change=can_change, ip=ip)
    else:
        record_access_revoke(obj=case, grantee=grantee, revoked_by=changed_by, ip=ip)
    return case


def person_photo_add(*, person: Person, filename: str, content: bytes, content_type: str = "",
                     taken_on: date | None = None, added_by: User | None = None,
                     ip: str | None = None) -> PersonPhoto:
    """Store a person's photo through the one photo road (apps.media.photos): original and variants, or nothing."""
    photo = PersonPhoto(person=person, taken_on=taken_on, added_by=added_by)

    def audit() -> None:
        if added_by is not None:
            audit_record(actor=added_by, action=AuditEvent.Action.CREATE, obj=photo, ip=ip,
                         detail={"person_id": person.pk, "sha256": photo.sha256})

    return photo_store(photo=photo, variant_model=PersonPhotoVariant, content=content, content_type=content_type,
                       after=audit)


def person_photo_upload(*, user: User, person_id: int, filename: str, content: bytes, content_type: str = "",
                        taken_on: date | None = None, ip: str | None = None) -> PersonPhoto:
    """An analyst or supervisor attaches a photo to a person they may see."""
    person = records_visible_to(user=user, model=Person).filter(pk=person_id).first()
    if person is None:
        raise NotFound("Person not found.", code="person_not_found")
    if user.role not in CENTER_ROLES:
        raise PermissionDenied("Only analysts and supervisors add photos.", code="person_read_only")
    return person_photo_add(person=person, filename=filename, content=content, content_type=content_type,
                            taken_on=taken_on, added_by=user, ip=ip)


CASE_OBJECT = "cases.case"


def case_push(*, case_id: int, pushed_by: User, audience: Any, ip: str | None = None) -> Any:
    """An analyst or supervisor sends a case file to an audience (e.g. the units on a beat).

    Recipients are resolved after commit and each is checked against the case's
    object permissions: a restricted case reaches only the users named on it.
    """
    from apps.delivery.services import push_create

    case = records_visible_to(user=pushed_by, model=Case).filter(pk=case_id).first()
    if case is None:
        raise NotFound("Case not found.", code="case_not_found")
    if pushed_by.role not in CENTER_ROLES:
        raise PermissionDenied("Only analysts and supervisors push case files.", code="push_not_allowed")
    return push_create(agency_id=case.agency_id, sent_by=pushed_by, type="case", op="pushed",
                       object_type=CASE_OBJECT, object_id=str(case.pk), payload={"case_id": case.pk},
                       priority=3, audience=audience)


def case_recipients_allowed(object_id: str, users: list[int]) -> list[int]:
    """Who may be sent this case: exactly those who could open it."""
    if not object_id.isdigit():
        return []
    return [user.pk for user in User.objects.filter(pk__any=users, is_active=True)
            if records_visible_to(user=user, model=Case).filter(pk=int(object_id)).exists()]
