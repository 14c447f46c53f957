"""The CAD writes calls and assignments: idempotent, validated, and only for CAD writers."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from apps.accounts.models import Role, Unit
from apps.audit.models import AuditEvent
from apps.briefings.tasks import briefing_assemble_task
from apps.calls import services
from apps.calls.models import CadTypeMapping, Call, Category, UnitAssignment
from apps.cases.models import Premise
from apps.common.errors import NotFound, ValidationFailed
from apps.places.geo import geohash_encode
from apps.places.normalize import address_key
from tests.base import World, make_user, signed_in_client

EVENT = "26-0001234"
URL = f"/api/v1/cad/calls/{EVENT}"
RECEIVED = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
Queued = list[tuple[int, str]]


def _call(**extra: Any) -> dict[str, Any]:
    return {"cad_code": "ASLT", "cad_description": "Assault in progress", "address": "1500 BLOCK OF 3RD AVE",
            "narrative": "Two males fighting outside the bar.", "received_at": "2026-11-24T08:00:00Z", **extra}


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "fields"}
    assert body["code"] == code
    return body


def _audits(action: str, object_type: str = "calls.call") -> int:
    return AuditEvent.objects.filter(action=action, object_type=object_type).count()


def _nothing_written() -> None:
    assert not Call.objects.exists()
    assert _audits(AuditEvent.Action.CREATE) == 0


@pytest.fixture
def cad(world: World) -> APIClient:
    return signed_in_client(make_user("cad", Role.INTEGRATION, world.agency))


@pytest.fixture
def assembled(monkeypatch: pytest.MonkeyPatch) -> Queued:
    """Briefing assemblies handed to Celery, as (call id, reason): the queue is the boundary."""
    queued: Queued = []
    monkeypatch.setattr(briefing_assemble_task, "delay", lambda call_id, reason: queued.append((call_id, reason)))
    return queued


def test_it_creates_the_call_then_a_retry_changes_nothing(
        world: World, cad: APIClient, assembled: Queued, django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        first = cad.put(URL, _call(), format="json")
    assert first.status_code == 201, first.content
    call = Call.objects.get()
    stamp = call.updated_at

    with django_capture_on_commit_callbacks(execute=True):
        again = cad.put(URL, _call(), format="json")

    assert again.status_code == 200
    assert again.json() == first.json()
    assert Call.objects.get().updated_at == stamp
    assert (_audits(AuditEvent.Action.CREATE), _audits(AuditEvent.Action.UPDATE)) == (1, 0)
    assert assembled == [(call.pk, "call_created")]
    body = first.json()
    assert (body["event_number"], body["cad_code"], body["source"], body["status"]) == (EVENT, "ASLT", "cad",
                                                                                        "received")


def test_a_changed_retry_updates_only_what_changed_and_names_it(
        world: World, cad: APIClient, assembled: Queued, django_capture_on_commit_callbacks: Any) -> None:
    cad.put(URL, _call(), format="json")

    with django_capture_on_commit_callbacks(execute=True):
        response = cad.put(URL, _call(priority=1, narrative="Now one has a knife."), format="json")

    assert response.status_code == 200
    assert (response.json()["priority"], response.json()["narrative"]) == (1, "Now one has a knife.")
    event = AuditEvent.objects.get(action=AuditEvent.Action.UPDATE, object_type="calls.call")
    assert event.detail == {"fields": ["narrative", "priority"]}
    assert assembled == [(Call.objects.get().pk, "call_updated")]


def test_an_unknown_cad_code_is_kept_categorised_unknown_and_flagged(world: World, cad: APIClient) -> None:
    body = cad.put(URL, _call(cad_code="ZZTOP"), format="json").json()
    assert (body["cad_code"], body["category"], body["cad_code_unmapped"], body["priority"]) == (
        "ZZTOP", "unknown", True, 3)


def test_a_mapped_code_gives_its_category_and_priority_and_the_cads_priority_wins(world: World,
                                                                                  cad: APIClient) -> None:
    CadTypeMapping.objects.create(agency=world.agency, code="ASLT", category=Category.VIOLENT, priority=2)

    body = cad.put(URL, _call(), format="json").json()
    assert (body["category"], body["cad_code_unmapped"], body["priority"]) == ("violent", False, 2)

    body = cad.put(URL, _call(priority=1), format="json").json()
    assert body["priority"] == 1


def test_a_call_without_coordinates_at_a_known_premise_is_located_by_the_premise(world: World,
                                                                                 cad: APIClient) -> None:
    address = "1500 BLOCK OF 3RD AVE"
    premise = Premise.objects.create(agency=world.agency, address=address, address_key=address_key(address),
                                     latitude=47.6101, longitude=-122.3366, cell=geohash_encode(47.6101, -122.3366))

    body = cad.put(URL, _call(address=address), format="json").json()

    assert (body["located_by"], body["premise_id"]) == ("premise", premise.pk)
    assert (body["latitude"], body["longitude"]) == (47.6101, -122.3366)
    assert Call.objects.get().cell == premise.cell


def test_a_call_at_an_unknown_address_without_coordinates_stays_unlocated(world: World, cad: APIClient) -> None:
    body = cad.put(URL, _call(address="77 NOWHERE LN"), format="json").json()
    assert (body["located_by"], body["latitude"], body["premise_id"]) == ("", None, None)
    assert Call.objects.get().cell == ""


def test_a_call_with_coordinates_is_located_by_the_cad(world: World, cad: APIClient) -> None:
    body = cad.put(URL, _call(latitude=47.6, longitude=-122.3), format="json").json()
    assert body["located_by"] == "cad"
    assert Call.objects.get().cell == geohash_encode(47.6, -122.3)


def test_the_same_event_number_in_another_agency_is_another_call(world: World, cad: APIClient) -> None:
    other_cad = signed_in_client(make_user("cad-other", Role.INTEGRATION, world.other_agency))

    assert cad.put(URL, _call(), format="json").status_code == 201
    assert other_cad.put(URL, _call(cad_code="THEFT"), format="json").status_code == 201

    assert set(Call.objects.values_list("agency_id", "cad_code")) == {(world.agency.pk, "ASLT"),
                                                                      (world.other_agency.pk, "THEFT")}


@pytest.mark.parametrize("persona", ["ava", "sam"])
def test_analysts_and_supervisors_may_enter_a_call_by_hand(world: World, persona: str) -> None:
    response = signed_in_client(world.personas[persona]).put(URL, _call(), format="json")
    assert response.status_code == 201


@pytest.mark.parametrize("persona", ["omar", "cora", "abe", "aud", "xavier"])
def test_the_cad_endpoints_do_not_exist_for_anyone_else(world: World, cad: APIClient, persona: str) -> None:
    cad.put(URL, _call(), format="json")
    client = signed_in_client(world.personas[persona])
    before = (Call.objects.get().updated_at, UnitAssignment.objects.count())

    answers = [
        client.put(URL, _call(priority=1), format="json"),
        client.put("/api/v1/cad/calls/26-999", _call(), format="json"),
        client.post(f"{URL}/assignments", {"unit": "2A12"}, format="json"),
        client.delete(f"{URL}/assignments/2A12"),
        client.post("/api/v1/cad/eido", {"$id": "x"}, format="json"),
        client.put(URL, data="{not json", content_type="application/json"),
    ]

    for response in answers:
        _error(response, 404, "not_found")
    assert Call.objects.count() == 1
    assert (Call.objects.get().updated_at, UnitAssignment.objects.count()) == before
    assert not AuditEvent.objects.filter(actor=world.personas[persona], object_type__startswith="calls.").exists()


def test_the_cad_endpoints_need_a_signed_in_client(world: World) -> None:
    assert APIClient().put(URL, _call(), format="json").status_code == 401
    _nothing_written()


# Assignments


def test_assigning_a_unit_dispatches_the_call_and_a_second_time_changes_nothing(
        world: World, cad: APIClient, assembled: Queued, django_capture_on_commit_callbacks: Any) -> None:
    cad.put(URL, _call(), format="json")

    with django_capture_on_commit_callbacks(execute=True):
        first = cad.post(f"{URL}/assignments", {"unit": "2A12"}, format="json")
        again = cad.post(f"{URL}/assignments", {"unit": "2A12"}, format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["unit"] == "2A12"
    call = Call.objects.get()
    assert (call.status, call.dispatched_at is not None) == ("dispatched", True)
    assert UnitAssignment.objects.count() == 1
    assert _audits(AuditEvent.Action.CREATE, "calls.unitassignment") == 1
    assert assembled == [(call.pk, "unit_assigned")]
    detail = cad.put(URL, _call(), format="json").json()
    assert [a["unit"] for a in detail["assignments"]] == ["2A12"]


def test_a_call_on_scene_stays_on_scene_when_another_unit_is_assigned(world: World, cad: APIClient) -> None:
    Unit.objects.create(agency=world.agency, call_sign="2A14")
    cad.put(URL, _call(status="on_scene"), format="json")

    cad.post(f"{URL}/assignments", {"unit": "2A14"}, format="json")

    assert Call.objects.get().status == "on_scene"


def test_clearing_a_unit_keeps_the_assignment_as_history_and_is_idempotent(world: World, cad: APIClient) -> None:
    cad.put(URL, _call(), format="json")
    cad.post(f"{URL}/assignments", {"unit": "2A12"}, format="json")

    first = cad.delete(f"{URL}/assignments/2A12")
    audits = AuditEvent.objects.count()
    again = cad.delete(f"{URL}/assignments/2A12")

    assert (first.status_code, again.status_code) == (204, 204)
    assert UnitAssignment.objects.get().cleared_at is not None
    assert AuditEvent.objects.count() == audits
    # Sent back to the call later: assigned again.
    assert cad.post(f"{URL}/assignments", {"unit": "2A12"}, format="json").status_code == 201
    assert UnitAssignment.objects.get().cleared_at is None


def test_an_unknown_unit_gets_400_unknown_unit(world: World, cad: APIClient) -> None:
    cad.put(URL, _call(), format="json")
    Unit.objects.create(agency=world.other_agency, call_sign="9X99")  # another agency's unit is unknown here too

    for sign in ("NOPE1", "9X99"):
        body = _error(cad.post(f"{URL}/assignments", {"unit": sign}, format="json"), 400, "unknown_unit")
        assert body["fields"] == {"unit": ["unknown call sign"]}
    _error(cad.delete(f"{URL}/assignments/NOPE1"), 400, "unknown_unit")
    assert not UnitAssignment.objects.exists()
    assert Call.objects.get().status == "received"


def test_assigning_to_an_unknown_event_number_gets_404_call_not_found(world: World, cad: APIClient) -> None:
    _error(cad.post(f"{URL}/assignments", {"unit": "2A12"}, format="json"), 404, "call_not_found")
    _error(cad.delete(f"{URL}/assignments/2A12"), 404, "call_not_found")


# Bad input


def test_malformed_json_gets_400_malformed_json_and_writes_nothing(world: World, cad: APIClient) -> None:
    _error(cad.put(URL, data='{"cad_code": "ASLT", ', content_type="application/json"), 400, "malformed_json")
    _nothing_written()


@pytest.mark.parametrize(
    ("body", "bad_field"),
    [
        (_call(cad_code=["ASLT"]), "cad_code"),
        (_call(cad_code=""), "cad_code"),
        (_call(priority="high"), "priority"),
        (_call(priority=0), "priority"),
        (_call(latitude="north", longitude=-122.3), "latitude"),
        (_call(latitude=91, longitude=-122.3), "latitude"),
        (_call(latitude=47.6, longitude=-200), "longitude"),
        (_call(latitude=47.6), "latitude"),
        (_call(status="maybe"), "status"),
        (_call(received_at="yesterday"), "received_at"),
        (_call(received_at="2026-11-24T08:00:00"), "received_at"),
        (_call(address="x" * 201), "address"),
        ({"cad_code": "ASLT"}, "received_at"),
    ],
    ids=["code-as-list", "code-blank", "priority-as-text", "priority-zero", "latitude-as-text", "latitude-91",
         "longitude-200", "latitude-alone", "unknown-status", "time-as-words", "time-without-zone",
         "address-too-long", "missing-time"],
)
def test_wrong_types_and_ranges_get_400_invalid_naming_the_field(world: World, cad: APIClient,
                                                                 body: dict[str, Any], bad_field: str) -> None:
    fields = _error(cad.put(URL, body, format="json"), 400, "invalid")["fields"]
    assert bad_field in fields
    _nothing_written()


def test_a_json_body_that_is_not_an_object_gets_400(world: World, cad: APIClient) -> None:
    _error(cad.put(URL, data="[1, 2]", content_type="application/json"), 400, "invalid")
    _nothing_written()


def test_a_body_over_the_size_limit_gets_413_and_writes_nothing(world: World, cad: APIClient) -> None:
    huge = json.dumps(_call(narrative="x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE))
    _error(cad.put(URL, data=huge, content_type="application/json"), 413, "body_too_large")
    _nothing_written()


@pytest.mark.parametrize("event_number", ["26 0001", "x" * 41, "26%2F0001", "26;drop"])
def test_an_event_number_outside_the_url_alphabet_is_no_address_at_all(world: World, cad: APIClient,
                                                                       event_number: str) -> None:
    _error(cad.put(f"/api/v1/cad/calls/{event_number}", _call(), format="json"), 404, "not_found")
    _nothing_written()


# Races


def test_two_creates_of_one_event_number_end_with_one_call(world: World) -> None:
    args: dict[str, Any] = {"agency": world.agency, "event_number": EVENT, "actor": None, "source": "cad",
                            "cad_code": "ASLT", "received_at": RECEIVED}

    first, created = services.call_upsert(**args)
    second, changed = services.call_upsert(**args)

    assert (created, changed, second.pk) == (True, False, first.pk)
    assert Call.objects.count() == 1


def test_a_create_that_loses_the_race_becomes_an_update_of_the_winner(world: World,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    args: dict[str, Any] = {"agency": world.agency, "event_number": EVENT, "actor": None, "source": "cad",
                            "cad_code": "ASLT", "received_at": RECEIVED}
    winner, _ = services.call_upsert(**args)
    real_lookup = services._existing_call
    lookups: list[str] = []

    def first_lookup_misses(**kwargs: Any) -> Call | None:
        # Stands in for the other request committing between our read and our insert.
        lookups.append(kwargs["event_number"])
        return None if len(lookups) == 1 else real_lookup(**kwargs)

    monkeypatch.setattr(services, "_existing_call", first_lookup_misses)

    same, changed = services.call_upsert(**args)
    assert (same.pk, changed, len(lookups)) == (winner.pk, False, 2)

    lookups.clear()
    updated, changed = services.call_upsert(**{**args, "narrative": "More detail."})
    assert (updated.pk, changed, updated.narrative) == (winner.pk, True, "More detail.")
    assert Call.objects.count() == 1
    assert (_audits(AuditEvent.Action.CREATE), _audits(AuditEvent.Action.UPDATE)) == (1, 1)


# The service's other roads: status and linked people (the history import uses them)


def test_a_status_change_stamps_its_time_once_and_a_repeat_changes_nothing(world: World) -> None:
    call, _ = services.call_upsert(agency=world.agency, event_number=EVENT, actor=None, source="cad",
                                   cad_code="ASLT", received_at=RECEIVED)

    assert services.call_status_set(call=call, status="on_scene", actor=None) is True
    stamped = Call.objects.get().on_scene_at
    assert services.call_status_set(call=call, status="on_scene", actor=None) is False

    assert (Call.objects.get().status, Call.objects.get().on_scene_at) == ("on_scene", stamped)
    assert AuditEvent.objects.get(action=AuditEvent.Action.UPDATE).detail == {"fields": ["on_scene_at", "status"]}


def test_an_officer_cannot_use_the_write_services_either(world: World) -> None:
    with pytest.raises(NotFound):
        services.call_upsert(agency=world.agency, event_number=EVENT, actor=world.omar, source="cad",
                             cad_code="ASLT", received_at=RECEIVED)
    with pytest.raises(NotFound):  # a CAD account of another agency is nobody here
        services.call_upsert(agency=world.agency, event_number=EVENT, source="cad", cad_code="ASLT",
                             actor=make_user("cad-other", Role.INTEGRATION, world.other_agency),
                             received_at=RECEIVED)
    _nothing_written()


def test_people_are_linked_by_id_and_an_unknown_id_writes_nothing(world: World) -> None:
    args: dict[str, Any] = {"agency": world.agency, "event_number": EVENT, "actor": None, "source": "import",
                            "cad_code": "ASLT", "received_at": RECEIVED}
    with pytest.raises(ValidationFailed) as raised:
        services.call_upsert(**args, person_ids=[world.person.pk, world.xavier_person.pk])
    assert raised.value.code == "unknown_reference"
    _nothing_written()

    call, _ = services.call_upsert(**args, person_ids=[world.person.pk])
    assert list(call.people.all()) == [world.person]
    assert services.call_upsert(**args, person_ids=[world.person.pk])[1] is False
    assert services.call_upsert(**args)[1] is False  # None leaves the people as they are
    assert services.call_upsert(**args, person_ids=[])[1] is True
    assert AuditEvent.objects.get(action=AuditEvent.Action.UPDATE).detail == {"fields": ["people"]}
