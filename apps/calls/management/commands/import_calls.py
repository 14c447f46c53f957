from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.accounts.management.agency import agency_for_command
from apps.calls.importing import (
    DOCS,
    ENCODINGS_NAMED,
    LAYOUTS,
    ImportFileError,
    Layout,
    calls_import,
    encoding_check,
    mapping_layout,
)
from apps.common.management.progress import command_progress

# The demo agency (fixtures.demo_city.DEMO_ORI), so a laptop demo needs no flags.
DEFAULT_ORI = "WA0170000"


class Command(BaseCommand):
    help = (
        "Import call history from a CSV file: Seattle SPD 911 Incident Response, Orlando PD active calls, or any "
        f"CSV described by a mapping file (YAML or JSON; the format, with examples, is {DOCS}). Rows already "
        "imported are skipped, repeats inside the file are counted as duplicates, bad rows are reported by their "
        "exact line and the rest load. All or nothing unless --partial."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--format", required=True, choices=[*LAYOUTS, "mapping"])
        parser.add_argument("--mapping", type=Path, help="The mapping file, with --format mapping.")
        parser.add_argument("--agency", default=DEFAULT_ORI, help=f"ORI of the agency (default {DEFAULT_ORI}).")
        parser.add_argument("--shift-days", type=int, default=0,
                            help="Move every time forward this many days (replaying an old file as recent history).")
        parser.add_argument("--encoding", default="utf-8",
                            help=f"The file's text encoding (default utf-8; also {', '.join(ENCODINGS_NAMED[1:])}, "
                                 "or any Python codec). A line that does not decode is rejected by its number.")
        parser.add_argument("--partial", action="store_true",
                            help="Keep the batches loaded before a fatal error (default: a fatal error keeps nothing).")
        parser.add_argument("--dry-run", action="store_true",
                            help="Read and check everything, print the summary and the first rows as they would be "
                                 "stored, write nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        agency = agency_for_command(options["agency"])
        path: Path = options["file"]
        try:
            encoding_check(options["encoding"])
            layout = self.layout(options["format"], options["mapping"])
            with command_progress(self, options, total=count_lines(path), unit="line", desc=path.name) as progress:
                report = calls_import(path=path, layout=layout, agency=agency,
                                      shift=timedelta(days=options["shift_days"]), progress=progress.update,
                                      encoding=options["encoding"], partial=options["partial"],
                                      dry_run=options["dry_run"])
        except (ImportFileError, OSError) as error:
            kept = " Batches loaded before it were kept (--partial)." if options["partial"] else (
                " Nothing was written.")
            raise CommandError(f"{error}.{kept}".replace("..", ".")) from None
        for line in report.lines():
            self.stdout.write(line)

    def layout(self, name: str, mapping: Path | None) -> Layout:
        if name == "mapping":
            if mapping is None:
                raise CommandError("--format mapping needs --mapping MAPFILE.")
            return mapping_layout(mapping)
        if mapping is not None:
            raise CommandError(f"--mapping is only for --format mapping, not {name}.")
        return LAYOUTS[name]


def count_lines(path: Path) -> int:
    """Lines in the file, for the progress bar's total: one quick pass in binary."""
    lines = 0
    last = b"\n"
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return lines + (last != b"\n")
