"""Clip jobs: from an upload or a live camera, with progress, cancel, cleanup, and the officers told last."""

from __future__ import annotations

import glob
import io
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from fractions import Fraction
from typing import Any

import av
import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, connections
from django.test import Client
from django.utils import timezone
from PIL import Image

from apps.calls.models import Call, UnitAssignment
from apps.cameras.models import Camera
from apps.cameras.services import camera_create
from apps.delivery.models import Delivery, Event
from apps.media.models import ClipJob, ClipRendition
from apps.media.services import clip_job_run
from tests.base import World, signed_in_client
from tests.media.helpers import BUNNY, PORTRAIT, make_anamorphic, session_token, stored_files
from tests.media.live_sources import free_port, udp_mpegts_source


@pytest.fixture
def call(world: World) -> Call:
    """An active call with Omar's unit on it, near the cameras below."""
    now = timezone.now()
    made = Call.objects.create(agency=world.agency, event_number="26-0000601", status=Call.Status.DISPATCHED,
                               received_at=now, latitude=47.52, longitude=-122.27, address="92XX RAINIER AV S")
    UnitAssignment.objects.create(call=made, unit=world.unit, assigned_at=now)
    return made


def _camera(world: World, url: str, source_kind: str = Camera.SourceKind.UDP) -> Camera:
    return camera_create(agency=world.agency, name="Rainier & Henderson", kind=Camera.Kind.FIXED, owner="SDOT",
                         source_kind=source_kind, source_url=url, sharing=Camera.Sharing.ALWAYS,
                         latitude=47.5201, longitude=-122.2701)


def _upload(client: Any, call_id: int, content: bytes, name: str = "bodycam.mp4") -> Any:
    return client.post(f"/api/v1/calls/{call_id}/clips/upload",
                       {"file": SimpleUploadedFile(name, content, content_type="video/mp4")}, format="multipart")


def _temp_dirs(job_id: int) -> list[str]:
    return glob.glob(os.path.join(tempfile.gettempdir(), f"rtcc-clip-{job_id}-*"))


def _clip_events(user_id: int) -> list[Event]:
    return list(Event.objects.filter(user_id=user_id, type="clip"))


def test_an_uploaded_video_becomes_two_renditions_and_a_poster_and_omar_hears_of_it(
        world: World, call: Call, django_capture_on_commit_callbacks: Any) -> None:
    ava = signed_in_client(world.ava)
    with django_capture_on_commit_callbacks(execute=True):
        created = _upload(ava, call.pk, BUNNY.read_bytes())
    assert created.status_code == 202, created.content
    job = ClipJob.objects.get(pk=created.json()["id"])
    assert job.state == ClipJob.State.READY, (job.failure_code, job.failure_reason)
    assert job.seconds == 6 and job.upload_sha256 and job.duration_s and 4.5 < job.duration_s < 6

    body = signed_in_client(world.omar).get(f"/api/v1/clips/{job.pk}").json()
    assert (body["state"], body["percent"], body["stage"]) == ("ready", 100, "done")
    assert {r["name"]: (r["width"], r["height"], r["has_audio"]) for r in body["renditions"]} == {
        "360p": (640, 360, True), "720p": (1280, 720, True)}
    assert body["rendition"] == "360p" and body["url"] and body["poster_url"]
    clip = Client().get(body["url"].removeprefix("http://testserver"))
    data = b"".join(clip.streaming_content)
    assert clip["Content-Type"] == "video/mp4" and data[4:8] == b"ftyp"
    assert len(data) == ClipRendition.objects.get(job=job, name="360p").size_bytes
    assert data.index(b"moov") < data.index(b"mdat")  # plays while it downloads
    poster = Client().get(body["poster_url"].removeprefix("http://testserver"))
    assert Image.open(io.BytesIO(b"".join(poster.streaming_content))).format == "JPEG"

    hd = signed_in_client(world.omar).get(f"/api/v1/clips/{job.pk}", {"rendition": "720p"}).json()
    assert hd["rendition"] == "720p" and hd["url"] != body["url"]
    (event,) = _clip_events(world.omar.pk)
    push_id = event.payload.pop("push")
    assert (event.op, event.object_id, event.payload) == ("ready", str(job.pk), {"call_id": call.pk,
                                                                                "clip_id": job.pk})
    assert Delivery.objects.get(push_id=push_id).user == world.omar, "a push: Omar's receipt is tracked"
    assert _clip_events(world.sam.pk) == [] and _clip_events(world.xavier.pk) == []
    assert _temp_dirs(job.pk) == []


