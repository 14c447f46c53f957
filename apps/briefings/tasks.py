"""Briefing assembly runs in a Celery task, after the change that asked for it has committed.

Requests for one call coalesce: while a task for the call waits in the queue, another
change asks for nothing more, because that task reads the call only when it starts
(a CAD creates a call and assigns a unit within the same second: one assembly, not two).
"""

from __future__ import annotations

import logging

from django.core.cache import cache

from apps.common.later import after_commit
from rtcc_server.celery import app

logger = logging.getLogger(__name__)
# Longer than any queue wait we tolerate: a key left by a lost task stops coalescing after this.
_PENDING_SECONDS = 60


def _pending_key(call_id: int) -> str:
    return f"briefings.assemble.pending.{call_id}"


@app.task(name="briefings.assemble", acks_late=True)
def briefing_assemble_task(call_id: int, reason: str) -> None:
    from apps.briefings.services import briefing_assemble

    # Before reading anything: a change committed from now on queues a task of its own.
    cache.delete(_pending_key(call_id))
    briefing_assemble(call_id=call_id, reason=reason)


def _enqueue(call_id: int, reason: str) -> None:
    if not cache.add(_pending_key(call_id), reason, timeout=_PENDING_SECONDS):
        return  # a queued task will see this change
    try:
        briefing_assemble_task.delay(call_id, reason)
    except Exception:
        cache.delete(_pending_key(call_id))
        raise


def briefing_assemble_later(*, call_id: int, reason: str) -> None:
    """Schedule assembly once the current transaction commits (never for a rolled-back call).

    The apps below briefings ask for it with apps.calls.signals.call_changed_notify; briefings listens.
    """
    after_commit(_enqueue, call_id, reason)
