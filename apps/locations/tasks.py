"""Celery tasks of the locations app: the track purge, scheduled hourly by beat (CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from rtcc_server.celery import app


@app.task(name="locations.purge_tracks")
def tracks_purge_task() -> int:
    from apps.locations.services import tracks_purge

    return tracks_purge()
