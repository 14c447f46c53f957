"""An officer reports a sighting: the author and the supervisors get it at once; the bulletin shows it."""

from __future__ import annotations

from django.test import Client

from apps.bolos.models import BoloPhoto, Sighting
from apps.delivery.models import Delivery, Event
from tests.base import World, signed_in_client
from tests.bolos.helpers import LAT, LON, issued, report_sighting
from tests.media.helpers import PORTRAIT


def test_omars_sighting_reaches_the_author_and_the_supervisor_at_once(world: World) -> None:
    bolo = issued(world, audience={"kind": "unit", "ids": [world.unit.pk]})
    response = report_sighting(signed_in_client(world.omar), bolo["id"])
    assert response.status_code == 201, response.content
    sighting = response.json()
    assert (sighting["latitude"], sighting["longitude"]) == (LAT, LON) and sighting["photo"] is None
    # Written with the sighting, not after a queue: both have it on their stream now, as a push to acknowledge.
    for user in (world.ava, world.sam):
        event = Event.objects.get(user=user, type="bolo", op="sighting")
        assert event.payload["sighting_id"] == sighting["id"] and event.payload["bolo_id"] == bolo["id"]
        assert Delivery.objects.filter(user=user, push_id=event.payload["push"]).exists()
    assert not Event.objects.filter(user=world.omar, op="sighting").exists()
    assert not Event.objects.filter(user=world.xavier).exists()


def test_the_bolo_shows_its_sightings_newest_first_with_the_photo(world: World) -> None:
    bolo = issued(world)
    omar = signed_in_client(world.omar)
    first = report_sighting(omar, bolo["id"]).json()
    second = report_sighting(omar, bolo["id"], photo=PORTRAIT.read_bytes(), latitude=47.55).json()
    assert second["photo"]["url"] and second["photo"]["original_url"] is None
    shown = signed_in_client(world.ava).get(f"/api/v1/bolos/{bolo['id']}").json()["sightings"]
    assert [s["id"] for s in shown] == [second["id"], first["id"]]
    assert shown[0]["photo"]["original_url"]  # the center may open the original
    opened = Client().get(second["photo"]["thumbnail_url"].removeprefix("http://testserver"))
    assert opened.status_code == 200 and b"".join(opened.streaming_content)


def test_xavier_cannot_report_a_sighting_of_this_agencys_bolo(world: World) -> None:
    bolo = issued(world)
    response = report_sighting(signed_in_client(world.xavier), bolo["id"], photo=PORTRAIT.read_bytes())
    assert response.status_code == 404 and response.json()["code"] == "bolo_not_found"
    assert not Sighting.objects.exists() and not BoloPhoto.objects.exists()
