"""The pre-roll worker command keeps the last seconds of cameras pinned to active calls, and only those."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

from django.core.management import call_command
from django.utils import timezone

from apps.calls.models import Call
from apps.cameras.models import Camera, CameraPin
from apps.cameras.services import camera_create
from tests.base import World
from tests.media.live_sources import udp_mpegts_source


def _pinned_camera(world: World, url: str, *, call_status: str) -> Camera:
    camera = camera_create(agency=world.agency, name=f"Camera {call_status}", kind=Camera.Kind.FIXED, owner="SDOT",
                           source_kind=Camera.SourceKind.UDP, source_url=url, sharing=Camera.Sharing.ALWAYS,
                           latitude=47.52, longitude=-122.27)
    call = Call.objects.create(agency=world.agency, event_number=f"26-{call_status}", status=call_status,
                               received_at=timezone.now(), latitude=47.52, longitude=-122.27)
    CameraPin.objects.create(camera=camera, call=call, pinned_by=world.ava, pinned_at=timezone.now())
    return camera


def test_it_keeps_the_last_seconds_of_a_camera_pinned_to_an_active_call(world: World, settings: Any,
                                                                       tmp_path: Path) -> None:
    settings.MEDIA_PREROLL_DIR = tmp_path / "preroll"
    settings.MEDIA_PREROLL_DIR.mkdir()
    left_over = settings.MEDIA_PREROLL_DIR / "camera-999999.mov"  # of a camera followed before a restart
    left_over.write_bytes(b"old")
    with udp_mpegts_source() as active_url, udp_mpegts_source() as cleared_url:
        active = _pinned_camera(world, active_url, call_status=Call.Status.ON_SCENE)
        cleared = _pinned_camera(world, cleared_url, call_status=Call.Status.CLEARED)
        out = io.StringIO()
        call_command("preroll_worker", "--seconds", "2", "--refresh", "1", "--run-for", "5", stdout=out)
    report = out.getvalue()
    assert "1 camera(s) pinned to active calls" in report
    held = re.search(rf"camera {active.pk} .*: ([0-9.]+) s held", report)
    assert held is not None and float(held.group(1)) >= 1.5, report
    assert f"camera {cleared.pk} " not in report
    assert "udp://" not in report  # the source URL (credentials, for other kinds) is never printed
    # Files of cameras it does not follow, and at the end all of its own, are gone: none is left to look fresh.
    assert list(settings.MEDIA_PREROLL_DIR.iterdir()) == []
