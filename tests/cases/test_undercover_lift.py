"""Lifting a case's undercover restriction needs a supervisor: one analyst's PATCH must not expose an officer.

The outside probe's finding: any analyst named on the case cleared it with one PATCH, nobody else involved.
"""

from __future__ import annotations

from apps.audit.models import AuditEvent
from apps.cases.models import Case, Restriction
from apps.cases.services import record_access_grant
from tests.base import World, signed_in_client


def _undercover_case(world: World) -> Case:
    world.case.restriction = Restriction.UNDERCOVER
    world.case.save()
    for user in (world.ava, world.sam):
        record_access_grant(obj=world.case, grantee=user, granted_by=None, can_change=True)
    return world.case


def test_an_analyst_named_on_the_case_cannot_lift_undercover(world: World) -> None:
    case = _undercover_case(world)
    response = signed_in_client(world.ava).patch(f"/api/v1/cases/{case.pk}", {"restriction": ""}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "restriction_needs_supervisor"
    case.refresh_from_db()
    assert case.restriction == Restriction.UNDERCOVER
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.UPDATE, object_id=str(case.pk)).exists()


def test_an_analyst_cannot_turn_undercover_into_a_weaker_restriction_either(world: World) -> None:
    case = _undercover_case(world)
    response = signed_in_client(world.ava).patch(f"/api/v1/cases/{case.pk}", {"restriction": "sealed"},
                                                 format="json")
    assert response.status_code == 403


def test_the_analyst_still_edits_the_rest_of_an_undercover_case(world: World) -> None:
    case = _undercover_case(world)
    response = signed_in_client(world.ava).patch(f"/api/v1/cases/{case.pk}", {"title": "Renamed"}, format="json")
    assert response.status_code == 200, response.content


def test_a_supervisor_named_on_the_case_lifts_it_and_the_audit_says_so(world: World) -> None:
    case = _undercover_case(world)
    response = signed_in_client(world.sam).patch(f"/api/v1/cases/{case.pk}", {"restriction": ""}, format="json")
    assert response.status_code == 200, response.content
    case.refresh_from_db()
    assert case.restriction == ""
    event = AuditEvent.objects.filter(action=AuditEvent.Action.UPDATE, object_id=str(case.pk)).latest("pk")
    assert event.actor_id == world.sam.pk and event.detail == {"fields": ["restriction"]}


def test_an_analyst_may_still_make_a_case_undercover(world: World) -> None:
    record_access_grant(obj=world.case, grantee=world.ava, granted_by=None, can_change=True)
    response = signed_in_client(world.ava).patch(f"/api/v1/cases/{world.case.pk}", {"restriction": "undercover"},
                                                 format="json")
    assert response.status_code == 200, response.content
