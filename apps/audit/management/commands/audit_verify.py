from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.audit.selectors import audit_log_total, audit_log_verify
from apps.common.management.progress import command_progress


class Command(BaseCommand):
    help = ("Check every audit row's hash, the log's order and Merkle tree, and every checkpoint's signature "
            "and consistency; name the first fault (docs/audit.md).")

    def handle(self, *args: Any, **options: Any) -> None:
        progress = command_progress(self, options, total=audit_log_total(), unit="row")
        done = 0
        last = None
        for last in audit_log_verify():
            progress.update(last.checked - done)
            done = last.checked
            if last.fault is not None:
                progress.close()
                raise CommandError(f"audit log broken at {last.fault}")
        progress.close()
        sequenced, waiting, checkpoints = (last.sequenced, last.unsequenced, last.checkpoints) if last else (0, 0, 0)
        self.stdout.write(self.style.SUCCESS(
            f"audit log intact: {done} events verified ({sequenced} in the log, {waiting} waiting for the "
            f"sequencer), {checkpoints} checkpoints"))
