"""Assembly requests for one call coalesce while a task for it waits in the queue."""

from __future__ import annotations

from typing import Any

from django.core.cache import cache

from apps.briefings.models import BriefingVersion
from apps.briefings.tasks import _pending_key, briefing_assemble_later
from tests.base import World
from tests.briefings.helpers import make_call


def test_a_change_while_an_assembly_is_queued_adds_no_second_task(world: World,
                                                                   django_capture_on_commit_callbacks: Any) -> None:
    call = make_call(world, event="Q-1")
    cache.set(_pending_key(call.pk), "call_created")  # as if a task for this call were waiting in the queue
    with django_capture_on_commit_callbacks(execute=True):
        briefing_assemble_later(call_id=call.pk, reason="unit_assigned")
    assert not BriefingVersion.objects.filter(briefing__call=call).exists(), "the queued task will do it"

    cache.delete(_pending_key(call.pk))  # the task started
    with django_capture_on_commit_callbacks(execute=True):
        briefing_assemble_later(call_id=call.pk, reason="unit_assigned")
    assert BriefingVersion.objects.filter(briefing__call=call).count() == 1
    assert cache.get(_pending_key(call.pk)) is None, "a task clears its mark when it starts"
