"""Reading referrals: who may, what each side is shown, and the per-period report. Docs: docs/referrals.md.

Co-responders read only referrals of their own organisation that are theirs (offered to
them now, or accepted by them) while the agreement stands; a coordinator reads all of
the organisation's. The agency side reads its own: analysts and supervisors all, officers
those they asked for or whose call their unit is on. Anything else is "not found".

What a co-responder is shown is an allowlist (CO_RESPONDER_FIELDS), narrowed by the
agreement's share groups; the Part 2 notes are in no reader's fields at all. Every read
is audited with the fields that went to whom.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from apps.accounts.models import Role, User
from apps.accounts.policy import AGENCY_ROLES, CENTER_ROLES
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from apps.common.errors import NotFound, ValidationFailed
from apps.common.pagination import Page, keyset_page
from apps.referrals.models import Member, Outcome, Referral

# The co-responder's allowlist, by the agreement's share group. "always" travels with every referral:
# what it is, its state and times, and the co-responder's own notes.
CO_RESPONDER_FIELDS: dict[str, tuple[str, ...]] = {
    "always": ("id", "state", "outcome", "responder_kind", "priority", "created_at", "accepted_at",
               "en_route_at", "on_scene_at", "closed_at", "diverted_from_arrest", "health_notes", "history"),
    "location": ("address", "latitude", "longitude"),
    "call_type": ("call_type",),
    "safety": ("safety_flags", "police_first", "hazard_notes"),
    "approach_guidance": ("approach_guidance",),
    "language_needs": ("language_needs",),
    "callback": ("callback_number",),
    "requester_notes": ("requester_notes",),
}
# The agency side sees what the co-responder sees, and where it came from and who holds it.
AGENCY_EXTRA_FIELDS = ("call_id", "organisation", "team", "source", "recommendation_item", "requested_by",
                       "responder", "offers")


def member_of(user: User) -> Member | None:
    if user.role != Role.CO_RESPONDER:
        return None
    return Member.objects.select_related("organisation").filter(user=user).first()


def _agreement_stands(today: date) -> Q:
    return Q(agreement__starts_on__lte=today) & (Q(agreement__ends_on__isnull=True) | Q(agreement__ends_on__gte=today))


def referrals_visible_to(*, user: User) -> QuerySet[Referral]:
    if not user.is_active:
        return Referral.objects.none()
    if user.role == Role.CO_RESPONDER:
        member = member_of(user)
        if member is None:
            return Referral.objects.none()
        mine = Referral.objects.filter(_agreement_stands(timezone.localdate()), organisation_id=member.organisation_id)
        # `responder` is whoever holds the offer now or accepted it: a declined or lapsed offer is gone.
        return mine if member.is_coordinator else mine.filter(responder=user)
    if user.agency_id is None or user.role not in AGENCY_ROLES:
        return Referral.objects.none()
    agency = Referral.objects.filter(agency_id=user.agency_id)
    if user.role in CENTER_ROLES:
        return agency
    on_call = Referral.objects.filter(agency_id=user.agency_id, call__assignments__cleared_at__isnull=True,
                                      call__assignments__unit__members_on_shift=user).values("pk")
    return agency.filter(Q(requested_by=user) | Q(pk__in=on_call))


def referral_visible_to_user(*, user: User, referral_id: int) -> Referral:
    referral = referrals_visible_to(user=user).filter(pk=referral_id).first()
    if referral is None:
        raise NotFound("Referral not found.", code="referral_not_found")
    return referral


# --------------------------------------------------------------- what each side is shown


def _who(user: User | None, *, for_co_responder: bool) -> str | None:
    if user is None:
        return "system" if for_co_responder else None
    # A co-responder learns the role that acted, not the officer's name or badge.
    return str(user.role) if for_co_responder else user.username


def _history(referral: Referral, *, for_co_responder: bool) -> list[dict[str, Any]]:
    return [{"state": t.state, "at": t.at, "by": _who(t.by, for_co_responder=for_co_responder)}
            for t in referral.transitions.select_related("by").order_by("at", "pk")]


def _co_responder_values(referral: Referral) -> dict[str, Any]:
    shared = set(referral.agreement.shares) | {"always"}
    values: dict[str, Any] = {}
    for group, names in CO_RESPONDER_FIELDS.items():
        for name in names:
            if group not in shared:
                values[name] = None
            elif name == "history":
                values[name] = _history(referral, for_co_responder=True)
            else:
                values[name] = getattr(referral, name)
    return values


def agency_may_read_notes(referral: Referral) -> bool:
    return referral.is_open or referral.agreement.officers_read_notes_after_close


def _agency_values(referral: Referral) -> dict[str, Any]:
    values = {name: getattr(referral, name) for names in CO_RESPONDER_FIELDS.values() for name in names
              if name != "history"}
    values["history"] = _history(referral, for_co_responder=False)
    if not agency_may_read_notes(referral):
        values["health_notes"] = None
    values.update({
        "call_id": referral.call_id,
        "organisation": {"id": referral.organisation_id, "name": referral.organisation.name},
        "team": referral.team.name,
        "source": referral.source,
        "recommendation_item": referral.recommendation_item,
        "requested_by": referral.requested_by.username,
        "responder": referral.responder.get_full_name() if referral.responder else None,
        "offers": [{"user": o.user.get_full_name(), "offered_at": o.offered_at, "result": o.result,
                    "answered_at": o.answered_at} for o in referral.offers.select_related("user")],
    })
    return values


@dataclass(frozen=True)
class ReferralRead:
    referral: Referral
    # "co_responder" or "agency": which serializer renders `values`.
    audience: str
    values: dict[str, Any]

    @property
    def disclosed(self) -> list[str]:
        return sorted(name for name, value in self.values.items() if value not in (None, "", []))


def _read(*, user: User, referral: Referral) -> ReferralRead:
    if user.role == Role.CO_RESPONDER:
        return ReferralRead(referral, "co_responder", _co_responder_values(referral))
    return ReferralRead(referral, "agency", _agency_values(referral))


def _with_relations(referrals: QuerySet[Referral]) -> QuerySet[Referral]:
    return referrals.select_related("agreement", "organisation", "team", "requested_by", "responder")


def referral_get_for_user(*, user: User, referral_id: int, ip: str | None = None) -> ReferralRead:
    referral = _with_relations(referrals_visible_to(user=user)).filter(pk=referral_id).first()
    if referral is None:
        raise NotFound("Referral not found.", code="referral_not_found")
    read = _read(user=user, referral=referral)
    audit_record(actor=user, action=AuditEvent.Action.READ, obj=referral, ip=ip,
                 detail={"to": user.username, "audience": read.audience, "fields": read.disclosed})
    return read


def referral_read_after_write(*, user: User, referral: Referral, ip: str | None = None) -> ReferralRead:
    """What the writer is shown of the referral it just changed (still only what it may see)."""
    return referral_get_for_user(user=user, referral_id=referral.pk, ip=ip)


def referral_list_for_user(*, user: User, open_only: bool = False, cursor: str | None = None,
                           size: int = 50, ip: str | None = None) -> tuple[Page[Referral], list[ReferralRead]]:
    referrals = _with_relations(referrals_visible_to(user=user))
    if open_only:
        referrals = referrals.filter(state__in=Referral.OPEN_STATES)
    page = keyset_page([referrals], cursor=cursor, size=size)
    reads = [_read(user=user, referral=r) for r in page.items]
    audit_record(actor=user, action=AuditEvent.Action.READ, object_type=Referral._meta.label_lower,
                 objects=page.items, ip=ip,
                 detail={"to": user.username, "fields": sorted({f for r in reads for f in r.disclosed})})
    return page, reads


# --------------------------------------------------------------------------- reporting

PERIODS = ("day", "week", "month")
REPORT_COLUMNS = ("period_start", "referrals", "accepted", "declined", "accept_seconds_median",
                  "accept_seconds_p90", *(f"outcome_{o}" for o in Outcome.values), "diverted_from_arrest")


def _period_start(day: date, period: str) -> date:
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return day


def _p90(values: list[float]) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=10, method="inclusive")[8]


@dataclass(frozen=True)
class Report:
    side: str  # "organisation" or "agency"
    name: str
    start: date
    end: date
    period: str
    rows: list[dict[str, Any]]


def _report_scope(user: User) -> tuple[str, str, QuerySet[Referral]]:
    member = member_of(user)
    if member is not None and member.is_coordinator:
        return "organisation", member.organisation.name, Referral.objects.filter(organisation=member.organisation)
    if user.role in CENTER_ROLES and user.agency_id is not None and user.agency is not None:
        return "agency", user.agency.name, Referral.objects.filter(agency_id=user.agency_id)
    raise NotFound("Not found.", code="not_found")


def referral_report_for_user(*, user: User, start: date, end: date, period: str,
                             ip: str | None = None) -> Report:
    """Counts per period of the referrals made from `start` to `end` (both included), local time.

    A health-department coordinator gets its organisation's (every agency it serves); an
    analyst or supervisor gets the agency's (every organisation it works with). No one else.
    """
    side, name, referrals = _report_scope(user)
    errors: dict[str, list[str]] = {}
    if period not in PERIODS:
        errors["period"] = [f"one of {', '.join(PERIODS)}"]
    if end < start:
        errors["to"] = ["on or after `from`"]
    elif (end - start).days >= settings.REFERRAL_REPORT_MAX_DAYS:
        errors["to"] = [f"at most {settings.REFERRAL_REPORT_MAX_DAYS} days after `from`"]
    if errors:
        raise ValidationFailed("The report's span or period is wrong.", code="invalid_report", fields=errors)
    zone = timezone.get_current_timezone()
    since = datetime.combine(start, time.min, tzinfo=zone)
    until = datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone)
    rows: dict[date, dict[str, Any]] = {}
    waits: dict[date, list[float]] = {}
    for ref in referrals.filter(created_at__gte=since, created_at__lt=until).only(
            "created_at", "accepted_at", "declined_at", "outcome", "diverted_from_arrest"):
        key = _period_start(timezone.localtime(ref.created_at, zone).date(), period)
        row = rows.setdefault(key, {c: 0 for c in REPORT_COLUMNS} | {"period_start": key})
        row["referrals"] += 1
        if ref.accepted_at is not None:
            row["accepted"] += 1
            waits.setdefault(key, []).append((ref.accepted_at - ref.created_at).total_seconds())
        if ref.declined_at is not None and ref.accepted_at is None:
            row["declined"] += 1
        if ref.outcome:
            row[f"outcome_{ref.outcome}"] += 1
        if ref.diverted_from_arrest:
            row["diverted_from_arrest"] += 1
    for key, row in rows.items():
        found = sorted(waits.get(key, []))
        row["accept_seconds_median"] = round(statistics.median(found), 1) if found else None
        row["accept_seconds_p90"] = round(_p90(found), 1) if found else None
    report = Report(side=side, name=name, start=start, end=end, period=period,
                    rows=[rows[k] for k in sorted(rows)])
    audit_record(actor=user, action=AuditEvent.Action.READ, object_type="referrals.report", ip=ip,
                 detail={"side": side, "from": start.isoformat(), "to": end.isoformat(), "period": period})
    return report
