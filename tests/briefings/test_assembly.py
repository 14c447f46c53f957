from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from django.utils import timezone

from apps.briefings.models import Briefing
from apps.briefings.services import briefing_assemble
from apps.calls.models import UnitAssignment
from tests.base import World, signed_in_client
from tests.briefings.helpers import full_scene, make_call, premise_at


def _items(client: Any, call_id: int) -> dict[str, dict[str, Any]]:
    response = client.get(f"/api/v1/calls/{call_id}/briefing")
    assert response.status_code == 200, response.json()
    return {item["id"]: item for item in response.json()["items"]}


def test_omars_briefing_has_every_item_each_with_its_reason(world: World, tmp_path: Path) -> None:
    call = full_scene(world, tmp_path)
    items = _items(signed_in_client(world.omar), call.pk)

    prior = items["prior_calls:address"]
    assert prior["title"] == "3 prior calls on this block"  # the call gives only its hundred block
    assert prior["reason"]["rule"] == "prior_calls_at_address"
    assert prior["data"]["by_category"] == {"disturbance": 2, "mental_health": 1}

    person = items[f"person:{world.person.pk}"]
    assert "CAUTION: armed" in person["body"] and "W-2026-0042" in person["body"]
    assert person["reason"]["text"] == "On a case at this address"
    assert person["severity"] == "danger"

    dog = next(i for i in items.values() if i["section"] == "hazards" and i["data"].get("kind") == "dog")
    assert "pit bulls" in dog["body"] and dog["reason"]["text"] == "Recorded on this address by call H-0"

    health = items["health:hotspot"]
    assert health["stale"] is False and "N95" in health["body"] and "450" in health["body"]
    assert health["reason"]["rule"] == "health_hotspot"
    for entry in items.values():
        assert entry["reason"]["text"], entry["id"]
        assert entry["as_of"], entry["id"]


def test_a_sealed_case_at_the_address_never_shows_or_hints(world: World, tmp_path: Path) -> None:
    call = full_scene(world, tmp_path)
    for user in (world.omar, world.ava, world.sam):
        response = signed_in_client(user).get(f"/api/v1/calls/{call.pk}/briefing")
        text = response.content.decode()
        assert "Sealed" not in text and "26-000501" not in text
        assert "Witness" not in text


def test_the_same_call_in_xaviers_agency_says_nothing_of_demo_citys_records(world: World, tmp_path: Path) -> None:
    demo_call = full_scene(world, tmp_path)
    xavier_call = make_call(world, event="X-1", agency_id=world.other_agency.pk)
    briefing_assemble(call_id=xavier_call.pk, reason="call_created")
    # Xavier is on shift with his agency's unit on that call.
    from apps.accounts.models import Unit

    unit = Unit.objects.create(agency=world.other_agency, call_sign="X1")
    unit.members_on_shift.add(world.xavier)
    UnitAssignment.objects.create(call=xavier_call, unit=unit, assigned_at=timezone.now())

    xavier = signed_in_client(world.xavier)
    items = _items(xavier, xavier_call.pk)
    sections = {i["section"] for i in items.values()}
    assert not sections & {"prior_history", "people", "hazards", "health"}, items.keys()
    assert xavier.get(f"/api/v1/calls/{demo_call.pk}/briefing").status_code == 404


def test_only_officers_on_the_call_and_the_centre_read_the_briefing(world: World, tmp_path: Path) -> None:
    call = full_scene(world, tmp_path)
    from tests.base import make_user

    olga = make_user("olga", "officer", world.agency)  # same agency, not on the call
    for user, expected in ((world.omar, 200), (world.ava, 200), (world.sam, 200), (olga, 404), (world.cora, 404),
                           (world.abe, 404), (world.aud, 404), (world.xavier, 404)):
        assert signed_in_client(user).get(f"/api/v1/calls/{call.pk}/briefing").status_code == expected, user


def test_reassembly_with_nothing_new_stores_no_version(world: World, tmp_path: Path) -> None:
    call = full_scene(world, tmp_path)
    assert briefing_assemble(call_id=call.pk, reason="unit_assigned") is None
    assert Briefing.objects.get(call=call).current_version == 1


def test_an_update_produces_a_diff_naming_what_changed(world: World, tmp_path: Path) -> None:
    call = full_scene(world, tmp_path)
    ava = signed_in_client(world.ava)
    briefing_id = Briefing.objects.get(call=call).pk

    hidden = ava.patch(f"/api/v1/briefings/{briefing_id}/items/prior_calls:address", {"hidden": True},
                       format="json")
    assert hidden.status_code == 200 and hidden.json()["version"] == 2
    added = ava.post(f"/api/v1/briefings/{briefing_id}/items",
                     {"title": "Caller is the landlord", "body": "Callback 555-0100"}, format="json")
    assert added.status_code == 201

    call.narrative = "Loud argument; one man has a knife"
    call.save()
    briefing_assemble(call_id=call.pk, reason="call_updated")

    versions = ava.get(f"/api/v1/calls/{call.pk}/briefing/versions").json()
    assert [v["number"] for v in versions] == [4, 3, 2, 1]
    assert versions[2]["created_by"] == "ava" and versions[2]["changes"]["changed"] == [
        {"id": "prior_calls:address", "title": "3 prior calls on this block", "fields": ["hidden"]}]

    diff = ava.get(f"/api/v1/calls/{call.pk}/briefing/diff", {"from_version": 1, "to_version": 4}).json()
    # The knife in the new narrative is an officer-safety item of its own.
    assert sorted(a["title"] for a in diff["added"]) == ["Caller is the landlord",
                                                         "Weapon or violence reported in this call"]
    changed = {c["id"]: c["fields"] for c in diff["changed"]}
    assert changed["prior_calls:address"] == ["hidden"]
    assert "body" in changed["call"]

    # The hidden item is gone for Omar, and the analyst's edit survived re-assembly.
    omar_items = _items(signed_in_client(world.omar), call.pk)
    assert "prior_calls:address" not in omar_items
    assert any(i["title"] == "Caller is the landlord" for i in omar_items.values())