def test_a_small_anamorphic_upload_says_which_renditions_exist_and_why(
        world: World, call: Call, django_capture_on_commit_callbacks: Any, tmp_path: Any) -> None:
    source = make_anamorphic(tmp_path / "qcif.mp4")  # 176x144 of 128:117 pixels, an old camera's QCIF
    with django_capture_on_commit_callbacks(execute=True):
        created = _upload(signed_in_client(world.ava), call.pk, source.read_bytes())
    assert created.status_code == 202, created.content

    body = signed_in_client(world.omar).get(f"/api/v1/clips/{created.json()['id']}").json()

    assert body["state"] == "ready", body["failure_reason"]
    assert [(r["name"], r["width"], r["height"]) for r in body["renditions"]] == [("360p", 176, 132)]
    plan = {p["name"]: p for p in body["rendition_plan"]}
    assert (plan["360p"]["made"], plan["720p"]["made"]) == (True, False)
    assert "never upscaled" in plan["360p"]["reason"] and "reducing its height" in plan["360p"]["reason"]
    assert plan["720p"]["reason"] == ("Not made: from the 176x144 source (128/117 pixels made square by reducing "
                                      "its height) it would be 176x132, the same as 360p.")
    # A phone asking for the 720p gets the one that exists.
    hd = signed_in_client(world.omar).get(f"/api/v1/clips/{body['id']}", {"rendition": "720p"}).json()
    assert hd["rendition"] == "360p" and hd["url"]
    assert ClipRendition.objects.filter(job_id=body["id"]).count() == 1


def test_a_phone_can_seek_in_a_clip_with_range_requests(world: World, call: Call,
                                                       django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        job_id = _upload(signed_in_client(world.ava), call.pk, BUNNY.read_bytes()).json()["id"]
    url = signed_in_client(world.omar).get(f"/api/v1/clips/{job_id}").json()["url"].removeprefix("http://testserver")
    whole = b"".join(Client().get(url).streaming_content)
    part = Client().get(url, HTTP_RANGE="bytes=1000-1999")
    assert part.status_code == 206 and part["Content-Range"] == f"bytes 1000-1999/{len(whole)}"
    assert b"".join(part.streaming_content) == whole[1000:2000]
    assert Client().get(url, HTTP_RANGE=f"bytes={len(whole)}-").status_code == 416


def test_a_clip_from_a_live_camera_covers_the_next_seconds(world: World, call: Call,
                                                          django_capture_on_commit_callbacks: Any) -> None:
    with udp_mpegts_source() as url:
        camera = _camera(world, url)
        with django_capture_on_commit_callbacks(execute=True):
            created = signed_in_client(world.ava).post(f"/api/v1/calls/{call.pk}/clips",
                                                       {"camera_id": camera.pk, "seconds": 3}, format="json")
    assert created.status_code == 202, created.content
    job = ClipJob.objects.get(pk=created.json()["id"])
    assert job.state == ClipJob.State.READY, (job.failure_code, job.failure_reason)
    assert job.source == "camera" and job.camera == camera and 2.5 <= (job.duration_s or 0) <= 3.5
    # A 240-line camera is never upscaled: one rendition, its own size.
    assert [(r.name, r.height) for r in job.renditions.all()] == [("360p", 240), ("720p", 240)] or \
        [r.height for r in job.renditions.all()] == [240]
    assert len(_clip_events(world.omar.pk)) == 1


def test_a_camera_that_never_answers_fails_the_job_with_a_reason_and_leaves_nothing(
        world: World, call: Call, django_capture_on_commit_callbacks: Any) -> None:
    camera = _camera(world, f"rtsp://127.0.0.1:{free_port()}/camera", Camera.SourceKind.RTSP)
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        created = signed_in_client(world.ava).post(f"/api/v1/calls/{call.pk}/clips",
                                                   {"camera_id": camera.pk, "seconds": 10}, format="json")
    assert time.monotonic() - started < 15
    body = signed_in_client(world.ava).get(f"/api/v1/clips/{created.json()['id']}").json()
    assert body["state"] == "failed" and body["failure_code"] in {"source_unavailable", "source_timeout"}
    assert body["failure_reason"] and "rtsp://" not in body["failure_reason"] and body["url"] is None
    assert not ClipRendition.objects.exists() and stored_files() == []
    assert _temp_dirs(body["id"]) == [] and _clip_events(world.omar.pk) == []


def _long_video(seconds: int) -> bytes:
    """A tiny H.264 MP4 that lasts `seconds` (one frame a minute)."""
    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=1)
        stream.width, stream.height, stream.pix_fmt = 16, 16, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1)
        for at in range(0, seconds, 60):
            frame = av.VideoFrame.from_image(Image.new("RGB", (16, 16)))
            frame.pts, frame.time_base = at, Fraction(1, 1)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return out.getvalue()


