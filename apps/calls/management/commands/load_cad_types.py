from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.accounts.management.agency import agency_for_command
from apps.calls.importing import ImportFileError, cad_types_load


class Command(BaseCommand):
    help = (
        "Load an agency's CAD type mappings from a JSON list of {code, description, category, priority}; a code "
        "ending in * is a family ('EMS: *'). Existing codes are updated; nothing is written if any entry is "
        "invalid. Then recategorise_calls applies them to the calls already stored."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--agency", required=True, help="ORI of the agency.")

    def handle(self, *args: Any, **options: Any) -> None:
        agency = agency_for_command(options["agency"])
        try:
            loaded = cad_types_load(path=options["file"], agency=agency)
        except ImportFileError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"CAD types for {agency.ori}: created {loaded.created}, updated {loaded.updated}")
        self.stdout.write(f"Calls already stored keep their categories until: manage.py recategorise_calls "
                          f"--agency {agency.ori}")
