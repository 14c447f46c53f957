"""Hazards recorded on premises and people: who adds and removes them, and which are still active."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.common.errors import NotFound, PermissionDenied, ValidationFailed
from apps.hazards.models import RecordHazard
from apps.hazards.selectors import record_hazards_active
from apps.hazards.services import record_hazard_add, record_hazard_remove
from tests.base import World


def _dog(world: World, **extra: object) -> RecordHazard:
    args = {"premise_id": world.premise.pk, "kind": "dog", "description": "Two pit bulls in the back yard",
            "source": "Officer report, call 26-004411"} | extra
    return record_hazard_add(actor=world.ava, **args)  # type: ignore[arg-type]


def test_an_analyst_records_a_hazard_on_a_premise_and_it_is_audited_without_its_text(world: World) -> None:
    hazard = _dog(world, ip="10.0.0.7")

    assert (hazard.agency_id, hazard.created_by_id, hazard.premise_id, hazard.person_id) == (
        world.agency.pk, world.ava.pk, world.premise.pk, None)
    event = AuditEvent.objects.get(action="create", object_type="hazards.recordhazard")
    assert (event.actor_id, event.object_id, event.ip) == (world.ava.pk, str(hazard.pk), "10.0.0.7")
    assert event.detail == {"kind": "dog", "premise_id": world.premise.pk, "person_id": None}


def test_expired_hazards_are_not_active(world: World) -> None:
    now = timezone.now()
    lasting = _dog(world)
    passing = _dog(world, kind="hazmat", description="Propane tanks", expires_at=now + timedelta(hours=2))
    on_person = record_hazard_add(actor=world.sam, person_id=world.person.pk, kind="weapons",
                                  description="Carries a knife", source="Arrest record")

    assert {h.pk for h in record_hazards_active(premise_ids=[world.premise.pk], person_ids=[world.person.pk],
                                                now=now)} == {lasting.pk, passing.pk, on_person.pk}
    later = now + timedelta(hours=3)
    assert {h.pk for h in record_hazards_active(premise_ids=[world.premise.pk], person_ids=[world.person.pk],
                                                now=later)} == {lasting.pk, on_person.pk}


def test_active_hazards_take_one_query_and_none_for_no_records(world: World) -> None:
    _dog(world)
    with CaptureQueriesContext(connection) as queries:
        assert len(record_hazards_active(premise_ids=[world.premise.pk], person_ids=[], now=timezone.now())) == 1
    assert len(queries) == 1
    with CaptureQueriesContext(connection) as queries:
        assert record_hazards_active(premise_ids=[], person_ids=[], now=timezone.now()) == []
    assert len(queries) == 0


def test_a_hazard_on_a_premise_and_a_person_is_active_only_when_both_are_given(world: World) -> None:
    both = _dog(world, person_id=world.restricted_person.pk)  # Ava is named on the juvenile
    now = timezone.now()
    assert record_hazards_active(premise_ids=[world.premise.pk], person_ids=[], now=now) == []
    assert record_hazards_active(premise_ids=[world.premise.pk], person_ids=[world.restricted_person.pk],
                                 now=now) == [both]


@pytest.mark.parametrize("persona", ["xavier", "cora", "abe"])
def test_those_who_cannot_see_the_premise_get_not_found(world: World, persona: str) -> None:
    with pytest.raises(NotFound) as raised:
        record_hazard_add(actor=world.personas[persona], premise_id=world.premise.pk, kind="dog",
                          description="Dog", source="x")
    assert raised.value.code == "premise_not_found"
    assert not RecordHazard.objects.exists()


def test_an_officer_who_can_see_the_person_may_not_add_a_hazard(world: World) -> None:
    with pytest.raises(PermissionDenied) as raised:
        record_hazard_add(actor=world.omar, person_id=world.person.pk, kind="weapons", description="Knife",
                          source="x")
    assert raised.value.code == "hazard_read_only"
    with pytest.raises(NotFound) as hidden:
        record_hazard_add(actor=world.omar, person_id=world.restricted_person.pk, kind="weapons",
                          description="Knife", source="x")
    assert hidden.value.code == "person_not_found"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "volcano"}, "kind"),
        ({"description": "   "}, "description"),
        ({"source": "x" * 201}, "source"),
        ({"expires_at": "past"}, "expires_at"),
    ],
)
def test_bad_values_are_refused_and_nothing_is_written(world: World, change: dict[str, object], field: str) -> None:
    if change.get("expires_at") == "past":
        change = {"expires_at": timezone.now() - timedelta(minutes=1)}
    with pytest.raises(ValidationFailed) as raised:
        _dog(world, **change)
    assert field in raised.value.fields
    assert not RecordHazard.objects.exists()
    assert not AuditEvent.objects.filter(object_type="hazards.recordhazard").exists()


def test_removing_a_hazard_is_audited_and_only_for_analysts_and_supervisors(world: World) -> None:
    hazard = _dog(world)
    with pytest.raises(PermissionDenied):
        record_hazard_remove(actor=world.omar, hazard_id=hazard.pk)
    with pytest.raises(NotFound) as hidden:
        record_hazard_remove(actor=world.xavier, hazard_id=hazard.pk)
    assert hidden.value.code == "hazard_not_found"

    record_hazard_remove(actor=world.sam, hazard_id=hazard.pk)

    assert not RecordHazard.objects.exists()
    event = AuditEvent.objects.get(action="delete")
    assert (event.actor_id, event.object_type, event.object_id) == (world.sam.pk, "hazards.recordhazard",
                                                                   str(hazard.pk))


def test_a_hazard_linked_to_a_person_one_cannot_see_cannot_be_removed_by_id(world: World) -> None:
    both = _dog(world, person_id=world.restricted_person.pk)
    with pytest.raises(NotFound):
        record_hazard_remove(actor=world.sam, hazard_id=both.pk)  # Sam sees the premise, not the juvenile
    assert RecordHazard.objects.filter(pk=both.pk).exists()