def test_officers_cannot_edit_and_xavier_cannot_find_the_briefing(world: World, tmp_path: Path) -> None:
    call = full_scene(world, tmp_path)
    briefing_id = Briefing.objects.get(call=call).pk
    url = f"/api/v1/briefings/{briefing_id}/items/call"
    assert signed_in_client(world.omar).patch(url, {"pinned": True}, format="json").status_code == 403
    assert signed_in_client(world.xavier).patch(url, {"pinned": True}, format="json").status_code == 404
    assert Briefing.objects.get(pk=briefing_id).current_version == 1


def test_stale_health_data_is_said_to_be_stale(world: World, tmp_path: Path) -> None:
    from tests.briefings.helpers import hotspot_dataset

    hotspot_dataset(tmp_path, week=timezone.now().date() - timedelta(days=60), rate=450.0)
    premise = premise_at(world)
    call = make_call(world, event="S-1", premise=premise)
    UnitAssignment.objects.create(call=call, unit=world.unit, assigned_at=timezone.now())
    briefing_assemble(call_id=call.pk, reason="call_created")
    health = _items(signed_in_client(world.omar), call.pk)["health:hotspot"]
    assert health["stale"] is True
    assert health["body"].startswith("Health data is stale")


def test_a_suicidal_caller_with_a_knife_gets_police_first_and_a_staged_technician(world: World) -> None:
    from apps.briefings.services import recommendation_rules_seed
    from apps.calls.models import Category

    recommendation_rules_seed(agency_id=world.agency.pk)
    call = make_call(world, event="K-1", category=Category.MENTAL_HEALTH, cad="PERSON IN CRISIS",
                     narrative="Caller says her son is suicidal and holding a knife")
    UnitAssignment.objects.create(call=call, unit=world.unit, assigned_at=timezone.now())
    briefing_assemble(call_id=call.pk, reason="call_created")
    item = _items(signed_in_client(world.omar), call.pk)["co_responder:behavioral_health"]
    assert item["title"] == "Police first; stage a behavioral-health technician"
    assert item["data"]["mode"] == "staged"
    assert "'knife' in the call text" in item["data"]["safety_reasons"]
    assert "Behavioral-health crisis: call category is Mental health" in item["reason"]["text"]


def test_stale_health_data_below_the_threshold_is_still_said_to_be_stale(world: World, tmp_path: Path) -> None:
    from tests.briefings.helpers import hotspot_dataset

    hotspot_dataset(tmp_path, week=timezone.now().date() - timedelta(days=60), rate=5.0)
    call = make_call(world, event="S-2")
    UnitAssignment.objects.create(call=call, unit=world.unit, assigned_at=timezone.now())
    briefing_assemble(call_id=call.pk, reason="call_created")
    health = _items(signed_in_client(world.omar), call.pk)["health:hotspot"]
    assert health["stale"] is True and health["title"] == "COVID-19 data is stale"


def test_a_hazard_recorded_during_the_call_reaches_its_briefing_as_a_new_version(world: World, tmp_path: Path,
                                                                                 django_capture_on_commit_callbacks: Any
                                                                                 ) -> None:
    call = full_scene(world, tmp_path)
    premise_id = call.premise_id
    ava = signed_in_client(world.ava)
    with django_capture_on_commit_callbacks(execute=True):
        response = ava.post(f"/api/v1/premises/{premise_id}/hazards",
                            {"kind": "weapons", "description": "Shotgun behind the door", "source": "caller"},
                            format="json")
    assert response.status_code == 201, response.json()
    briefing = Briefing.objects.get(call=call)
    assert briefing.current_version == 2
    latest = briefing.versions.get(number=2)
    assert latest.reason == "record_changed"
    assert [a["title"] for a in latest.changes["added"]] == ["Weapons"]


def test_a_weapon_named_in_the_cad_type_and_the_narrative_is_said_once(world: World, tmp_path: Path) -> None:
    call = full_scene(world, tmp_path)
    call.cad_description = "MAN WITH KNIFE"
    call.narrative = "Man waving a knife outside the shop"
    call.save()
    briefing_assemble(call_id=call.pk, reason="call_updated")

    items = signed_in_client(world.omar).get(f"/api/v1/calls/{call.pk}/briefing").json()["items"]
    weapon = next(i for i in items if i["id"] == "safety:call")
    assert weapon["body"].lower().count("knife") == 1, weapon["body"]
    assert weapon["body"].startswith("'KNIFE' in the call text"), "the caller's words keep their case"