@pytest.mark.parametrize(("case", "make", "code", "status"), [
    ("zero bytes", lambda: b"", "empty_file", 400),
    ("truncated, its index lost", lambda: BUNNY.read_bytes()[:400_000], "unreadable_source", 400),
    ("a JPEG renamed .mp4", lambda: PORTRAIT.read_bytes(), "unreadable_source", 400),
    ("two hours long", lambda: _long_video(2 * 3600), "too_long", 400),
])
def test_bad_uploads_are_refused_at_once_and_leave_nothing(world: World, call: Call, case: str, make: Any,
                                                          code: str, status: int) -> None:
    content = make()
    started = time.monotonic()
    response = _upload(signed_in_client(world.ava), call.pk, content)
    assert time.monotonic() - started < 2.0, case
    assert response.status_code == status and response.json()["code"] == code, (case, response.json())
    assert not ClipJob.objects.exists() and stored_files() == []


def _faststart_video(seconds: int = 5) -> bytes:
    """A small H.264 MP4 with its index first, so a truncated copy still probes as whole."""
    with tempfile.TemporaryDirectory() as work:  # faststart rewrites the file: it needs a path, not a buffer
        path = os.path.join(work, "clip.mp4")
        with av.open(path, "w", format="mp4", options={"movflags": "faststart"}) as container:
            stream = container.add_stream("libx264", rate=25)
            stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
            for n in range(seconds * 25):
                frame = av.VideoFrame.from_image(Image.effect_noise((64, 64), 60 + n % 40).convert("RGB"))
                frame.pts = n
                container.mux(stream.encode(frame))
            container.mux(stream.encode())
        with open(path, "rb") as fh:
            return fh.read()


