"""Clip jobs run in a Celery worker, after the request that asked for one has committed."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from apps.common.later import after_commit
from rtcc_server.celery import app


# acks_late + reject_on_worker_lost: a worker killed mid-transcode leaves the message to another
# worker, which takes the job over once its lease (MEDIA_CLIP_LEASE_SECONDS) has run out.
@app.task(name="media.clip_job_run", bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=3)
def clip_job_run_task(self: Any, job_id: int) -> str:
    from apps.media.models import ClipJob
    from apps.media.services import clip_job_run

    state = clip_job_run(job_id=job_id)
    if state == ClipJob.State.RUNNING and not self.request.is_eager:
        # Another worker holds it (or died holding it): look again when its lease has run out.
        raise self.retry(countdown=settings.MEDIA_CLIP_LEASE_SECONDS)
    return state


def clip_job_run_later(*, job_id: int) -> None:
    """Queue the job once the current transaction commits (never for a rolled-back request)."""
    after_commit(clip_job_run_task.delay, job_id)
