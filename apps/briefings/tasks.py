"""Briefing assembly runs in a Celery task, after the change that asked for it has committed."""

from __future__ import annotations

from django.db import transaction

from rtcc_server.celery import app


@app.task(name="briefings.assemble", acks_late=True)
def briefing_assemble_task(call_id: int, reason: str) -> None:
    from apps.briefings.services import briefing_assemble

    briefing_assemble(call_id=call_id, reason=reason)


def briefing_assemble_later(*, call_id: int, reason: str) -> None:
    """Schedule assembly once the current transaction commits (never for a rolled-back call)."""
    transaction.on_commit(lambda: briefing_assemble_task.delay(call_id, reason))
