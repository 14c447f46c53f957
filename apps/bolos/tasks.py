"""Celery tasks of the BOLO app: the hourly purge of photos uploaded and never used (CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from rtcc_server.celery import app


@app.task(name="bolos.purge_unused_photos")
def bolo_photos_unused_purge_task() -> int:
    from apps.bolos.services import bolo_photos_unused_purge

    return bolo_photos_unused_purge()
