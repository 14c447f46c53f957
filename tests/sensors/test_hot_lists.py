"""Hot lists: edited in the API or imported from CSV; plate-read searches need a purpose and a case number."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from apps.audit.models import AuditEvent
from apps.sensors.models import HotList, HotListEntry
from tests.base import World, signed_in_client
from tests.sensors.helpers import make_source, post_signed, sample_bytes


def test_an_analyst_makes_a_list_and_adds_a_plate_written_any_way(world: World) -> None:
    ava = signed_in_client(world.ava)
    made = ava.post("/api/v1/hot-lists", {"name": "AMBER 26-11", "kind": "amber", "priority": 1,
                                          "source": "State AMBER bulletin"}, format="json")
    assert made.status_code == 201, made.content
    list_id = made.json()["id"]
    added = ava.post(f"/api/v1/hot-lists/{list_id}/entries", {"plate": "abc-1234", "region": "us-wa",
                                                              "description": "Grey Honda Civic"}, format="json")
    assert added.status_code == 201, added.content
    assert (added.json()["plate_normalized"], added.json()["region"]) == ("ABC1234", "WA")
    again = ava.post(f"/api/v1/hot-lists/{list_id}/entries", {"plate": "ABC 1234", "region": "WA"}, format="json")
    assert again.status_code == 400 and again.json()["code"] == "entry_exists"
    assert HotListEntry.objects.get().plate_key == "A8C1234"


def test_a_custom_list_needs_a_reason(world: World) -> None:
    response = signed_in_client(world.sam).post("/api/v1/hot-lists", {"name": "Watch", "kind": "custom"},
                                                format="json")
    assert response.status_code == 400 and response.json()["code"] == "reason_required"


def test_an_expired_or_disabled_list_hits_nothing(world: World) -> None:
    ava = signed_in_client(world.ava)
    list_id = ava.post("/api/v1/hot-lists", {"name": "Stolen", "kind": "stolen_vehicle"}, format="json").json()["id"]
    ava.post(f"/api/v1/hot-lists/{list_id}/entries", {"plate": "A424761", "region": "IN"}, format="json")
    assert ava.patch(f"/api/v1/hot-lists/{list_id}", {"expires_at": "2020-01-01T00:00:00Z"},
                     format="json").status_code == 200
    post_signed(make_source(world, "alpr"), sample_bytes())
    from apps.sensors.models import Alert

    assert not Alert.objects.exists()


def test_officers_and_other_agencies_do_not_see_hot_lists(world: World) -> None:
    hot_list = HotList.objects.create(agency=world.agency, name="Stolen", kind="stolen_vehicle", owner=world.ava)
    for user in (world.omar, world.cora, world.xavier, world.abe):
        client = signed_in_client(user)
        assert client.get("/api/v1/hot-lists").json() == []
        assert client.get(f"/api/v1/hot-lists/{hot_list.pk}").json()["code"] == "hot_list_not_found"


def test_a_plate_read_search_needs_a_purpose_and_a_case_number(world: World) -> None:
    post_signed(make_source(world, "alpr"), sample_bytes())
    ava = signed_in_client(world.ava)
    refused = ava.post("/api/v1/plate-reads/search", {"plate": "A424761", "purpose": "", "case_number": ""},
                       format="json")
    assert refused.status_code == 400 and {"purpose", "case_number"} <= set(refused.json()["fields"])
    assert not AuditEvent.objects.filter(action="search", object_type="sensors.plateread").exists()


def test_a_plate_read_search_is_audited_with_its_purpose(world: World) -> None:
    post_signed(make_source(world, "alpr"), sample_bytes())
    ava = signed_in_client(world.ava)
    found = ava.post("/api/v1/plate-reads/search", {"plate": "A4Z476I", "confusable": True,
                                                    "purpose": "Robbery suspect vehicle", "case_number": "26-000101"},
                     format="json")
    assert found.status_code == 200, found.content
    assert [r["plate"] for r in found.json()] == ["A424761"]
    exact = ava.post("/api/v1/plate-reads/search", {"plate": "A4Z476I", "purpose": "Robbery suspect vehicle",
                                                    "case_number": "26-000101"}, format="json")
    assert exact.json() == []
    event = AuditEvent.objects.filter(action="search", object_type="sensors.plateread", actor=world.ava).first()
    assert event is not None and event.detail["purpose"] == "Robbery suspect vehicle"
    assert event.detail["case_number"] == "26-000101" and len(event.object_ids) == 1


def test_an_officer_cannot_search_plate_reads(world: World) -> None:
    response = signed_in_client(world.omar).post("/api/v1/plate-reads/search", {
        "plate": "A424761", "purpose": "Curious about a neighbour", "case_number": "none"}, format="json")
    assert response.status_code == 404


def _csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "stolen.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_csv_import_makes_the_list_and_skips_plates_already_on_it(world: World, tmp_path: Path) -> None:
    path = _csv(tmp_path, "plate,state,description,case_number\nABC-1234,WA,Grey Civic,26-1\n"
                          "XYZ 987,,Red pickup,26-2\nabc1234,WA,dup,26-1\n")
    out = io.StringIO()
    call_command("hot_list_import", str(path), "--list", "NCIC stolen", "--owner", "ava", "--verbosity", "0",
                 stdout=out)
    assert "2 plates added, 1 already listed" in out.getvalue()
    assert sorted(HotListEntry.objects.values_list("plate_normalized", "region")) == [("ABC1234", "WA"),
                                                                                     ("XYZ987", "")]
    call_command("hot_list_import", str(path), "--list", "NCIC stolen", "--verbosity", "0", stdout=out)
    assert HotListEntry.objects.count() == 2


def test_a_csv_with_a_bad_row_imports_nothing(world: World, tmp_path: Path) -> None:
    path = _csv(tmp_path, "plate,state\nABC1234,WA\n,WA\n")
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("hot_list_import", str(path), "--list", "NCIC stolen", "--owner", "ava", "--verbosity", "0")
    assert not HotListEntry.objects.exists()
