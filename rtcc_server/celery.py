"""Celery app: transcoding and push fan-out run here in production.

Embedded runs set CELERY_TASK_ALWAYS_EAGER, so tasks run in process.
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rtcc_server.settings")

app = Celery("rtcc_server")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
