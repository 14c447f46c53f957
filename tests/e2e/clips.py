"""A ready clip on a call, made the way an analyst's upload makes one (transcoded in this process)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from apps.calls.models import Call
from apps.media.models import ClipJob
from apps.media.services import clip_job_create_from_upload
from tests.media.test_transcode import make_video


def ready_clip(*, call: Call, requested_by: Any, work: Path) -> ClipJob:
    source = make_video(work / "bodycam.mp4", seconds=4, width=640, height=360)
    upload = SimpleUploadedFile("bodycam.mp4", source.read_bytes(), content_type="video/mp4")
    job = clip_job_create_from_upload(user=requested_by, call_id=call.pk, upload=upload)
    job.refresh_from_db()
    assert job.state == ClipJob.State.READY, (job.state, job.failure_code, job.failure_reason)
    return job
