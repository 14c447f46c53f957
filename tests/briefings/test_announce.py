from __future__ import annotations

from pathlib import Path

from apps.briefings.models import Briefing
from apps.briefings.services import briefing_assemble
from apps.delivery.models import Event
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
    assert events[0].payload == {"call_id": call.pk, "version": 1, "priority": call.priority}
    assert not Event.objects.exclude(user=world.omar).exists(), "Xavier, Olga, Ava and the rest get nothing"
    assert bystander.pk not in Event.objects.values_list("user_id", flat=True)
