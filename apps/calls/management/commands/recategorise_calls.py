from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from apps.accounts.management.agency import agency_for_command
from apps.calls.models import Call
from apps.calls.services import calls_recategorise
from apps.common.management.progress import command_progress


class Command(BaseCommand):
    help = (
        "Re-categorise an agency's stored calls from its CAD type mappings as they are now (exact codes and "
        "families such as 'EMS: *'), after load_cad_types or an edit in the admin. Audited."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--agency", required=True, help="ORI of the agency.")

    def handle(self, *args: Any, **options: Any) -> None:
        agency = agency_for_command(options["agency"])
        codes = Call.objects.filter(agency=agency).values("cad_code").distinct().count()
        with command_progress(self, options, total=codes, unit="code", desc="recategorise") as bar:
            detail = calls_recategorise(agency=agency, progress=bar.update)
        self.stdout.write(f"{agency.ori}: {detail['calls_changed']} calls re-categorised over {detail['codes']} "
                          f"CAD codes")
        for move, n in sorted(detail["moves"].items(), key=lambda kv: -kv[1]):
            self.stdout.write(f"  {n:>6}  {move}")
