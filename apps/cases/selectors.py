"""Reads of case files. The only road to them, permission-filtered and audited.

What a user may not see does not exist for them: lists leave it out and
detail reads answer "not found" (404), never "forbidden", so ids leak nothing.
"""

from __future__ import annotations

import functools
from typing import Any, TypeVar

from django.contrib.auth.models import Permission
from django.db.models import Model, Prefetch, Q, QuerySet
from django.utils.crypto import salted_hmac

from apps.accounts.policy import AGENCY_ROLES, CENTER_ROLES
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record, audited_get
from apps.cases.models import (
    Case,
    CaseGroupObjectPermission,
    CasePerson,
    CaseUserObjectPermission,
    Person,
    PersonAlias,
    PersonGroupObjectPermission,
    PersonPhoto,
    PersonUserObjectPermission,
    Premise,
    PremiseGroupObjectPermission,
    PremiseUserObjectPermission,
    Vehicle,
    VehicleGroupObjectPermission,
    VehicleUserObjectPermission,
)
from apps.common.pagination import Page, keyset_page
from apps.media.photos import PhotoFile, photo_file_read

R = TypeVar("R", Case, Person, Vehicle, Premise)

# Roles that work with case files at all are AGENCY_ROLES: co-responders, administrators and auditors
# never read case content (least privilege); grants cannot change that. The center's (CENTER_ROLES) edit.

PERMISSION_TABLES: dict[type[Model], tuple[Any, Any]] = {
    Case: (CaseUserObjectPermission, CaseGroupObjectPermission),
    Person: (PersonUserObjectPermission, PersonGroupObjectPermission),
    Vehicle: (VehicleUserObjectPermission, VehicleGroupObjectPermission),
    Premise: (PremiseUserObjectPermission, PremiseGroupObjectPermission),
}


@functools.cache
def _permission_id(model: type[Model], action: str) -> int:
    return Permission.objects.get(content_type__app_label="cases", codename=f"{action}_{model._meta.model_name}").pk


def _role_default(*, user: Any, model: type[R], action: str) -> QuerySet[R]:
    allowed = AGENCY_ROLES if action == "view" else CENTER_ROLES
    if user.role not in allowed or user.agency_id is None:
        return model.objects.none()
    return model.objects.filter(agency_id=user.agency_id, restriction="")


def _granted(*, user: Any, model: type[R], action: str) -> QuerySet[R]:
    """Records named for this user, or a group of theirs, beyond the role default."""
    if user.role not in AGENCY_ROLES:
        return model.objects.none()
    user_table, group_table = PERMISSION_TABLES[model]
    perm = _permission_id(model, action)
    direct = user_table.objects.filter(user_id=user.pk, permission_id=perm).values("content_object_id")
    via_group = group_table.objects.filter(group__user=user.pk, permission_id=perm).values("content_object_id")
    # IN (a UNION b), not IN a OR IN b: PostgreSQL turns the union into a join on the
    # few granted ids, where the OR made it filter every row of the table (bench/case_list.py).
    return model.objects.filter(pk__in=direct.union(via_group)).exclude(agency_id=user.agency_id, restriction="")


def records_visible_to(*, user: Any, model: type[R], action: str = "view") -> QuerySet[R]:
    """Every record of `model` the user may view (or change, with action="change")."""
    default = _role_default(user=user, model=model, action=action)
    granted = _granted(user=user, model=model, action=action)
    return model.objects.filter(Q(pk__in=default.values("pk")) | Q(pk__in=granted.values("pk")))


def record_is_visible(*, user: Any, obj: Model, action: str = "view") -> bool:
    model = type(obj)
    return records_visible_to(user=user, model=model, action=action).filter(pk=obj.pk).exists()  # type: ignore[type-var]


def _page(*, user: Any, model: type[R], filters: Q, cursor: str | None, size: int) -> Page[R]:
    parts = [
        _role_default(user=user, model=model, action="view").filter(filters),
        _granted(user=user, model=model, action="view").filter(filters),
    ]
    return keyset_page(parts, cursor=cursor, size=size)


def search_term_digest(search: str) -> str:
    """The keyed hash a search is audited under: the same words in any order or case give the same digest.

    Keyed with SECRET_KEY (salted): someone reading the audit table cannot test guesses, while an
    investigator on the server can ask "who searched for this name?" by computing the digest of it.
    """
    words = " ".join(sorted(search.lower().split()))
    return salted_hmac("rtcc.audit.search-term", words, algorithm="sha256").hexdigest()


def _audited_page(*, user: Any, model: type[R], filters: Q, search: str, cursor: str | None, size: int,
                  ip: str | None) -> Page[R]:
    page = _page(user=user, model=model, filters=filters, cursor=cursor, size=size)
    audit_record(
        actor=user,
        action=AuditEvent.Action.SEARCH if search else AuditEvent.Action.READ,
        object_type=model._meta.label_lower,
        objects=page.items,
        ip=ip,
        # The search text can be a juvenile's name or a sealed case's title: auditors see no case content,
        # so only its keyed hash is kept, with the ids it found (object_ids).
        detail={"search_hmac": search_term_digest(search)} if search else {},
    )
    return page


