"""A BOLO's plate on the hot list follows its bulletin: the hot-list endpoints cannot change or remove it."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from django.core.management import call_command
from django.test import TestCase
from django.utils import timezone

from apps.sensors.models import HotList, HotListEntry
from tests.api import contract
from tests.base import World, signed_in_client
from tests.bolos.helpers import issued
from tests.sensors.helpers import LAT, LON, make_source, post_signed, sample_json

OWNED = "hot_list_entry_owned_by_bolo"


def _hits(world: World, plate: str, event_id: str) -> list[int]:
    body = sample_json() | {"best_uuid": event_id, "best_plate_number": plate, "best_region": "us-wa",
                            "gps_latitude": LAT, "gps_longitude": LON}
    response = post_signed(make_source(world, "alpr", name=event_id), body)
    assert response.status_code == 202, response.content
    alert_ids: list[int] = response.json()["alert_ids"]
    return alert_ids


def _refused(response: Any, bolo_id: int, op_id: str) -> None:
    """409, naming the bulletin, as the phone team's schema says."""
    assert response.status_code == 409, response.content
    body = response.json()
    assert body["code"] == OWNED and f"BOLO {bolo_id}" in body["message"]
    assert [f"BOLO {bolo_id}"] in body["fields"].values()
    assert not contract.undocumented(op_id, 409, response["Content-Type"], body)


def test_ava_cannot_take_a_bolo_plate_off_the_hot_list(world: World) -> None:
    bolo = issued(world)
    entry = HotListEntry.objects.get(pk=bolo["hot_list_entry_id"])
    ava = signed_in_client(world.ava)
    listed = ava.get(f"/api/v1/hot-lists/{entry.hot_list_id}/entries")
    assert not contract.undocumented("hot_list_entries_list", 200, listed["Content-Type"], listed.json())
    assert [(e["id"], e["bolo_id"]) for e in listed.json()["results"]] == [(entry.pk, bolo["id"])]
    _refused(ava.delete(f"/api/v1/hot-lists/{entry.hot_list_id}/entries/{entry.pk}"), bolo["id"],
             "hot_list_entries_remove")
    assert HotListEntry.objects.get(pk=entry.pk).expires_at == entry.expires_at
    assert len(_hits(world, "BLO1234", "after-refused-remove")) == 1  # the bulletin's plate still matches


def test_sam_cannot_disable_rename_or_delete_the_list_that_holds_it(world: World) -> None:
    bolo = issued(world)
    hot_list = HotList.objects.get(entries__pk=bolo["hot_list_entry_id"])
    sam = signed_in_client(world.sam)
    for change in ({"enabled": False}, {"expires_at": timezone.now().isoformat()}, {"name": "Old BOLOs"}):
        _refused(sam.patch(f"/api/v1/hot-lists/{hot_list.pk}", change, format="json"), bolo["id"], "hot_lists_update")
    _refused(sam.delete(f"/api/v1/hot-lists/{hot_list.pk}"), bolo["id"], "hot_lists_delete")
    kept = HotList.objects.get(pk=hot_list.pk)
    assert (kept.name, kept.enabled, kept.expires_at) == ("BOLO plates", True, None)
    assert HotListEntry.objects.filter(pk=bolo["hot_list_entry_id"]).exists()


def test_the_bulletins_own_cancel_takes_its_plate_off_and_the_entry_stays_its_record(world: World) -> None:
    bolo = issued(world)
    entry_id = bolo["hot_list_entry_id"]
    (alert_id,) = _hits(world, "BLO1234", "before-cancel")
    with TestCase.captureOnCommitCallbacks(execute=True):
        cancelled = signed_in_client(world.sam).post(f"/api/v1/bolos/{bolo['id']}/cancel",
                                                     {"reason": "Vehicle recovered"}, format="json")
    assert cancelled.status_code == 200, cancelled.content
    assert _hits(world, "BLO1234", "after-cancel") == []
    # Ended, the entry still names the bulletin for the alerts it raised, so the hot list still may not remove it.
    hot_list_id = HotListEntry.objects.get(pk=entry_id).hot_list_id
    _refused(signed_in_client(world.ava).delete(f"/api/v1/hot-lists/{hot_list_id}/entries/{entry_id}"), bolo["id"],
             "hot_list_entries_remove")
    alert = signed_in_client(world.ava).get(f"/api/v1/sensors/alerts/{alert_id}").json()
    assert alert["hot_list_entry"]["bolo_id"] == bolo["id"]


def test_a_csv_import_into_the_bolo_list_leaves_the_bulletins_entry_as_it_was(world: World, tmp_path: Path) -> None:
    bolo = issued(world)
    before = HotListEntry.objects.get(pk=bolo["hot_list_entry_id"])
    path = tmp_path / "plates.csv"
    path.write_text("plate,state,description\nBLO-1234,WA,Someone else's note\nNEW0001,WA,Blue van\n",
                    encoding="utf-8")
    out = io.StringIO()
    call_command("hot_list_import", str(path), "--list", "BOLO plates", "--verbosity", "0", stdout=out)
    assert "1 plates added, 1 already listed" in out.getvalue()
    after = HotListEntry.objects.get(pk=before.pk)
    assert (after.description, after.expires_at) == (before.description, before.expires_at)
    assert after.bolo.pk == bolo["id"]


def test_an_ordinary_list_and_its_entries_still_change(world: World) -> None:
    issued(world)  # a BOLO list exists alongside; it does not lock the others
    ava = signed_in_client(world.ava)
    list_id = ava.post("/api/v1/hot-lists", {"name": "Stolen", "kind": "stolen_vehicle"}, format="json").json()["id"]
    entry = ava.post(f"/api/v1/hot-lists/{list_id}/entries", {"plate": "ABC1234", "region": "WA"}, format="json")
    assert entry.status_code == 201 and entry.json()["bolo_id"] is None
    changed = ava.patch(f"/api/v1/hot-lists/{list_id}", {"priority": 1, "enabled": False}, format="json")
    assert changed.status_code == 200 and changed.json()["enabled"] is False
    assert ava.delete(f"/api/v1/hot-lists/{list_id}/entries/{entry.json()['id']}").status_code == 204
    assert ava.delete(f"/api/v1/hot-lists/{list_id}").status_code == 204
