"""An analyst issues a BOLO: it reaches its audience like a briefing, with receipts, and nobody else."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import TestCase

from apps.accounts.models import Role, Unit
from apps.audit.models import AuditEvent
from apps.bolos.models import Bolo
from apps.delivery.models import Delivery, Event
from tests.base import World, make_user, signed_in_client
from tests.bolos.helpers import issue, issued


def test_a_bolo_to_a_unit_reaches_its_officer_with_a_receipt_and_ids_only(world: World) -> None:
    body = issued(world, audience={"kind": "unit", "ids": [world.unit.pk]})
    (push_id,) = body["push_ids"]
    (delivery,) = Delivery.objects.filter(push_id=push_id)
    assert delivery.user == world.omar and delivery.status == "sent"
    event = Event.objects.get(user=world.omar, type="bolo")
    assert (event.op, event.object_id) == ("issued", str(body["id"]))
    # What may show on a lock screen: ids, version and priority; never the plate or the description.
    assert set(event.payload) == {"bolo_id", "version", "priority", "push"}
    # Omar acknowledges; Ava, who issued it, reads the receipt.
    omar = signed_in_client(world.omar)
    assert omar.post(f"/api/v1/pushes/{push_id}/receipt", {"state": "acknowledged"}, format="json").status_code == 200
    (recipient,) = signed_in_client(world.ava).get(f"/api/v1/pushes/{push_id}").json()["recipients"]
    assert recipient["status"] == "acknowledged"
    assert AuditEvent.objects.filter(actor=world.ava, action="create", object_type="bolos.bolo",
                                     object_id=str(body["id"])).exists()


def test_a_beat_audience_reaches_the_units_on_it_and_not_the_others(world: World) -> None:
    nina = make_user("nina", Role.OFFICER, world.agency)
    Unit.objects.create(agency=world.agency, call_sign="3B21", district="North", beat="K2").members_on_shift.add(nina)
    body = issued(world, audience={"kind": "beat", "value": "K2"})
    assert set(Delivery.objects.filter(push_id=body["push_ids"][0]).values_list("user__username", flat=True)) == {
        "nina"}
    # The bulletin is still on Omar's active list: the audience decides who is pushed it, not who may read it.
    assert [b["id"] for b in signed_in_client(world.omar).get("/api/v1/bolos").json()] == [body["id"]]


def test_officers_read_the_active_list_but_do_not_issue(world: World) -> None:
    issued(world)
    omar = signed_in_client(world.omar)
    (listed,) = omar.get("/api/v1/bolos").json()
    assert listed["title"].startswith("Grey Honda") and listed["state"] == "active"
    refused = issue(omar)
    assert refused.status_code == 403 and refused.json()["code"] == "bolo_read_only"
    assert Bolo.objects.count() == 1


@pytest.mark.parametrize("persona", ["xavier", "cora", "abe", "aud"])
def test_xavier_and_the_non_police_roles_see_nothing_of_it(world: World, persona: str) -> None:
    body = issued(world, audience={"kind": "agency"})
    client = signed_in_client(world.personas[persona])
    assert client.get("/api/v1/bolos").json() == []
    for response in (client.get(f"/api/v1/bolos/{body['id']}"),
                     client.post(f"/api/v1/bolos/{body['id']}/cancel", {"reason": "x"}, format="json")):
        assert response.status_code == 404 and response.json()["code"] == "bolo_not_found"
    assert not Event.objects.filter(user=world.personas[persona], type="bolo").exists()


def test_co_responders_are_never_pushed_a_bolo_even_when_named(world: World) -> None:
    # Cora is on a unit's shift (she rides along): a push to that unit still does not reach her.
    world.unit.members_on_shift.add(world.cora)
    issued(world, audience={"kind": "unit", "ids": [world.unit.pk]})
    assert not Delivery.objects.filter(user=world.cora).exists()


def test_a_change_goes_out_again_as_a_new_version(world: World) -> None:
    body = issued(world, audience={"kind": "unit", "ids": [world.unit.pk]})
    with TestCase.captureOnCommitCallbacks(execute=True):
        changed = signed_in_client(world.sam).patch(f"/api/v1/bolos/{body['id']}",
                                                    {"description": "Now seen with a third man."}, format="json")
    assert changed.status_code == 200, changed.content
    assert changed.json()["version"] == 2 and len(changed.json()["push_ids"]) >= 1
    ops = list(Event.objects.filter(user=world.omar, type="bolo").order_by("offset").values_list("op", "payload"))
    assert [(op, payload["version"]) for op, payload in ops] == [("issued", 1), ("updated", 2)]


def _issue_to_nobody(world: World) -> Any:
    empty = Unit.objects.create(agency=world.agency, call_sign="9Z99")
    return issue(signed_in_client(world.ava), audience={"kind": "unit", "ids": [empty.pk]})


def test_an_audience_that_reaches_nobody_is_refused_and_nothing_is_kept(world: World) -> None:
    response = _issue_to_nobody(world)
    assert response.status_code == 400 and response.json()["code"] == "no_recipients"
    assert not Bolo.objects.exists()
