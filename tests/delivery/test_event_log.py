"""The event log: rows first, offsets per user, replay exactly the gap, resync otherwise."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction

from apps.delivery.models import Event, UserStream
from apps.delivery.selectors import events_after
from apps.delivery.services import event_append
from apps.delivery.wire import event_message
from tests.base import World
from tests.delivery.helpers import append

pytestmark = pytest.mark.django_db


def test_each_user_gets_contiguous_offsets_in_one_epoch(world: World) -> None:
    for n in range(3):
        event_append(users=[world.omar.pk, world.sam.pk], type="briefing", op="updated",
                     object_type="briefings.briefing", object_id=str(n), payload={})
    append(world.omar.pk)
    omar = list(Event.objects.filter(user=world.omar).order_by("offset"))
    sam = list(Event.objects.filter(user=world.sam).order_by("offset"))
    assert [e.offset for e in omar] == [1, 2, 3, 4]
    assert [e.offset for e in sam] == [1, 2, 3]
    assert {e.epoch for e in omar} == {UserStream.objects.get(user=world.omar).epoch}
    assert UserStream.objects.get(user=world.omar).epoch != UserStream.objects.get(user=world.sam).epoch


def test_a_rolled_back_change_leaves_no_event(world: World) -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        append(world.omar.pk)
        raise RuntimeError("the briefing failed to save")
    assert not Event.objects.filter(user=world.omar).exists()


def test_the_wake_up_waits_for_commit(world: World, django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        append(world.omar.pk)
    assert len(callbacks) == 1


def test_replay_is_exactly_the_gap(world: World) -> None:
    for n in range(5):
        append(world.omar.pk, str(n))
    epoch = UserStream.objects.get(user=world.omar).epoch
    result = events_after(user=world.omar, epoch=epoch, offset=2, limit=100)
    assert not result.resync
    assert [e.offset for e in result.events] == [3, 4, 5]
    assert not result.more
    first = events_after(user=world.omar, epoch=epoch, offset=2, limit=2)
    assert [e.offset for e in first.events] == [3, 4] and first.more


def test_an_unknown_epoch_or_offset_answers_resync(world: World) -> None:
    append(world.omar.pk)
    stream = UserStream.objects.get(user=world.omar)
    for epoch, offset in (("not-the-epoch", 0), (None, 0), (stream.epoch, 5), (stream.epoch, -1)):
        result = events_after(user=world.omar, epoch=epoch, offset=offset, limit=100)
        assert result.resync and result.events == []
        assert (result.epoch, result.offset) == (stream.epoch, 1)


def test_a_trimmed_gap_answers_resync(world: World) -> None:
    for n in range(4):
        append(world.omar.pk, str(n))
    epoch = UserStream.objects.get(user=world.omar).epoch
    Event.objects.filter(user=world.omar, offset__lte=2).delete()
    assert events_after(user=world.omar, epoch=epoch, offset=1, limit=100).resync
    assert [e.offset for e in events_after(user=world.omar, epoch=epoch, offset=2, limit=100).events] == [3, 4]


def test_a_client_too_far_behind_resyncs(world: World, settings: Any) -> None:
    settings.DELIVERY_MAX_BACKLOG = 3
    for n in range(5):
        append(world.omar.pk, str(n))
    epoch = UserStream.objects.get(user=world.omar).epoch
    assert events_after(user=world.omar, epoch=epoch, offset=1, limit=100).resync
    assert not events_after(user=world.omar, epoch=epoch, offset=2, limit=100).resync


def test_control_types_and_large_payloads_are_refused(world: World) -> None:
    with pytest.raises(ValueError, match="control"):
        event_append(users=[world.omar.pk], type="ping", op="x", object_type="t", object_id="1", payload={})
    with pytest.raises(ValueError, match="too large"):
        event_append(users=[world.omar.pk], type="briefing", op="x", object_type="t", object_id="1",
                     payload={"text": "x" * 5000})


def _apply(state: dict[str, str], messages: list[dict[str, Any]]) -> dict[str, str]:
    for message in messages:
        state[message["object_id"]] = message["op"]
    return state


def test_snapshot_plus_replay_equals_a_fresh_read(world: World) -> None:
    """Zulip's verify_action: a client that read early and replayed agrees with one reading now."""
    append(world.omar.pk, "a")
    append(world.omar.pk, "b")
    epoch = UserStream.objects.get(user=world.omar).epoch
    snapshot = events_after(user=world.omar, epoch=epoch, offset=0, limit=100)
    state = _apply({}, [event_message(e) for e in snapshot.events])
    seen = snapshot.events[-1].offset
    append(world.omar.pk, "a", op="updated")
    append(world.sam.pk, "c")
    append(world.omar.pk, "d")
    append(world.omar.pk, "b", op="deleted")
    replay = events_after(user=world.omar, epoch=epoch, offset=seen, limit=100)
    state = _apply(state, [event_message(e) for e in replay.events])
    fresh = events_after(user=world.omar, epoch=epoch, offset=0, limit=100)
    assert state == _apply({}, [event_message(e) for e in fresh.events]) == {"a": "updated", "b": "deleted",
                                                                             "d": "created"}
    assert [e.offset for e in fresh.events] == list(range(1, 6))
    assert [e.offset for e in snapshot.events + replay.events] == [e.offset for e in fresh.events]
