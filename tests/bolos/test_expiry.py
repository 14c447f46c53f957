"""An expired BOLO disappears from the active list, and every device it reached is told once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import time_machine
from django.test import TestCase
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.bolos.services import bolos_expire_due
from apps.delivery.models import Event
from apps.delivery.services import dispatcher_jobs_run
from apps.sensors.models import Alert
from tests.base import World, signed_in_client
from tests.bolos.helpers import issued
from tests.sensors.helpers import make_source, post_signed, sample_json

SOON = 60  # seconds: each test's bulletin expires a minute after issue, and the clock moves two minutes on


def _soon(world: World, **overrides: Any) -> dict[str, Any]:
    return issued(world, expires_at=(timezone.now() + timedelta(seconds=SOON)).isoformat(), **overrides)


def _later() -> Any:
    """The clock two minutes on: the bulletins of these tests have expired by then."""
    return time_machine.travel(timezone.now() + timedelta(seconds=2 * SOON), tick=True)


def test_an_expired_bolo_disappears_from_the_active_list_and_says_so(world: World) -> None:
    bolo = _soon(world, audience={"kind": "unit", "ids": [world.unit.pk]})
    omar = signed_in_client(world.omar)
    assert [b["id"] for b in omar.get("/api/v1/bolos").json()] == [bolo["id"]]
    with _later():
        # Off the list at once, before any sweep; opened by id, it says it is expired.
        assert omar.get("/api/v1/bolos").json() == []
        assert omar.get(f"/api/v1/bolos/{bolo['id']}").json()["state"] == "expired"


def test_the_dispatcher_tells_every_device_it_reached_once(world: World) -> None:
    bolo = _soon(world, audience={"kind": "unit", "ids": [world.unit.pk]})
    with _later(), TestCase.captureOnCommitCallbacks(execute=True):
        dispatcher_jobs_run()
        assert bolos_expire_due() == 0  # claimed: a second sweep announces nothing
    ops = list(Event.objects.filter(user=world.omar, type="bolo").order_by("offset").values_list("op", flat=True))
    assert ops == ["issued", "expired"]
    assert AuditEvent.objects.filter(actor_username="expiry", object_type="bolos.bolo",
                                     object_id=str(bolo["id"])).exists()


def test_an_expired_plate_bolo_raises_no_alert(world: World) -> None:
    _soon(world)
    body = sample_json() | {"best_uuid": "expired-read", "best_plate_number": "BLO1234", "best_region": "us-wa"}
    with _later():
        assert post_signed(make_source(world, "alpr"), body).json()["alert_ids"] == []
    assert not Alert.objects.exists()


def test_an_expired_bolo_takes_no_change_and_no_sighting(world: World) -> None:
    bolo = _soon(world)
    with _later():
        _refused_when_ended(world, bolo["id"])


def _refused_when_ended(world: World, bolo_id: int) -> None:
    changed = signed_in_client(world.ava).patch(f"/api/v1/bolos/{bolo_id}", {"title": "New"}, format="json")
    assert changed.status_code == 410 and changed.json()["code"] == "bolo_ended"
    seen = signed_in_client(world.omar).post(f"/api/v1/bolos/{bolo_id}/sightings", {
        "latitude": 47.5, "longitude": -122.3, "seen_at": timezone.now().isoformat()}, format="multipart")
    assert seen.status_code == 410 and seen.json()["code"] == "bolo_ended"
