from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from apps.audit.models import AuditEvent
from apps.audit.selectors import audit_chain_verify


class Command(BaseCommand):
    help = "Check the audit trail's hash chain and name the first broken row."

    def handle(self, *args: Any, **options: Any) -> None:
        total = AuditEvent.objects.count()
        progress = tqdm(total=total, unit="row", disable=options["verbosity"] < 1, file=self.stderr._out)
        done = 0
        for checked, broken in audit_chain_verify():
            progress.update(checked - done)
            done = checked
            if broken is not None:
                progress.close()
                raise CommandError(f"audit chain broken at event {broken.event_id}: {broken.reason}")
        progress.close()
        self.stdout.write(self.style.SUCCESS(f"audit chain intact: {done} events verified"))