def test_a_job_that_fails_while_transcoding_says_why_and_keeps_nothing(
        world: World, call: Call, django_capture_on_commit_callbacks: Any) -> None:
    whole = _faststart_video()
    with django_capture_on_commit_callbacks(execute=True):
        created = _upload(signed_in_client(world.ava), call.pk, whole[: len(whole) // 2])
    assert created.status_code == 202, created.content  # its index says 5 s: it probes as whole
    body = signed_in_client(world.ava).get(f"/api/v1/clips/{created.json()['id']}").json()
    assert (body["state"], body["failure_code"]) == ("failed", "truncated_source"), body
    assert body["failure_reason"] and body["url"] is None
    assert not ClipRendition.objects.exists() and stored_files() == []  # the upload went too
    assert _temp_dirs(body["id"]) == [] and _clip_events(world.omar.pk) == []


def test_an_upload_over_the_byte_limit_is_413(world: World, call: Call, settings: Any) -> None:
    settings.MEDIA_VIDEO_MAX_BYTES = 100_000
    response = _upload(signed_in_client(world.ava), call.pk, BUNNY.read_bytes())
    assert response.status_code == 413 and response.json()["code"] == "file_too_large"
    assert stored_files() == []


def test_a_queued_job_cancelled_never_runs(world: World, call: Call) -> None:
    job = _queued_upload_job(world, call)
    cancelled = signed_in_client(world.sam).post(f"/api/v1/clips/{job.pk}/cancel")
    assert cancelled.status_code == 200
    assert (cancelled.json()["state"], cancelled.json()["failure_code"]) == ("cancelled", "cancelled")
    assert clip_job_run(job_id=job.pk) == "cancelled"
    assert not ClipRendition.objects.exists() and _clip_events(world.omar.pk) == []
    again = signed_in_client(world.sam).post(f"/api/v1/clips/{job.pk}/cancel")
    assert again.status_code == 400 and again.json()["code"] == "clip_finished"


def test_officers_read_clips_of_their_calls_but_neither_ask_a_camera_for_nor_cancel_them(
        world: World, call: Call) -> None:
    job = _queued_upload_job(world, call)
    omar = signed_in_client(world.omar)
    assert omar.get(f"/api/v1/clips/{job.pk}").status_code == 200
    assert [c["id"] for c in omar.get(f"/api/v1/calls/{call.pk}/clips").json()] == [job.pk]
    refused = omar.post(f"/api/v1/clips/{job.pk}/cancel")
    assert refused.status_code == 403 and refused.json()["code"] == "clip_read_only"
    asked = omar.post(f"/api/v1/calls/{call.pk}/clips", {"camera_id": 1, "seconds": 5}, format="json")
    assert asked.status_code == 403 and asked.json()["code"] == "clip_not_allowed"
    UnitAssignment.objects.filter(call=call).update(cleared_at=timezone.now())
    assert omar.get(f"/api/v1/clips/{job.pk}").status_code == 404  # cleared from the call: no longer his


def test_xavier_gets_404_on_everything(world: World, call: Call) -> None:
    job = _queued_upload_job(world, call)
    ClipJob.objects.filter(pk=job.pk).update(state=ClipJob.State.READY)
    ClipRendition.objects.create(job=job, name="360p", file=job.upload.name, width=640, height=360, size_bytes=1,
                                 has_audio=False, sha256="0" * 64)
    xavier = signed_in_client(world.xavier)
    answers = {
        "list": xavier.get(f"/api/v1/calls/{call.pk}/clips"),
        "create": xavier.post(f"/api/v1/calls/{call.pk}/clips", {"camera_id": 1, "seconds": 5}, format="json"),
        "upload": _upload(xavier, call.pk, BUNNY.read_bytes()),
        "retrieve": xavier.get(f"/api/v1/clips/{job.pk}"),
        "cancel": xavier.post(f"/api/v1/clips/{job.pk}/cancel"),
        "file": Client().get(f"/api/v1/media/clips/{session_token(xavier, job.pk, '360p', kind='clip')}"),
    }
    assert {name: r.status_code for name, r in answers.items()} == dict.fromkeys(answers, 404)
    assert ClipJob.objects.count() == 1


def _queued_upload_job(world: World, call: Call) -> ClipJob:
    """A job as an upload leaves it, before any worker took it (made here, so no worker runs it)."""
    job = ClipJob(agency=world.agency, call=call, requested_by=world.ava, source=ClipJob.Source.UPLOAD, seconds=6,
                  upload_sha256="x")
    job.upload.save("bunny.video", ContentFile(BUNNY.read_bytes()), save=False)
    job.save()
    return job


# ------------------------------------------------- a job running in a worker while the API is asked

# A worker thread and the API writing and reading at once: SQLite's shared in-memory test database
# answers "table is locked" instead of waiting. CI runs these on PostgreSQL, as production does.
needs_postgresql = pytest.mark.skipif(connection.vendor != "postgresql",
                                      reason="concurrent worker and API need PostgreSQL (CI has it)")


@pytest.fixture
def running(transactional_db: Any, world: World, call: Call) -> Iterator[tuple[ClipJob, threading.Thread]]:
    """A clip job running in another thread (a worker), committed as it goes, as the API sees it."""
    job = _queued_upload_job(world, call)

    def work() -> None:
        try:
            clip_job_run(job_id=job.pk)
        finally:
            connections.close_all()

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    yield job, worker
    worker.join(timeout=60)


def _poll(client: Any, job_id: int, until: Any, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/api/v1/clips/{job_id}").json()
        if until(body):
            return body  # type: ignore[no-any-return]
        time.sleep(0.05)
    raise AssertionError(f"clip {job_id} never reached the state asked for: {body}")


@needs_postgresql
def test_progress_is_visible_through_the_api_while_the_job_runs(
        world: World, running: tuple[ClipJob, threading.Thread]) -> None:
    job, worker = running
    omar = signed_in_client(world.omar)
    midway = _poll(omar, job.pk, lambda b: b["state"] == "running" and 0 < b["percent"] < 100)
    assert midway["stage"] == "transcoding" and midway["url"] is None
    worker.join(timeout=60)
    done = omar.get(f"/api/v1/clips/{job.pk}").json()
    assert (done["state"], done["percent"]) == ("ready", 100)


@needs_postgresql
def test_a_running_job_cancelled_stops_and_leaves_no_file_behind(
        world: World, running: tuple[ClipJob, threading.Thread]) -> None:
    job, worker = running
    ava = signed_in_client(world.ava)
    _poll(ava, job.pk, lambda b: b["state"] == "running" and b["percent"] > 0)
    cancelled = ava.post(f"/api/v1/clips/{job.pk}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["cancel_requested"] is True
    worker.join(timeout=60)
    body = ava.get(f"/api/v1/clips/{job.pk}").json()
    assert (body["state"], body["failure_code"]) == ("cancelled", "cancelled")
    assert not ClipRendition.objects.exists() and _clip_events(world.omar.pk) == []
    assert stored_files() == [] and _temp_dirs(job.pk) == []


def test_a_worker_redelivered_a_job_another_holds_leaves_it_alone(world: World, call: Call) -> None:
    job = _queued_upload_job(world, call)
    ClipJob.objects.filter(pk=job.pk).update(state=ClipJob.State.RUNNING, started_at=timezone.now())
    assert clip_job_run(job_id=job.pk) == "running"
    # Past its lease, the job is taken over (its first worker died).
    ClipJob.objects.filter(pk=job.pk).update(started_at=timezone.now() - timedelta(hours=1))
    assert clip_job_run(job_id=job.pk) == "ready"


def test_omar_on_the_call_attaches_a_video_from_his_phone(world: World, call: Call) -> None:
    created = _upload(signed_in_client(world.omar), call.pk, BUNNY.read_bytes())
    assert created.status_code == 202, created.json()
    assert ClipJob.objects.get(pk=created.json()["id"]).call_id == call.pk


def test_an_officer_whose_unit_is_not_on_the_call_cannot_attach_a_video(world: World, call: Call) -> None:
    UnitAssignment.objects.filter(call=call).update(cleared_at=timezone.now())
    response = _upload(signed_in_client(world.omar), call.pk, BUNNY.read_bytes())
    assert response.status_code == 404 and response.json()["code"] == "call_not_found"
    assert not ClipJob.objects.exists() and stored_files() == []
