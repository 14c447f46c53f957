from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from apps.accounts.management.agency import agency_for_command
from apps.accounts.models import Agency, User
from apps.common.errors import ValidationFailed
from apps.common.management.progress import command_progress
from apps.sensors.models import HotList
from apps.sensors.services import EntryIn, hot_list_import

DEFAULT_ORI = "WA0170000"  # the demo agency, so a laptop demo needs no flags
BATCH = 2_000


def _rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or "plate" not in [f.strip().lower() for f in reader.fieldnames]:
            raise CommandError(f"{path.name}: the header must name a 'plate' column "
                               "(and optionally state, description, case_number, expires_at).")
        return [(n, {k.strip().lower(): (v or "").strip() for k, v in row.items() if k})
                for n, row in enumerate(reader, start=2)]


def _entry(line: int, row: dict[str, str]) -> EntryIn:
    expires = row.get("expires_at") or ""
    try:
        expires_at = datetime.fromisoformat(expires) if expires else None
    except ValueError:
        raise CommandError(f"line {line}: expires_at {expires!r} is not ISO 8601") from None
    if expires_at is not None and expires_at.tzinfo is None:
        raise CommandError(f"line {line}: expires_at needs a time zone, e.g. 2026-12-31T00:00:00Z")
    return EntryIn(plate=row.get("plate", ""), region=row.get("state") or row.get("region") or "",
                   description=row.get("description", ""), case_number=row.get("case_number", ""),
                   expires_at=expires_at)


class Command(BaseCommand):
    help = (
        "Import plates into a hot list from a CSV file with a header: plate, and optionally state, description, "
        "case_number, expires_at. Makes the list if it does not exist. Plates already on it are skipped; a bad "
        "row stops the import before anything is written."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--list", required=True, dest="list_name", help="The hot list's name.")
        parser.add_argument("--kind", default=HotList.Kind.STOLEN_VEHICLE, choices=HotList.Kind.values,
                            help="For a new list (default stolen_vehicle).")
        parser.add_argument("--reason", default="", help="For a new list; required for a custom one.")
        parser.add_argument("--source", default="", help="What hits are verified against, e.g. 'NCIC extract'.")
        parser.add_argument("--owner", help="Username of the analyst or supervisor who owns a new list.")
        parser.add_argument("--agency", default=DEFAULT_ORI, help=f"ORI of the agency (default {DEFAULT_ORI}).")

    def handle(self, *args: Any, **options: Any) -> None:
        agency = agency_for_command(options["agency"])
        path: Path = options["file"]
        try:
            rows = _rows(path)
        except OSError as error:
            raise CommandError(str(error)) from None
        entries = [_entry(line, row) for line, row in rows]
        added = skipped = 0
        with transaction.atomic():
            hot_list = self.hot_list(agency, options)
            progress = command_progress(self, options, total=len(entries), unit="plate", desc=hot_list.name)
            for start in range(0, len(entries), BATCH):
                chunk = entries[start:start + BATCH]
                try:
                    new, old = hot_list_import(hot_list=hot_list, rows=chunk, added_by=None)
                except ValidationFailed as error:
                    raise CommandError(f"rows {start + 2}-{start + 1 + len(chunk)}: {error.message} "
                                       f"{error.fields}; nothing was imported") from None
                added, skipped = added + new, skipped + old
                progress.update(len(chunk))
            progress.close()
        self.stdout.write(f"{hot_list.name}: {added} plates added, {skipped} already listed.")

    def hot_list(self, agency: Agency, options: dict[str, Any]) -> HotList:
        found = HotList.objects.filter(agency=agency, name=options["list_name"]).first()
        if found is not None:
            return found
        owner = User.objects.filter(agency=agency, username=options["owner"] or "").first()
        if owner is None:
            raise CommandError(f"No list named {options['list_name']!r}: give --owner (a username of the agency) "
                               "to make it.")
        if options["kind"] == HotList.Kind.CUSTOM and not options["reason"].strip():
            raise CommandError("A custom list needs --reason.")
        return HotList.objects.create(agency=agency, name=options["list_name"], kind=options["kind"],
                                      reason=options["reason"], source=options["source"], owner=owner)
