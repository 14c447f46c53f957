"""A plate BOLO joins the hot lists: a matching plate read raises an alert that names the bulletin."""

from __future__ import annotations

from typing import Any

from django.test import TestCase

from apps.bolos.models import Bolo
from apps.sensors.models import Alert, HotListEntry
from tests.base import World, signed_in_client
from tests.bolos.helpers import issued
from tests.sensors.helpers import LAT, LON, make_source, post_signed, sample_json


def _read(world: World, plate: str, event_id: str, region: str = "us-wa") -> Any:
    source = make_source(world, "alpr")
    body = sample_json() | {"best_uuid": event_id, "best_plate_number": plate, "best_region": region,
                            "gps_latitude": LAT, "gps_longitude": LON}
    response = post_signed(source, body)
    assert response.status_code == 202, response.content
    return response.json()


def test_a_matching_plate_read_raises_an_unverified_alert_naming_the_bolo(world: World) -> None:
    bolo = issued(world)
    assert bolo["plate"] == "BLO1234" and bolo["hot_list_entry_id"]
    (alert_id,) = _read(world, "BLO1234", "bolo-read-1")["alert_ids"]
    alert = signed_in_client(world.omar).get(f"/api/v1/sensors/alerts/{alert_id}").json()
    assert alert["kind"] == "plate_hit" and alert["state"] == "unverified" and alert["match_type"] == "exact"
    entry = alert["hot_list_entry"]
    assert entry["bolo_id"] == bolo["id"] and entry["hot_list_name"] == "BOLO plates"
    assert entry["description"] == f"BOLO {bolo['id']}: Grey Honda Civic, armed robbery suspect"
    # The alert's call briefing says the same to the units sent: the bulletin, and that it is not yet verified.
    call_id = Alert.objects.get(pk=alert_id).call_id
    items = signed_in_client(world.ava).get(f"/api/v1/calls/{call_id}/briefing").json()["items"]
    (section,) = [i for i in items if i["section"] == "alert"]
    assert section["body"].startswith("UNVERIFIED") and f"BOLO {bolo['id']}" in section["body"]


def test_a_misread_plate_still_matches_but_says_how(world: World) -> None:
    issued(world)
    (alert_id,) = _read(world, "8LO1234", "bolo-read-2")["alert_ids"]  # B read as 8
    assert Alert.objects.get(pk=alert_id).match_type == "confusable"


def test_once_cancelled_the_plate_raises_nothing_and_old_alerts_still_name_it(world: World) -> None:
    bolo = issued(world)
    (first,) = _read(world, "BLO1234", "bolo-read-3")["alert_ids"]
    with TestCase.captureOnCommitCallbacks(execute=True):
        cancelled = signed_in_client(world.sam).post(f"/api/v1/bolos/{bolo['id']}/cancel",
                                                     {"reason": "Vehicle recovered"}, format="json")
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    assert _read(world, "BLO1234", "bolo-read-4")["alert_ids"] == []
    assert Alert.objects.get(pk=first).hot_list_entry.bolo.pk == bolo["id"]  # type: ignore[union-attr]


def test_a_second_active_bolo_on_the_same_plate_is_refused(world: World) -> None:
    issued(world)
    response = signed_in_client(world.ava).post("/api/v1/bolos", {
        "subject": "vehicle", "title": "Same car", "description": "Again", "plate": "BLO 1234", "plate_region": "WA",
        "audience": {"kind": "agency"}, "expires_at": Bolo.objects.get().expires_at.isoformat()}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "plate_on_active_bolo"
    assert Bolo.objects.count() == 1 and HotListEntry.objects.count() == 1


def test_xaviers_plate_reads_never_hit_this_agencys_bolo(world: World) -> None:
    issued(world)
    source = make_source(world, "alpr", agency=world.other_agency)
    body = sample_json() | {"best_uuid": "xavier-read", "best_plate_number": "BLO1234", "best_region": "us-wa"}
    assert post_signed(source, body).json()["alert_ids"] == []
