"""Sends due push alerts, escalates unacknowledged priority-1 pushes, runs other apps' timed jobs
(referral offers rolling over), sequences the audit log and signs its checkpoints (docs/audit.md),
and recovers stalled work.

One loop, a few times a second: an alert falls due (ack timeout) at any moment,
and the fallback must reach the phone within a second of it. Safe to run in
several processes: every piece of work is claimed before it is done.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections

from apps.audit.services import SEQUENCE_BATCH, audit_log_sequence
from apps.delivery.services import (
    alerts_send_due,
    deliveries_recover,
    dispatcher_jobs_run,
    escalations_due,
    events_trim,
    pushes_recover,
)

# Poll every 200 ms: the fallback alert is due at ack timeout + at most this.
POLL_SECONDS = 0.2
RECOVER_EVERY_SECONDS = 10
# Pushes whose task was lost are looked for every second (an indexed query on pending pushes).
PUSH_RECOVER_EVERY_SECONDS = 1
TRIM_EVERY_SECONDS = 3600


class Command(BaseCommand):
    help = ("Run the delivery dispatcher: push alert fallback, escalation, recovery, event trimming and the "
            "audit log's sequencer.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="One pass, then exit.")
        parser.add_argument("--seconds", type=float, default=0, help="Stop after this long (0: run forever).")

    def handle(self, *args: Any, **options: Any) -> None:
        deadline = time.monotonic() + options["seconds"] if options["seconds"] else None
        last_recover = last_push_recover = last_trim = 0.0
        while True:
            close_old_connections()
            sent = alerts_send_due()
            escalated = escalations_due()
            dispatcher_jobs_run()  # other apps' timed work, e.g. referral offers rolling over
            # Committed audit rows into the Merkle log within a pass; one dispatcher holds the lease, others stand by.
            sequenced = audit_log_sequence()
            now = time.monotonic()
            if now - last_recover >= RECOVER_EVERY_SECONDS:
                deliveries_recover()
                last_recover = last_push_recover = now
            elif now - last_push_recover >= PUSH_RECOVER_EVERY_SECONDS:
                pushes_recover()
                last_push_recover = now
            if now - last_trim >= TRIM_EVERY_SECONDS:
                events_trim()
                last_trim = now
            if sent or escalated:
                self.stdout.write(f"alerts sent to {sent} recipients, {escalated} escalations")
            if options["once"] or (deadline is not None and time.monotonic() >= deadline):
                return
            if not sent and sequenced < SEQUENCE_BATCH:
                time.sleep(POLL_SECONDS)
