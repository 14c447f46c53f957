from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from apps.audit.models import AuditCheckpoint
from apps.audit.selectors import checkpoint_as_dict


class Command(BaseCommand):
    help = ("Export the audit log's signed checkpoints as JSON lines, oldest first, for auditors to keep "
            "outside the system (docs/audit.md).")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", type=int, default=0, help="Only checkpoints with a larger id.")

    def handle(self, *args: Any, **options: Any) -> None:
        for checkpoint in AuditCheckpoint.objects.filter(id__gt=options["since"]).order_by("id").iterator():
            self.stdout.write(json.dumps(checkpoint_as_dict(checkpoint), default=str, sort_keys=True))
