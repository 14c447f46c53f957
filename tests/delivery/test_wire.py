"""The wire format is written once: the browser's copy of the control types is generated from it."""

from __future__ import annotations

from apps.delivery import wire
from apps.delivery.management.commands.stream_protocol_js import TARGET


def test_the_browser_protocol_file_is_current() -> None:
    # Stale: run `.venv/bin/python manage.py stream_protocol_js` and commit the file.
    assert TARGET.read_text() == wire.browser_module()


def test_an_event_frame_is_the_same_whether_woken_or_replayed() -> None:
    prefix = wire.event_prefix(type="briefing", op="created", object_type="briefings.briefing", object_id="42",
                               payload={"call_id": 7})
    woken = wire.event_text(prefix, "e1", 3)

    class Stored:
        type, op, object_type, object_id, payload, epoch, offset = ("briefing", "created", "briefings.briefing",
                                                                   "42", {"call_id": 7}, "e1", 3)

    assert wire.event_frame(Stored()) == woken
    assert wire.event_message(Stored()) == {"type": "briefing", "op": "created", "offset": 3, "epoch": "e1",
                                            "object_type": "briefings.briefing", "object_id": "42",
                                            "payload": {"call_id": 7}}
