"""Who sees which unit live: the center all of its agency, officers their calls and near them, Cora only her
referral's unit while she works it, Xavier nothing of this agency."""

from __future__ import annotations

import pytest
from django.utils import timezone

from apps.accounts.models import Role, Unit
from apps.audit.models import AuditEvent
from apps.calls.models import UnitAssignment
from apps.referrals.models import Outcome
from apps.referrals.services import referral_transition
from tests.base import World, make_user, signed_in_client
from tests.briefings.helpers import make_call
from tests.locations.helpers import fix, post_positions
from tests.referrals.helpers import refer, referral_scene

pytestmark = pytest.mark.django_db


def _on_patrol(world: World, call_sign: str, lat: float, lon: float) -> Unit:
    """Another unit of Demo City, with its officer on shift, reporting where it is."""
    unit = Unit.objects.create(agency=world.agency, call_sign=call_sign, district="South", beat="R3")
    officer = make_user(call_sign.lower(), Role.OFFICER, world.agency)
    unit.members_on_shift.add(officer)
    assert post_positions(signed_in_client(officer), fix(lat=lat, lon=lon, ago_s=3)).json()["recorded"] == 1
    return unit


def _seen(user: object) -> set[str]:
    response = signed_in_client(user).get("/api/v1/units/positions")  # type: ignore[arg-type]
    assert response.status_code == 200, response.content
    return {p["call_sign"] for p in response.json()["results"]}


@pytest.fixture
def patrol(world: World) -> dict[str, Unit]:
    post_positions(signed_in_client(world.omar), fix(ago_s=3))
    return {"near": _on_patrol(world, "2B3", 47.5350, -122.2700),  # 545 m north of Omar
            "far": _on_patrol(world, "3C1", 47.6200, -122.3300)}  # downtown, 11 km away


def test_analysts_and_supervisors_see_the_whole_agency(world: World, patrol: dict[str, Unit]) -> None:
    assert _seen(world.ava) == {"2A12", "2B3", "3C1"}
    assert _seen(world.sam) == {"2A12", "2B3", "3C1"}


def test_an_officer_sees_his_unit_and_those_near_it(world: World, patrol: dict[str, Unit]) -> None:
    assert _seen(world.omar) == {"2A12", "2B3"}


def test_an_officer_sees_the_units_on_his_call_wherever_they_are(world: World, patrol: dict[str, Unit]) -> None:
    call = make_call(world, event="26-0500001")
    now = timezone.now()
    UnitAssignment.objects.create(call=call, unit=world.unit, assigned_at=now)
    UnitAssignment.objects.create(call=call, unit=patrol["far"], assigned_at=now)
    assert _seen(world.omar) == {"2A12", "2B3", "3C1"}


def test_xavier_administrators_and_auditors_see_nothing(world: World, patrol: dict[str, Unit]) -> None:
    for user in (world.xavier, world.abe, world.aud, world.cora):
        assert _seen(user) == set()


def test_cora_sees_her_referrals_unit_only_while_she_works_it(world: World, patrol: dict[str, Unit]) -> None:
    scene = referral_scene(world)
    referral = refer(scene)
    assert _seen(world.cora) == set()  # offered, not yet hers
    referral_transition(referral_id=referral.pk, user=world.cora, to="accepted")
    assert _seen(world.cora) == {"2A12"}
    referral_transition(referral_id=referral.pk, user=world.cora, to="en_route")
    referral_transition(referral_id=referral.pk, user=world.cora, to="on_scene")
    assert _seen(world.cora) == {"2A12"}
    referral_transition(referral_id=referral.pk, user=world.cora, to="closed", outcome=Outcome.values[0])
    assert _seen(world.cora) == set()


def test_the_live_snapshot_is_audited(world: World, patrol: dict[str, Unit]) -> None:
    _seen(world.ava)
    event = AuditEvent.objects.filter(actor=world.ava, object_type="accounts.unit").latest("id")
    assert event.detail == {"purpose": "live_positions"} and len(event.object_ids) == 3
