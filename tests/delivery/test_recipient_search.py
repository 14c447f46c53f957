"""The analyst picks whom to push to by name, unit, beat or district; the answer carries the audience to send."""

from __future__ import annotations

from typing import Any

from apps.accounts.models import Unit
from tests.base import World, signed_in_client


def _search(user: Any, q: str) -> Any:
    return signed_in_client(user).get("/api/v1/pushes/recipients", {"q": q})


def test_ava_finds_omar_by_his_name_and_his_unit_by_its_call_sign(world: World) -> None:
    world.omar.last_name = "Okafor"
    world.omar.save(update_fields=["last_name"])
    by_name = _search(world.ava, "okaf").json()
    assert {"kind": "user", "id": world.omar.pk, "label": "Omar Okafor", "detail": "officer · on 2A12",
            "value": ""} in by_name
    assert any(c["kind"] == "unit" and c["id"] == world.unit.pk for c in by_name), "his unit, through its crew"
    (unit,) = [c for c in _search(world.ava, "2a1").json() if c["kind"] == "unit"]
    assert unit["label"] == "Unit 2A12" and "Omar Okafor" in unit["detail"] and "beat R2" in unit["detail"]


def test_a_beat_and_a_district_are_found_by_name_with_their_unit_count(world: World) -> None:
    Unit.objects.create(agency=world.agency, call_sign="2A14", district="South", beat="R3")
    choices = _search(world.sam, "south").json()
    assert {"kind": "district", "value": "South", "label": "District South", "detail": "the units working it (2)",
            "id": None} in choices


def test_another_agencys_people_and_units_are_never_listed(world: World) -> None:
    Unit.objects.create(agency=world.other_agency, call_sign="OC7", beat="X1").members_on_shift.add(world.xavier)
    labels = " ".join(c["label"] + c["detail"] for c in _search(world.ava, "").json() + _search(world.ava, "x").json())
    assert "Xavier" not in labels and "OC7" not in labels


def test_the_search_does_not_exist_for_those_who_do_not_push(world: World) -> None:
    for user in (world.omar, world.cora, world.abe, world.xavier):
        response = _search(user, "omar")
        assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_a_search_longer_than_a_name_is_refused_before_any_lookup(world: World) -> None:
    response = _search(world.ava, "o" * 61)
    assert response.status_code == 400 and "q" in response.json()["fields"]
