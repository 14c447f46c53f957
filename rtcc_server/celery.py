"""Celery app: transcoding and push fan-out run here in production.

Embedded runs set CELERY_TASK_ALWAYS_EAGER, so tasks run in process.
"""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rtcc_server.settings")

app = Celery("rtcc_server")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def _close_old_connections(**_kwargs: object) -> None:
    """A task is a request: drop connections that broke or outlived CONN_MAX_AGE (settings.CELERY_DB_REUSE_MAX)."""
    from django.db import close_old_connections

    close_old_connections()
