from __future__ import annotations

from pathlib import Path

from apps.briefings.models import Briefing
from apps.briefings.services import briefing_assemble
from apps.delivery.models import Delivery, Event
from tests.base import World, make_user, signed_in_client
from tests.briefings.helpers import full_scene


def test_omar_on_the_call_gets_a_stream_event_for_each_new_version_and_nobody_else_does(
        world: World, tmp_path: Path) -> None:
    bystander = make_user("olga", "officer", world.agency)
    call = full_scene(world, tmp_path)
    briefing = Briefing.objects.get(call=call)
    signed_in_client(world.ava).patch(f"/api/v1/briefings/{briefing.pk}/items/call", {"pinned": True},
                                      format="json")
    briefing_assemble(call_id=call.pk, reason="unit_assigned")  # nothing new: no version, no event

    events = list(Event.objects.filter(user=world.omar).order_by("offset"))
    assert [(e.type, e.op, e.payload["version"]) for e in events] == [("briefing", "created", 1),
                                                                       ("briefing", "updated", 2)]
    push_id = events[0].payload.pop("push")
    assert events[0].payload == {"call_id": call.pk, "version": 1, "priority": call.priority}
    assert Delivery.objects.get(push_id=push_id).user == world.omar, "the push records Omar as its one recipient"
    assert not Event.objects.exclude(user=world.omar).exists(), "Xavier, Olga, Ava and the rest get nothing"
    assert bystander.pk not in Event.objects.values_list("user_id", flat=True)


def test_an_officer_whose_unit_is_assigned_after_assembly_gets_the_current_briefing_once(
        world: World, tmp_path: Path) -> None:
    from django.utils import timezone

    from apps.accounts.models import Unit
    from apps.calls.models import UnitAssignment

    call = full_scene(world, tmp_path)
    nina = make_user("nina", "officer", world.agency)
    second = Unit.objects.create(agency=world.agency, call_sign="2A14")
    second.members_on_shift.add(nina)
    UnitAssignment.objects.create(call=call, unit=second, assigned_at=timezone.now())
    briefing_assemble(call_id=call.pk, reason="unit_assigned")  # nothing in the briefing changed
    briefing_assemble(call_id=call.pk, reason="unit_assigned")  # and a redelivered task

    [event] = Event.objects.filter(user=nina)
    assert (event.type, event.op, event.payload["version"]) == ("briefing", "assigned", 1)
    assert Event.objects.filter(user=world.omar).count() == 1, "Omar had it already"