def case_list_for_user(*, user: Any, search: str = "", status: str = "", cursor: str | None = None,
                       size: int = 50, ip: str | None = None) -> Page[Case]:
    filters = Q()
    if search:
        filters &= Q(number__icontains=search) | Q(title__icontains=search)
    if status:
        filters &= Q(status=status)
    return _audited_page(user=user, model=Case, filters=filters, search=search, cursor=cursor, size=size, ip=ip)


def _visible_people(user: Any) -> QuerySet[Person]:
    return records_visible_to(user=user, model=Person)


def case_file_get_for_user(*, user: Any, case_id: int, ip: str | None = None) -> Case:
    """One case with the people, vehicles and premises on it that this user may see."""
    cases = (
        records_visible_to(user=user, model=Case)
        .prefetch_related(
            Prefetch("caseperson_set", queryset=CasePerson.objects.filter(
                person__in=_visible_people(user)).select_related("person")),
            Prefetch("vehicles", queryset=records_visible_to(user=user, model=Vehicle)),
            Prefetch("premises", queryset=records_visible_to(user=user, model=Premise)),
        )
    )
    return audited_get(user=user, queryset=cases, pk=case_id, code="case_not_found", ip=ip)


def person_list_for_user(*, user: Any, search: str = "", cursor: str | None = None, size: int = 50,
                         ip: str | None = None) -> Page[Person]:
    """People, optionally searched by any part of their name or an alias."""
    filters = Q()
    for word in search.split():
        alias_match = PersonAlias.objects.filter(name__icontains=word).values("person_id")
        filters &= (Q(first_name__icontains=word) | Q(last_name__icontains=word) | Q(middle_name__icontains=word)
                    | Q(pk__in=alias_match))
    return _audited_page(user=user, model=Person, filters=filters, search=search, cursor=cursor, size=size, ip=ip)


def person_get_for_user(*, user: Any, person_id: int, ip: str | None = None) -> Person:
    persons = (
        records_visible_to(user=user, model=Person)
        .prefetch_related(
            "aliases",
            "warrants",
            "photos",
            Prefetch("vehicles", queryset=records_visible_to(user=user, model=Vehicle)),
            Prefetch("cases", queryset=records_visible_to(user=user, model=Case)),
        )
    )
    return audited_get(user=user, queryset=persons, pk=person_id, code="person_not_found", ip=ip)


def vehicle_list_for_user(*, user: Any, search: str = "", cursor: str | None = None, size: int = 50,
                          ip: str | None = None) -> Page[Vehicle]:
    filters = Q()
    if search:
        plate = "".join(ch for ch in search.upper() if ch.isalnum())
        filters &= Q(plate__icontains=plate) | Q(make__icontains=search) | Q(model__icontains=search)
    return _audited_page(user=user, model=Vehicle, filters=filters, search=search, cursor=cursor, size=size, ip=ip)


def vehicle_get_for_user(*, user: Any, vehicle_id: int, ip: str | None = None) -> Vehicle:
    vehicles = records_visible_to(user=user, model=Vehicle).prefetch_related(
        Prefetch("cases", queryset=records_visible_to(user=user, model=Case)))
    vehicle = audited_get(user=user, queryset=vehicles, pk=vehicle_id, code="vehicle_not_found", ip=ip)
    if vehicle.registered_owner_id and not _visible_people(user).filter(pk=vehicle.registered_owner_id).exists():
        vehicle.registered_owner = None  # the owner is restricted: the vehicle shows, the person does not
    return vehicle


def premise_list_for_user(*, user: Any, search: str = "", cursor: str | None = None, size: int = 50,
                          ip: str | None = None) -> Page[Premise]:
    filters = Q()
    for word in search.split():
        filters &= Q(address__icontains=word) | Q(name__icontains=word)
    return _audited_page(user=user, model=Premise, filters=filters, search=search, cursor=cursor, size=size, ip=ip)


def premise_get_for_user(*, user: Any, premise_id: int, ip: str | None = None) -> Premise:
    premises = (
        records_visible_to(user=user, model=Premise)
        .prefetch_related(Prefetch("cases", queryset=records_visible_to(user=user, model=Case)))
    )
    return audited_get(user=user, queryset=premises, pk=premise_id, code="premise_not_found", ip=ip)


def person_photo_file_get(*, user: Any, photo_id: int, variant: str, ip: str | None = None) -> PhotoFile:
    """One file of a photo of a person the user may see: a variant, or the original for analysts and supervisors."""
    photo = PersonPhoto.objects.filter(pk=photo_id, person__in=records_visible_to(user=user, model=Person)).first()
    return photo_file_read(user=user, photo=photo, variant=variant, ip=ip,
                           detail={"person_id": photo.person_id if photo else None})
