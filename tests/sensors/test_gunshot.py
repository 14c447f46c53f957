"""Gunfire without a citizen call: an alert, a call, a drafted briefing, and the units nearby told at once."""

from __future__ import annotations

from django.utils import timezone

from apps.calls.models import Call, Category
from apps.delivery.models import Event, Push
from apps.sensors.models import Alert
from tests.base import World, make_user, signed_in_client
from tests.briefings.helpers import make_call
from tests.sensors.helpers import LAT, LON, gunshot, make_source, place, post_signed


def test_a_detection_raises_a_priority_1_weapons_call_at_the_spot(world: World) -> None:
    response = post_signed(make_source(world, "gunshot", name="ShotSpotter Rainier"), gunshot())
    assert response.status_code == 202, response.content
    alert = Alert.objects.get(pk=response.json()["id"])
    assert (alert.kind, alert.state, alert.priority, alert.detail["rounds"]) == ("gunshot", "unverified", 1, 4)
    call = alert.call
    assert call is not None and call.category == Category.WEAPONS and call.priority == 1
    assert (call.latitude, call.longitude, call.is_active) == (LAT, LON, True)


def test_the_officer_nearby_gets_the_alert_and_the_briefing_that_says_unverified(world: World) -> None:
    place(world.omar, LAT + 0.003, LON)  # about 330 m away
    post_signed(make_source(world, "gunshot"), gunshot())
    alert = Alert.objects.get()
    alert_event = Event.objects.get(user=world.omar, type="alert")
    assert alert_event.payload["verification"] == "unverified" and alert_event.payload["alert_id"] == alert.pk
    briefing_event = Event.objects.get(user=world.omar, type="briefing")
    assert briefing_event.payload["call_id"] == alert.call_id
    body = signed_in_client(world.omar).get(f"/api/v1/calls/{alert.call_id}/briefing").json()
    sections = [i["section"] for i in body["items"]]
    assert sections[:2] == ["call", "alert"]
    (item,) = [i for i in body["items"] if i["section"] == "alert"]
    assert item["body"].startswith("UNVERIFIED") and "4 round(s) detected by 3 sensor(s)" in item["body"]
    assert item["reason"]["rule"] == "sensor_alert:gunshot"


def test_officers_beyond_the_radius_and_other_agencies_hear_nothing(world: World) -> None:
    far = make_user("fay", "officer", world.agency)
    place(far, LAT + 0.05, LON)  # 5.5 km
    place(world.xavier, LAT, LON)
    place(world.cora, LAT, LON)
    post_signed(make_source(world, "gunshot"), gunshot())
    assert not Event.objects.filter(user__in=[far, world.xavier, world.cora]).exists()
    assert Push.objects.filter(type="alert").get().sent_by is None


def test_a_second_burst_nearby_joins_the_open_call(world: World) -> None:
    shots = make_source(world, "gunshot")
    post_signed(shots, gunshot("SST-1"))
    post_signed(shots, gunshot("SST-2", lat=LAT + 0.001))  # 110 m away
    first, second = Alert.objects.order_by("pk")
    assert second.call_id == first.call_id
    assert Call.objects.count() == 1


def test_gunfire_near_an_open_weapons_call_joins_it(world: World) -> None:
    caller = make_call(world, event="26-0000900", category=Category.WEAPONS, cad="SHOTS")
    post_signed(make_source(world, "gunshot"), gunshot())
    assert Alert.objects.get().call_id == caller.pk


def test_gunfire_far_from_an_open_call_raises_its_own(world: World) -> None:
    make_call(world, event="26-0000900", category=Category.WEAPONS, cad="SHOTS")
    post_signed(make_source(world, "gunshot"), gunshot(lat=LAT + 0.02))
    assert Alert.objects.get().call.event_number.startswith("GS-")  # type: ignore[union-attr]


def test_prior_gunfire_at_the_spot_is_in_the_next_briefing(world: World) -> None:
    shots = make_source(world, "gunshot")
    post_signed(shots, gunshot("SST-1"))
    Call.objects.update(status=Call.Status.CLOSED, cleared_at=timezone.now())
    post_signed(shots, gunshot("SST-2"))
    second = Alert.objects.order_by("pk").last()
    assert second is not None and second.call_id != Alert.objects.order_by("pk").first().call_id  # type: ignore[union-attr]
    detail = signed_in_client(world.ava).get(f"/api/v1/sensors/alerts/{second.pk}").json()
    assert detail["prior_gunfire"] == 1


def test_dispatching_twice_does_it_once(world: World) -> None:
    from apps.sensors.services import alert_dispatch

    post_signed(make_source(world, "gunshot"), gunshot())
    alert = Alert.objects.get()
    assert alert_dispatch(alert_id=alert.pk) is False
    assert Call.objects.count() == 1 and Push.objects.filter(type="alert").count() == 1


def test_the_analyst_sees_units_and_cameras_near_the_alert(world: World) -> None:
    from apps.cameras.services import camera_create

    camera_create(agency=world.agency, name="Rainier & Henderson", kind="fixed", owner="SDOT", latitude=LAT,
                  longitude=LON + 0.001, source_kind="hls", source_url="https://cams.example.invalid/1.m3u8",
                  sharing="always")
    place(world.omar, LAT, LON + 0.002)
    post_signed(make_source(world, "gunshot"), gunshot())
    alert = Alert.objects.get()
    detail = signed_in_client(world.ava).get(f"/api/v1/sensors/alerts/{alert.pk}").json()
    assert [c["name"] for c in detail["cameras"]] == ["Rainier & Henderson"]
    assert [u["call_sign"] for u in detail["units_nearby"]] == [world.unit.call_sign]
