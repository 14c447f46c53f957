"""The real OpenALPR webhook against the agency's hot lists: reads are stored, hits become UNVERIFIED alerts."""

from __future__ import annotations

import time

from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.delivery.models import Event
from apps.sensors.models import Alert, PlateRead
from apps.sensors.services import hot_list_match
from tests.base import World, make_user
from tests.sensors.helpers import SAMPLE_LAT, SAMPLE_LON, make_source, place, post_signed, sample_bytes, stolen_list


def test_the_openalpr_sample_with_its_byte_order_mark_is_stored_as_a_read(world: World) -> None:
    alpr = make_source(world, "alpr")
    response = post_signed(alpr, sample_bytes())
    assert response.status_code == 202, response.content
    read = PlateRead.objects.get(pk=response.json()["id"])
    assert (read.plate, read.region, read.event_id) == (
        "A424761", "IN", "U8HGWA66CW58AV9Q7YB4JJ749CV7WXNQLLNIBT4N-106232737-1609433731402")
    assert (read.latitude, read.longitude, read.camera_label) == (SAMPLE_LAT, SAMPLE_LON, "mailbox-east")
    assert read.vehicle == {"color": "white", "make": "kenworth", "model": "iveco_daily",
                            "body_type": "tractor-trailer"}
    assert read.read_at.timestamp() == 1609433731.402
    assert not read.has_hit and not Alert.objects.exists()


def test_a_hit_sent_twice_is_stored_once_with_one_alert(world: World) -> None:
    stolen_list(world, ("A424761", "IN"))
    alpr = make_source(world, "alpr")
    first = post_signed(alpr, sample_bytes(), timestamp=int(time.time()) - 5)
    again = post_signed(alpr, sample_bytes())
    assert first.status_code == 202 and again.status_code == 200
    assert again.json() == {"status": "duplicate", "id": first.json()["id"], "alert_ids": []}
    assert PlateRead.objects.count() == 1 and Alert.objects.count() == 1


def test_an_exact_hit_raises_an_unverified_alert_with_its_match_type(world: World) -> None:
    hot_list = stolen_list(world, ("A424761", "IN"))
    alpr = make_source(world, "alpr")
    body = post_signed(alpr, sample_bytes()).json()
    (alert,) = Alert.objects.all()
    assert body["alert_ids"] == [alert.pk]
    assert (alert.kind, alert.state, alert.match_type) == ("plate_hit", "unverified", "exact")
    assert alert.hot_list_entry is not None and alert.hot_list_entry.hot_list_id == hot_list.pk
    assert PlateRead.objects.get().has_hit


def test_a_listed_plate_typed_with_misreadable_characters_is_a_confusable_hit(world: World) -> None:
    stolen_list(world, ("A4Z-476I", "us-in"))
    post_signed(make_source(world, "alpr"), sample_bytes())
    assert Alert.objects.get().match_type == "confusable"


def test_an_entry_without_a_state_is_a_state_unknown_hit(world: World) -> None:
    stolen_list(world, ("A424761", ""))
    post_signed(make_source(world, "alpr"), sample_bytes())
    assert Alert.objects.get().match_type == "state_unknown"


def test_a_read_whose_state_the_camera_is_unsure_of_is_a_state_unknown_hit(world: World, settings) -> None:  # type: ignore[no-untyped-def]
    settings.SENSOR_REGION_MIN_CONFIDENCE = 95  # the sample says us-in at 91.4
    stolen_list(world, ("A424761", "IN"))
    post_signed(make_source(world, "alpr"), sample_bytes())
    assert Alert.objects.get().match_type == "state_unknown"


def test_the_same_plate_listed_in_another_state_is_no_hit(world: World) -> None:
    stolen_list(world, ("A424761", "WA"))
    post_signed(make_source(world, "alpr"), sample_bytes())
    assert not Alert.objects.exists() and not PlateRead.objects.get().has_hit


def test_another_agencys_list_never_hits_our_reads(world: World) -> None:
    from apps.sensors.services import EntryIn, hot_list_create, hot_list_entry_add

    other_analyst = make_user("olga", "analyst", world.other_agency)
    other_list = hot_list_create(user=other_analyst, values={"name": "Theirs", "kind": "stolen_vehicle"})
    hot_list_entry_add(user=other_analyst, hot_list_id=other_list.pk, entry=EntryIn(plate="A424761", region="IN"))
    post_signed(make_source(world, "alpr"), sample_bytes())
    assert not Alert.objects.exists()


def test_matching_a_read_is_one_indexed_query(world: World) -> None:
    stolen_list(world, ("A424761", "IN"), ("A4Z476I", ""), ("ZZZ999", "WA"))
    with CaptureQueriesContext(connection) as queries:
        hits = hot_list_match(agency_id=world.agency.pk, plate="A424761", region="IN")
    assert [h.match_type for h in hits] == ["exact", "state_unknown"]
    assert len(queries) == 1 and "plate_key" in queries[0]["sql"]


def test_a_hit_reaches_the_officer_nearby_marked_unverified_and_without_the_plate(world: World) -> None:
    stolen_list(world, ("A424761", "IN"))
    place(world.omar, SAMPLE_LAT + 0.002, SAMPLE_LON)  # about 220 m north of the camera
    far = make_user("fay", "officer", world.agency)
    place(far, SAMPLE_LAT + 0.5, SAMPLE_LON)
    post_signed(make_source(world, "alpr"), sample_bytes())
    alert = Alert.objects.get()
    (event,) = Event.objects.filter(user=world.omar, type="alert")
    assert (event.op, event.object_type, event.object_id) == ("raised", "sensors.alert", str(alert.pk))
    assert event.payload["verification"] == "unverified" and event.payload["call_id"] == alert.call_id
    assert "A424761" not in str(event.payload) and set(event.payload) == {"alert_id", "kind", "call_id",
                                                                           "verification", "push"}
    assert not Event.objects.filter(user=far).exists()


def test_the_hits_call_briefing_tells_the_officer_it_is_unverified(world: World) -> None:
    stolen_list(world, ("A424761", "IN"))
    place(world.omar, SAMPLE_LAT, SAMPLE_LON)
    post_signed(make_source(world, "alpr"), sample_bytes())
    alert = Alert.objects.get()
    assert alert.call is not None and alert.call.cad_code == "SENSOR-LPR"
    omar = __import__("tests.base", fromlist=["signed_in_client"]).signed_in_client(world.omar)
    briefing = omar.get(f"/api/v1/calls/{alert.call_id}/briefing")
    assert briefing.status_code == 200, briefing.content
    (item,) = [i for i in briefing.json()["items"] if i["section"] == "alert"]
    assert item["title"].startswith("UNVERIFIED") and "UNVERIFIED" in item["body"]
    assert "A424761" in item["body"] and item["data"]["match_type"] == "exact"


def test_a_second_read_of_the_same_listed_car_joins_its_open_call(world: World) -> None:
    stolen_list(world, ("A424761", "IN"))
    alpr = make_source(world, "alpr")
    post_signed(alpr, sample_bytes())
    later = sample_bytes().replace(b"1609433731402\"", b"1609433799999\"")
    assert post_signed(alpr, later).status_code == 202
    first, second = Alert.objects.order_by("pk")
    assert first.call_id is not None and second.call_id == first.call_id
