"""Reading briefings: who may, and what each reader is shown.

Officers read the briefings of calls their unit is assigned to, and those pushed
to them; analysts and
supervisors read every briefing of their agency. Anyone else: not found.
Items that point at a record the reader may not see (it became restricted
after assembly) are left out, and every read is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from apps.accounts.models import Role, User
from apps.accounts.policy import AGENCY_ROLES, CENTER_ROLES
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from apps.briefings.models import Briefing, BriefingVersion, RecommendationRule
from apps.briefings.services import BRIEFING_OBJECT, briefing_diff
from apps.cases.models import Person, Premise
from apps.cases.selectors import records_visible_to
from apps.common.errors import NotFound, ValidationFailed
from apps.delivery.selectors import object_ids_told_to

_REF_MODELS: dict[str, Any] = {"cases.person": Person, "cases.premise": Premise}


def briefing_visible_to(*, user: User) -> QuerySet[Briefing]:
    if user.agency_id is None:
        return Briefing.objects.none()
    if user.role in CENTER_ROLES:
        return Briefing.objects.filter(agency_id=user.agency_id)
    if user.role == Role.OFFICER:
        # One filter(), so both conditions hold for the same assignment: a unit cleared from the call
        # (kept as history) no longer opens its briefing.
        on_call = Briefing.objects.filter(agency_id=user.agency_id, call__assignments__unit__members_on_shift=user,
                                          call__assignments__cleared_at__isnull=True).values("pk")
        # A briefing an analyst pushed to this officer (by unit, beat, radius, ...) opens too.
        pushed = object_ids_told_to(user_id=user.pk, object_type=BRIEFING_OBJECT)
        return Briefing.objects.filter(Q(pk__in=on_call) | Q(pk__in=pushed), agency_id=user.agency_id)
    return Briefing.objects.none()


@dataclass(frozen=True)
class BriefingView:
    briefing: Briefing
    version: BriefingVersion
    items: list[dict[str, Any]]


def _visible_items(*, user: User, items: list[dict[str, Any]], include_hidden: bool) -> list[dict[str, Any]]:
    wanted: dict[str, set[int]] = {}
    for entry in items:
        if entry.get("ref"):
            wanted.setdefault(entry["ref"]["type"], set()).add(entry["ref"]["id"])
    allowed = {
        kind: set(records_visible_to(user=user, model=_REF_MODELS[kind]).filter(pk__in=ids)
                  .values_list("pk", flat=True))
        for kind, ids in wanted.items() if kind in _REF_MODELS
    }
    shown = []
    for entry in items:
        ref = entry.get("ref")
        if ref and ref["id"] not in allowed.get(ref["type"], set()):
            continue
        if entry.get("hidden") and not include_hidden:
            continue
        shown.append(entry)
    return shown


def _briefing_for_call(*, user: User, call_id: int) -> Briefing:
    briefing = briefing_visible_to(user=user).select_related("call").filter(call_id=call_id).first()
    if briefing is None or briefing.current_version == 0:
        raise NotFound("Briefing not found.", code="briefing_not_found")
    return briefing


def _view(*, user: User, briefing: Briefing, version: BriefingVersion, ip: str | None) -> BriefingView:
    # Editors see hidden items (to un-hide them); officers see what was meant for them.
    items = _visible_items(user=user, items=version.items, include_hidden=user.role in CENTER_ROLES)
    refs = [f"{i['ref']['type']}:{i['ref']['id']}" for i in items if i.get("ref")]
    audit_record(actor=user, action=AuditEvent.Action.READ, obj=briefing, ip=ip,
                 detail={"version": version.number, "records": refs})
    return BriefingView(briefing=briefing, version=version, items=items)


def briefing_get_for_user(*, user: User, call_id: int, ip: str | None = None) -> BriefingView:
    briefing = _briefing_for_call(user=user, call_id=call_id)
    version = briefing.versions.get(number=briefing.current_version)
    return _view(user=user, briefing=briefing, version=version, ip=ip)


def briefing_version_get_for_user(*, user: User, call_id: int, number: int, ip: str | None = None) -> BriefingView:
    briefing = _briefing_for_call(user=user, call_id=call_id)
    version = briefing.versions.filter(number=number).first()
    if version is None:
        raise NotFound("No such version.", code="version_not_found")
    return _view(user=user, briefing=briefing, version=version, ip=ip)


def briefing_versions_for_user(*, user: User, call_id: int) -> list[BriefingVersion]:
    briefing = _briefing_for_call(user=user, call_id=call_id)
    return list(briefing.versions.select_related("created_by").defer("items").order_by("-number"))


def briefing_diff_for_user(*, user: User, call_id: int, old: int, new: int,
                           ip: str | None = None) -> dict[str, Any]:
    """What changed between two versions, as this reader may see it."""
    briefing = _briefing_for_call(user=user, call_id=call_id)
    versions = {v.number: v for v in briefing.versions.filter(number__in=[old, new])}
    missing = [n for n in (old, new) if n not in versions]
    if missing:
        raise ValidationFailed("No such version.", code="version_not_found",
                               fields={"from" if old in missing else "to": ["no such version"]})
    include_hidden = user.role in CENTER_ROLES
    before = _visible_items(user=user, items=versions[old].items, include_hidden=include_hidden)
    after = _visible_items(user=user, items=versions[new].items, include_hidden=include_hidden)
    audit_record(actor=user, action=AuditEvent.Action.READ, obj=briefing, ip=ip, detail={"diff": [old, new]})
    return {"from": old, "to": new, **briefing_diff(before, after)}


def recommendation_rules_for_user(*, user: User) -> QuerySet[RecommendationRule]:
    if user.role not in AGENCY_ROLES or user.agency_id is None:
        return RecommendationRule.objects.none()
    return RecommendationRule.objects.filter(agency_id=user.agency_id)


