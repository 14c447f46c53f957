"""A hit stays UNVERIFIED until someone checks it against the source list; a false one flags the list entry."""

from __future__ import annotations

from django.test import TestCase

from apps.audit.models import AuditEvent
from apps.delivery.models import Event
from apps.sensors.models import Alert, HotListEntry
from tests.base import World, signed_in_client
from tests.sensors.helpers import SAMPLE_LAT, SAMPLE_LON, make_source, place, post_signed, sample_bytes, stolen_list


def _hit(world: World) -> Alert:
    stolen_list(world, ("A424761", "IN"))
    place(world.omar, SAMPLE_LAT, SAMPLE_LON)
    post_signed(make_source(world, "alpr"), sample_bytes())
    return Alert.objects.get()


def _verify(world: World, alert: Alert, state: str, reason: str = "Checked against NCIC: record cleared 11/02",
            user: object = None) -> object:
    return signed_in_client(user or world.ava).post(f"/api/v1/sensors/alerts/{alert.pk}/verify",
                                                    {"state": state, "reason": reason}, format="json")


def test_marking_a_hit_false_keeps_the_reason_and_flags_the_entry(world: World) -> None:
    alert = _hit(world)
    response = _verify(world, alert, "false", "Plate was misread: the car is a blue Civic")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["state"], body["state_reason"], body["state_changed_by"]) == (
        "false", "Plate was misread: the car is a blue Civic", world.ava.pk)
    entry = HotListEntry.objects.get()
    assert entry.needs_correction and "misread" in entry.correction_note
    assert AuditEvent.objects.filter(action="update", object_type="sensors.alert", object_id=str(alert.pk),
                                     actor=world.ava).exists()
    listed = signed_in_client(world.ava).get(f"/api/v1/hot-lists/{entry.hot_list_id}/entries",
                                             {"needs_correction": "true"}).json()
    assert [e["id"] for e in listed["results"]] == [entry.pk]


def test_the_officer_who_was_told_hears_it_was_false_and_the_briefing_says_so(world: World) -> None:
    alert = _hit(world)
    # The briefing is re-assembled after the verification commits, as in production.
    with TestCase.captureOnCommitCallbacks(execute=True):
        _verify(world, alert, "false")
    told = Event.objects.filter(user=world.omar, type="alert").order_by("offset")
    assert [(e.op, e.payload["verification"]) for e in told] == [("raised", "unverified"), ("false", "false")]
    items = signed_in_client(world.omar).get(f"/api/v1/calls/{alert.call_id}/briefing").json()["items"]
    (item,) = [i for i in items if i["section"] == "alert"]
    assert item["title"].startswith("FALSE") and "UNVERIFIED" not in item["body"]


def test_a_confirmed_hit_says_who_confirmed_it(world: World) -> None:
    alert = _hit(world)
    assert _verify(world, alert, "confirmed", "NCIC hit confirmed with the originating agency",
                   user=world.sam).status_code == 200
    alert.refresh_from_db()
    assert (alert.state, alert.state_changed_by_id) == ("confirmed", world.sam.pk)
    assert not HotListEntry.objects.get().needs_correction


def test_a_verification_needs_a_reason(world: World) -> None:
    alert = _hit(world)
    response = _verify(world, alert, "false", "   ")
    assert response.status_code == 400
    alert.refresh_from_db()
    assert alert.state == "unverified"


def test_an_officer_reads_the_alert_but_may_not_verify_it(world: World) -> None:
    alert = _hit(world)
    omar = signed_in_client(world.omar)
    assert omar.get(f"/api/v1/sensors/alerts/{alert.pk}").json()["state"] == "unverified"
    response = _verify(world, alert, "confirmed", user=world.omar)
    assert response.status_code == 403 and response.json()["code"] == "alert_read_only"


def test_other_agencies_and_co_responders_do_not_see_the_alert(world: World) -> None:
    alert = _hit(world)
    for user in (world.xavier, world.cora):
        client = signed_in_client(user)
        assert client.get(f"/api/v1/sensors/alerts/{alert.pk}").json()["code"] == "alert_not_found"
        assert client.get("/api/v1/sensors/alerts").json()["results"] == []
        assert _verify(world, alert, "false", user=user).status_code == 404
