"""A clip from a camera the pre-roll worker follows starts with the seconds before it was asked for."""

from __future__ import annotations

import glob
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import av
import pytest
from django.utils import timezone

from apps.calls.models import Call, UnitAssignment
from apps.cameras.models import Camera
from apps.cameras.services import camera_create
from apps.media.management.commands.preroll_worker import PinnedCamera
from apps.media.models import ClipJob
from apps.media.preroll import preroll_path
from tests.base import World, signed_in_client
from tests.media import live_sources

CLIP_S = 3
PREROLL_S = 2.0


@pytest.fixture
def call(world: World) -> Call:
    now = timezone.now()
    made = Call.objects.create(agency=world.agency, event_number="26-0000701", status=Call.Status.DISPATCHED,
                               received_at=now, latitude=47.52, longitude=-122.27, address="92XX RAINIER AV S")
    UnitAssignment.objects.create(call=made, unit=world.unit, assigned_at=now)
    return made


@pytest.fixture
def preroll_dir(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_PREROLL_DIR = tmp_path / "preroll"
    settings.MEDIA_PREROLL_DIR.mkdir()
    return Path(settings.MEDIA_PREROLL_DIR)


def _camera(world: World, url: str, kind: str) -> Camera:
    return camera_create(agency=world.agency, name="Rainier & Henderson", kind=Camera.Kind.FIXED, owner="SDOT",
                         source_kind=kind, source_url=url, sharing=Camera.Sharing.ALWAYS,
                         latitude=47.5201, longitude=-122.2701)


@pytest.fixture
def followed() -> Iterator[Callable[[Camera], PinnedCamera]]:
    """Follow a camera as the worker does; the threads stop at the end of the test."""
    started: list[PinnedCamera] = []

    def follow(camera: Camera) -> PinnedCamera:
        held = PinnedCamera(camera, seconds=PREROLL_S)
        started.append(held)
        deadline = time.monotonic() + 15
        while held.preroll.seconds_held < PREROLL_S:
            assert held.alive and time.monotonic() < deadline, "the pre-roll never filled"
            time.sleep(0.1)
        return held

    yield follow
    for held in started:
        held.stop()
        held.thread.join(timeout=10)


def _ask_for_clip(world: World, call: Call, camera: Camera, capture: Callable[..., AbstractContextManager[Any]]
                  ) -> tuple[ClipJob, dict[str, Any]]:
    client = signed_in_client(world.ava)
    with capture(execute=True):
        created = client.post(f"/api/v1/calls/{call.pk}/clips", {"camera_id": camera.pk, "seconds": CLIP_S},
                              format="json")
    assert created.status_code == 202, created.content
    job = ClipJob.objects.get(pk=created.json()["id"])
    assert job.state == ClipJob.State.READY, (job.failure_code, job.failure_reason)
    assert glob.glob(os.path.join(tempfile.gettempdir(), f"rtcc-clip-{job.pk}-*")) == []
    return job, client.get(f"/api/v1/clips/{job.pk}").json()


# HTTP, not UDP: the worker and the clip job each read the camera, and a unicast UDP port has one reader.
# This camera also sends B-frames, so decode order differs from display order across the join.
def test_a_clip_of_a_followed_camera_starts_with_its_pre_roll(
        world: World, call: Call, preroll_dir: Path, followed: Callable[[Camera], PinnedCamera],
        django_capture_on_commit_callbacks: Any) -> None:
    with live_sources.http_mpegts_source() as url:
        camera = _camera(world, url, Camera.SourceKind.HTTP_TS)
        held = followed(camera)
        assert held.write(preroll_dir)
        job, body = _ask_for_clip(world, call, camera, django_capture_on_commit_callbacks)
    assert job.preroll_s is not None and PREROLL_S <= job.preroll_s <= PREROLL_S + 1.0
    assert job.duration_s == pytest.approx(job.preroll_s + CLIP_S, abs=0.5)
    assert body["preroll_s"] == job.preroll_s and body["duration_s"] == job.duration_s
    rendition = job.renditions.get(name="360p")
    with rendition.file.open("rb") as fh, av.open(fh) as clip:
        assert float(clip.duration or 0) / av.time_base == pytest.approx(job.duration_s, abs=0.5)
        assert clip.streams.audio  # the sound was carried across the join


def test_a_stale_pre_roll_is_not_used(world: World, call: Call, preroll_dir: Path,
                                      followed: Callable[[Camera], PinnedCamera],
                                      django_capture_on_commit_callbacks: Any) -> None:
    with live_sources.http_mpegts_source() as url:
        camera = _camera(world, url, Camera.SourceKind.HTTP_TS)
        held = followed(camera)
        assert held.write(preroll_dir)
        path = preroll_path(preroll_dir, camera.pk)
        long_ago = time.time() - 10  # the worker stopped following it 10 s ago
        os.utime(path, (long_ago, long_ago))
        job, body = _ask_for_clip(world, call, camera, django_capture_on_commit_callbacks)
    assert job.preroll_s == 0 and body["preroll_s"] == 0
    assert job.duration_s == pytest.approx(CLIP_S, abs=0.5)


def _other_camera_recording(path: Path) -> None:
    """Two seconds of H.264 at another size than the live camera's: what a reconfigured camera sent before."""
    with av.open("testsrc2=size=160x120:rate=25", format="lavfi") as source, av.open(str(path), "w",
                                                                                    format="mov") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for index, frame in enumerate(source.decode(video=0)):
            if index == 50:
                break
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


def test_a_pre_roll_coded_differently_from_the_live_camera_is_dropped(
        world: World, call: Call, preroll_dir: Path, django_capture_on_commit_callbacks: Any,
        caplog: pytest.LogCaptureFixture) -> None:
    with live_sources.http_mpegts_source() as url:
        camera = _camera(world, url, Camera.SourceKind.HTTP_TS)
        _other_camera_recording(preroll_path(preroll_dir, camera.pk))  # fresh: written just now
        job, body = _ask_for_clip(world, call, camera, django_capture_on_commit_callbacks)
    assert job.preroll_s == 0 and body["preroll_s"] == 0
    assert job.duration_s == pytest.approx(CLIP_S, abs=0.5)
    assert job.renditions.get(name="360p").height == 240  # the live camera's pictures, not the pre-roll's
    assert f"pre-roll of camera {camera.pk} not used (preroll_mismatch)" in caplog.text
    assert url not in caplog.text and "127.0.0.1" not in caplog.text  # a camera URL can hold credentials
