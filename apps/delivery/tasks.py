"""Celery tasks of the delivery app: audience resolution after commit.

The periodic sweep (alerts due, escalation, recovery, the event trim) is `manage.py delivery_dispatcher`.
"""

from __future__ import annotations

from rtcc_server.celery import app


# acks_late: a worker killed mid-task leaves the message for another; push_resolve is idempotent.
@app.task(name="delivery.push_resolve", acks_late=True, reject_on_worker_lost=True)
def push_resolve_task(push_id: int) -> int:
    from apps.delivery.services import push_resolve

    return push_resolve(push_id=push_id)

