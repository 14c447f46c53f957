"""Celery tasks of the emergencies app: the incident, cameras and clips once an emergency's word is out."""

from __future__ import annotations

from rtcc_server.celery import app


# acks_late: a worker killed mid-task leaves the message for another; the emergency's call claims the work.
@app.task(name="emergencies.follow_up", acks_late=True, reject_on_worker_lost=True)
def emergency_follow_up_task(emergency_id: int) -> int:
    from apps.emergencies.services import emergency_follow_up

    return emergency_follow_up(emergency_id=emergency_id)
