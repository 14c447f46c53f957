"""Celery tasks of the sensors app: an alert's dispatch after commit, the retention purge, the health sweep.

The purge and the health sweep are scheduled by Celery beat (CELERY_BEAT_SCHEDULE in settings).
"""

from __future__ import annotations

from rtcc_server.celery import app


# acks_late: a worker killed mid-task leaves the message for another; alert_dispatch claims the alert first.
@app.task(name="sensors.alert_dispatch", acks_late=True, reject_on_worker_lost=True)
def alert_dispatch_task(alert_id: int) -> bool:
    from apps.sensors.services import alert_dispatch

    return alert_dispatch(alert_id=alert_id)


@app.task(name="sensors.purge_reads")
def plate_reads_purge_task() -> int:
    from apps.sensors.services import plate_reads_purge

    return plate_reads_purge()


@app.task(name="sensors.health_check")
def sources_silence_check_task() -> int:
    from apps.sensors.services import sources_silence_check

    return len(sources_silence_check())
