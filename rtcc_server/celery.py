"""Celery app: transcoding and push fan-out run here in production.

Embedded runs set CELERY_TASK_ALWAYS_EAGER, so tasks run in process.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rtcc_server.settings")

app = Celery("rtcc_server")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def _close_old_connections(sender: Any = None, **_kwargs: Any) -> None:
    """A task is a request: drop connections that broke or outlived CONN_MAX_AGE (settings.CELERY_DB_REUSE_MAX).

    Not for a task run eagerly: it runs inside its caller's request or transaction, on its connection.
    """
    from django.db import close_old_connections

    if not getattr(getattr(sender, "request", None), "is_eager", False):
        close_old_connections()
