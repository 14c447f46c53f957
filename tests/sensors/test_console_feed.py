"""Every alert stored reaches the agency's analysts and supervisors as a stream event: the console's live feed."""

from __future__ import annotations

from apps.delivery.models import Event
from apps.sensors.models import Alert
from tests.base import World, signed_in_client
from tests.sensors.helpers import gunshot, make_source, post_signed, sample_bytes, stolen_list


def _feed(user: object) -> list[Event]:
    return list(Event.objects.filter(user=user, type="alert", op__in=("received", "verified")).order_by("offset"))


def test_a_plate_hit_reaches_ava_and_sam_with_its_verification_state(world: World) -> None:
    stolen_list(world, ("A424761", "IN"))
    post_signed(make_source(world, "alpr"), sample_bytes())
    alert = Alert.objects.get()
    for user in (world.ava, world.sam):
        (event,) = _feed(user)
        assert (event.op, event.object_id) == ("received", str(alert.pk))
        assert event.payload == {"alert_id": alert.pk, "kind": "plate_hit", "call_id": None,
                                 "verification": "unverified"}, "ids and the state only, never the plate"


def test_officers_and_other_agencies_get_no_feed_events(world: World) -> None:
    post_signed(make_source(world, "gunshot"), gunshot())
    assert Alert.objects.count() == 1
    for user in (world.omar, world.cora, world.abe, world.xavier):
        assert _feed(user) == []


def test_a_verification_is_told_to_the_feed(world: World) -> None:
    stolen_list(world, ("A424761", "IN"))
    post_signed(make_source(world, "alpr"), sample_bytes())
    alert = Alert.objects.get()
    response = signed_in_client(world.sam).post(f"/api/v1/sensors/alerts/{alert.pk}/verify",
                                                {"state": "confirmed", "reason": "NCIC checked"}, format="json")
    assert response.status_code == 200, response.content
    assert [(e.op, e.payload["verification"]) for e in _feed(world.ava)] == [("received", "unverified"),
                                                                             ("verified", "confirmed")]
