"""Who may do what by role, and who may be told of an agency's records: each rule written once, here.

Object permissions (a restricted case names its readers) stay with the app that owns the
object; this module holds the role sets and the agency-and-role recipient rule they all
start from. A new capability names the set it means (`CENTER_ROLES`, `AGENCY_ROLES`, ...)
instead of spelling a new one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.db.models import Model, Subquery

from apps.accounts.models import Role, User

# The center's staff: they edit and push briefings and case files, verify alerts, keep hot lists and
# co-responder rules, cut clips, open originals and pick recipients.
CENTER_ROLES = frozenset({Role.ANALYST, Role.SUPERVISOR})
# Everyone who works an agency's calls: they read its calls, cases and alerts and receive its pushes.
# Co-responders get referrals through their own feed only; administrators and auditors see no case data.
AGENCY_ROLES = frozenset({Role.OFFICER, Role.ANALYST, Role.SUPERVISOR})
# Who may write calls and assignments as the CAD does: its machine account, and the center's analysts and
# supervisors (to enter a call by hand when the CAD link is down).
CAD_ROLES = frozenset({Role.INTEGRATION, *CENTER_ROLES})
# Who keeps the camera registry (and moves a camera): the center and the agency's administrators.
CAMERA_REGISTRY_ROLES = frozenset({*CENTER_ROLES, Role.ADMINISTRATOR})
# CJIS 5.6.2.2: advanced authentication for everyone who works from the center or holds the keys;
# officers in a secure patrol car may sign in with a password.
MFA_REQUIRED_ROLES = frozenset({*CENTER_ROLES, Role.ADMINISTRATOR, Role.AUDITOR})


def is_center(user: Any) -> bool:
    """An analyst or supervisor (anonymous users and machine accounts are not)."""
    return getattr(user, "role", None) in CENTER_ROLES


def is_cad_writer(user: Any, *, agency_id: int | None = None) -> bool:
    """Writes calls and assignments as the CAD does, for their own agency (and `agency_id`, when given, is it)."""
    return (getattr(user, "role", None) in CAD_ROLES and user.agency_id is not None
            and (agency_id is None or user.agency_id == agency_id))


def is_administrator(user: Any) -> bool:
    return getattr(user, "role", None) == Role.ADMINISTRATOR


def agency_staff_among(*, users: Iterable[int], agency: int | Subquery | None,
                       roles: frozenset[str] = AGENCY_ROLES) -> list[int]:
    """Of these users, the active ones of the agency holding one of `roles`: who may be told of its records."""
    if agency is None:
        return []
    return list(User.objects.filter(pk__any=list(users), is_active=True, role__in=roles)
                .filter(agency_id=agency)  # type: ignore[misc]  # a subquery is a value here too
                .values_list("pk", flat=True))


def agency_staff(*, agency_id: int, roles: frozenset[str] = AGENCY_ROLES) -> list[int]:
    """The active users of the agency holding one of `roles` (e.g. the consoles: CENTER_ROLES)."""
    return list(User.objects.filter(agency_id=agency_id, is_active=True, role__in=roles)
                .values_list("pk", flat=True))


def agency_staff_filter(model: type[Model]) -> Callable[[str, list[int]], list[int]]:
    """A recipient filter for a record the agency's whole staff may read (briefings, clips, alerts, call photos).

    For apps.delivery's recipient_filter_register: of the candidates, the active officers, analysts and
    supervisors of the record's agency; one query, the agency as a subquery (no record, no agency, nobody).
    """
    def allowed(object_id: str, users: list[int]) -> list[int]:
        if not object_id.isdigit():
            return []
        agency = Subquery(model._default_manager.filter(pk=int(object_id)).values("agency_id")[:1])
        return agency_staff_among(users=users, agency=agency)

    allowed.__name__ = f"{model._meta.model_name}_recipients_allowed"
    return allowed
