"""Celery tasks of the emergencies app: pinning cameras and asking clips after an emergency is raised."""

from __future__ import annotations

from rtcc_server.celery import app


# acks_late: a worker killed mid-task leaves the message for another; the step row claims the work.
@app.task(name="emergencies.cameras", acks_late=True, reject_on_worker_lost=True)
def emergency_cameras_task(emergency_id: int) -> int:
    from apps.emergencies.services import emergency_cameras

    return emergency_cameras(emergency_id=emergency_id)
