"""Loading call history from CSV exports, and CAD type mappings from JSON.

Three layouts: Seattle's "911 Incident Response" open data, Orlando's scraped
active calls, and any other CSV described by a mapping file (YAML or JSON).
The file is streamed: rows are checked one by one, bad rows are counted and
reported by line, good rows are written in batches, each batch in its own
transaction. Calls already present (same agency and event number) are skipped,
so running an import twice adds nothing the second time.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from django.db import transaction

from apps.accounts.models import Agency
from apps.calls.cad_types import CadType, cad_type_resolve
from apps.calls.models import CadTypeMapping, Call, Category
from apps.places.normalize import address_redacted
from apps.places.services import PremiseSpot, agency_municipality, place_key, place_locate, premise_spots_by_key

# Calls per transaction: enough that commits do not dominate a million-row import, few enough that a batch
# holds its locks (against live CAD writes) for well under a second. Django splits each INSERT to fit the
# database's limit on bound parameters.
BATCH_SIZE = 2_000
REJECTS_KEPT = 20
# Distinct addresses normalised once per run; a city has fewer hundred blocks than this.
ADDRESS_CACHE = 200_000

_EVENT_NUMBER_LENGTH = Call._meta.get_field("event_number").max_length or 40
_CAD_CODE_LENGTH = Call._meta.get_field("cad_code").max_length or 80
_DESCRIPTION_LENGTH = Call._meta.get_field("cad_description").max_length or 200
_ADDRESS_LENGTH = Call._meta.get_field("address").max_length or 200


class ImportFileError(ValueError):
    """The file (or mapping) cannot be imported at all: wrong layout, unreadable, badly described."""


class RowRejected(ValueError):
    """One row cannot be loaded; the message says why."""


@dataclass(frozen=True)
class CallRow:
    event_number: str
    received_at: datetime
    cad_code: str = ""
    address: str = ""
    latitude: float | None = None
    longitude: float | None = None
    narrative: str = ""
    on_scene_at: datetime | None = None
    cleared_at: datetime | None = None
    municipality: str = ""


@dataclass
class ImportReport:
    loaded: int = 0
    # Already in the database, or a repeat of an event number earlier in the same file.
    present: int = 0
    rejected: int = 0
    # The first REJECTS_KEPT rejects, as "line 17: bad date '...'".
    rejects: list[str] = field(default_factory=list)

    def reject(self, line: int, reason: str) -> None:
        self.rejected += 1
        if len(self.rejects) < REJECTS_KEPT:
            self.rejects.append(f"line {line}: {reason}")

    def summary(self) -> str:
        return f"loaded {self.loaded}, skipped as already present {self.present}, rejected {self.rejected}"


class Fields:
    """One CSV record, read by our field names through the layout's column indexes."""

    def __init__(self, values: Sequence[str], columns: dict[str, int], width: int) -> None:
        self.values = values
        self.columns = columns
        # Fields a whole record has: the header's, or up to the last mapped index.
        self.width = width

    def __getitem__(self, name: str) -> str:
        index = self.columns.get(name)
        if index is None:
            return ""
        if index >= len(self.values):
            raise RowRejected(f"{len(self.values)} fields, expected {self.width}")
        return self.values[index].strip()


@dataclass(frozen=True)
class Layout:
    name: str
    # Our field name -> the CSV column holding it: a header name, or a 0-based index.
    columns: dict[str, str | int]
    parse: Callable[[Fields], CallRow]
    header: bool = True
    delimiter: str = ","


# --- reading values ---

def _time(text: str, fmt: str | None, zone: tzinfo, label: str) -> datetime | None:
    """A local time in `fmt` (ISO 8601 when None) as an aware UTC datetime; None when empty."""
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text) if fmt is None else datetime.strptime(text, fmt)  # noqa: DTZ007
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=zone)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        expected = "ISO 8601" if fmt is None else fmt
        raise RowRejected(f"bad {label} {text!r} (expected {expected})") from None


def _required_time(text: str, fmt: str | None, zone: tzinfo, label: str) -> datetime:
    value = _time(text, fmt, zone, label)
    if value is None:
        raise RowRejected(f"missing {label}")
    return value


def _coordinate(text: str, name: str, limit: float) -> float:
    try:
        value = float(text)
    except ValueError:
        raise RowRejected(f"{name} {text!r} is not a number") from None
    if not math.isfinite(value) or abs(value) > limit:
        raise RowRejected(f"{name} {text!r} out of range")
    return value


def _position(latitude: str, longitude: str) -> tuple[float | None, float | None]:
    if not latitude and not longitude:
        return None, None
    if not latitude or not longitude:
        raise RowRejected("latitude without longitude" if latitude else "longitude without latitude")
    return _coordinate(latitude, "latitude", 90.0), _coordinate(longitude, "longitude", 180.0)


def _checked(row: CallRow) -> CallRow:
    """Reject what the columns cannot hold; a truncated event number or address would be a different one."""
    if not row.event_number:
        raise RowRejected("missing event number")
    for value, length, label in ((row.event_number, _EVENT_NUMBER_LENGTH, "event number"),
                                 (row.cad_code, _CAD_CODE_LENGTH, "call type"),
                                 (row.address, _ADDRESS_LENGTH, "address")):
        if len(value) > length:
            raise RowRejected(f"{label} longer than {length} characters")
    return row


def _address(text: str) -> str:
    # "Restricted Address", "NOT AVAILABLE": the agency withheld the place; store no address at all.
    return "" if address_redacted(text) else text


# --- Seattle: SPD 911 Incident Response ---

SEATTLE_TIME = "%m/%d/%Y %I:%M:%S %p"  # 03/25/2016 11:58:30 PM
SEATTLE_ZONE = ZoneInfo("America/Los_Angeles")


def _seattle(fields: Fields) -> CallRow:
    on_scene = _time(fields["on_scene_at"], SEATTLE_TIME, SEATTLE_ZONE, "at-scene time")
    cleared = _time(fields["cleared_at"], SEATTLE_TIME, SEATTLE_ZONE, "clearance date")
    known = [t for t in (on_scene, cleared) if t is not None]
    if not known:
        raise RowRejected("missing clearance date and at-scene time")
    latitude, longitude = _position(fields["latitude"], fields["longitude"])
    return _checked(CallRow(
        event_number=fields["event_number"],
        # The export has no time of the 911 call itself; the earliest time it gives stands for it.
        received_at=min(known), on_scene_at=on_scene, cleared_at=cleared,
        cad_code=fields["cad_code"] or fields["clearance_type"],
        address=_address(fields["address"]), latitude=latitude, longitude=longitude))


SEATTLE = Layout(name="seattle", parse=_seattle, columns={
    "event_number": "CAD Event Number",
    "cad_code": "Initial Type Description",
    "clearance_type": "Event Clearance Description",
    "address": "Hundred Block Location",
    "latitude": "Latitude",
    "longitude": "Longitude",
    "cleared_at": "Event Clearance Date",
    "on_scene_at": "At Scene Time",
})


# --- Orlando: OPD active calls, as scraped ---

ORLANDO_TIME = "%m/%d/%Y %H:%M"  # 1/25/2022 20:27
ORLANDO_ZONE = ZoneInfo("America/New_York")


def orlando_event_number(*, index: str, date: str, description: str, location: str) -> str:
    """The scrape has no event number: one derived from the row, the same on every run."""
    digest = hashlib.sha256(f"{date}|{description}|{location}|{index}".encode()).hexdigest()
    return f"ORL-{digest[:16]}"


def _orlando(fields: Fields) -> CallRow:
    date, description, location = fields["received_at"], fields["cad_code"], fields["address"]
    return _checked(CallRow(
        event_number=orlando_event_number(index=fields["index"], date=date, description=description,
                                          location=location),
        received_at=_required_time(date, ORLANDO_TIME, ORLANDO_ZONE, "date"),
        cad_code=description, address=_address(location)))


# The first column is pandas' unnamed index.
ORLANDO = Layout(name="orlando", parse=_orlando, columns={
    "index": 0, "received_at": "Date", "cad_code": "Description", "address": "Location"})


# --- any CSV, described by a mapping file ---

MAPPED_FIELDS = ("event_number", "received_at", "cad_code", "address", "municipality", "latitude", "longitude",
                 "narrative")
MAPPING_KEYS = {"header", "delimiter", "timezone", "columns", "time_format"}


def _mapped(fmt: str | None, zone: tzinfo) -> Callable[[Fields], CallRow]:
    def parse(fields: Fields) -> CallRow:
        latitude, longitude = _position(fields["latitude"], fields["longitude"])
        return _checked(CallRow(
            event_number=fields["event_number"],
            received_at=_required_time(fields["received_at"], fmt, zone, "date"),
            cad_code=fields["cad_code"], address=_address(fields["address"]), municipality=fields["municipality"],
            latitude=latitude, longitude=longitude, narrative=fields["narrative"]))
    return parse


def mapping_layout(path: Path) -> Layout:
    """The layout a mapping file describes; ImportFileError says what is wrong with it."""
    spec = _mapping_read(path)
    unknown = set(spec) - MAPPING_KEYS
    if unknown:
        raise ImportFileError(f"mapping: unknown keys {sorted(unknown)}; allowed: {sorted(MAPPING_KEYS)}")
    header = spec.get("header", True)
    delimiter = spec.get("delimiter", ",")
    fmt = spec.get("time_format")
    if not isinstance(header, bool):
        raise ImportFileError("mapping: header must be true or false")
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise ImportFileError("mapping: delimiter must be one character")
    if fmt is not None and not isinstance(fmt, str):
        raise ImportFileError("mapping: time_format must be a strftime format such as %m/%d/%Y %H:%M")
    return Layout(name=f"mapping {path.name}", columns=_mapping_columns(spec.get("columns"), header=header),
                  parse=_mapped(fmt, _mapping_zone(spec.get("timezone"))), header=header, delimiter=delimiter)


def _mapping_read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
        spec = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as error:
        raise ImportFileError(f"mapping: cannot read {path}: {error}") from None
    if not isinstance(spec, dict):
        raise ImportFileError("mapping: expected an object with header, delimiter, timezone, columns, time_format")
    return spec


def _mapping_zone(name: Any) -> tzinfo:
    # Required: CAD exports are in local time, and a silent UTC default would shift every call by hours.
    if not isinstance(name, str) or not name:
        raise ImportFileError("mapping: timezone is required, an IANA name such as America/Chicago")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ImportFileError(f"mapping: unknown timezone {name!r}") from None


def _mapping_columns(columns: Any, *, header: bool) -> dict[str, str | int]:
    if not isinstance(columns, dict):
        raise ImportFileError("mapping: columns must map our field names to CSV columns")
    unknown = set(columns) - set(MAPPED_FIELDS)
    if unknown:
        raise ImportFileError(f"mapping: unknown columns {sorted(unknown)}; allowed: {list(MAPPED_FIELDS)}")
    for required in ("event_number", "received_at"):
        if columns.get(required) in (None, ""):
            raise ImportFileError(f"mapping: columns.{required} is required")
    return {name: _mapping_column(name, column, header=header) for name, column in columns.items()
            if column not in (None, "")}


def _mapping_column(name: str, column: Any, *, header: bool) -> str | int:
    if isinstance(column, int) and not isinstance(column, bool) and column >= 0:
        return column
    if isinstance(column, str) and column.strip().isdigit() and not header:
        return int(column)
    if isinstance(column, str) and header:
        return column
    expected = "a column name or a 0-based index" if header else "a 0-based index (the file has no header)"
    raise ImportFileError(f"mapping: columns.{name} must be {expected}, not {column!r}")


LAYOUTS = {"seattle": SEATTLE, "orlando": ORLANDO}


# --- the import ---

def calls_import(*, path: Path, layout: Layout, agency: Agency, shift: timedelta = timedelta(0),
                 progress: Callable[[int], object] = lambda lines: None) -> ImportReport:
    """Load the calls in a CSV file into `agency`; `progress` is told how many lines each step read.

    `shift` moves every time forward: demos and drills replay an old file as recent history.
    """
    report = ImportReport()
    builder = _CallBuilder(agency_id=agency.pk, shift=shift)
    batch: list[Call] = []
    for line, fields in _records(path, layout, progress):
        try:
            row = layout.parse(fields)
        except RowRejected as reason:
            report.reject(line, str(reason))
            continue
        batch.append(builder.call(row))
        if len(batch) >= BATCH_SIZE:
            _store(batch, agency_id=agency.pk, report=report)
            batch = []
    if batch:
        _store(batch, agency_id=agency.pk, report=report)
    return report


def _records(path: Path, layout: Layout, progress: Callable[[int], object]) -> Iterator[tuple[int, Fields]]:
    """(line number where the record starts, its fields) for every non-blank record after the header."""
    try:
        f = path.open(newline="", encoding="utf-8-sig")
    except OSError as error:
        raise ImportFileError(f"cannot open {path}: {error}") from None
    with f:
        reader = csv.reader(f, delimiter=layout.delimiter)
        try:
            columns, width = _column_indexes(reader, layout)
            read = reader.line_num
            progress(read)
            for values in reader:
                # A quoted field can span lines: the record starts on the line after the previous one ended.
                line, read = read + 1, reader.line_num
                progress(read - line + 1)
                if any(values):
                    yield line, Fields(values, columns, width)
        except (UnicodeDecodeError, csv.Error) as error:
            raise ImportFileError(f"cannot read {path} after line {reader.line_num}: {error}") from None


def _column_indexes(reader: Iterator[list[str]], layout: Layout) -> tuple[dict[str, int], int]:
    """Each field's column index, and how many fields a record has."""
    if not layout.header:
        by_index = {name: int(column) for name, column in layout.columns.items()}
        return by_index, max(by_index.values()) + 1
    header = [name.strip() for name in next(reader, [])]
    if not header:
        raise ImportFileError("the file is empty: no header row")
    indexes: dict[str, int] = {}
    missing: list[str] = []
    for name, column in layout.columns.items():
        if isinstance(column, int):
            indexes[name] = column
        elif column in header:
            indexes[name] = header.index(column)
        else:
            missing.append(column)
    if missing:
        raise ImportFileError(f"not a {layout.name} file: no column {', '.join(map(repr, missing))}")
    return indexes, len(header)


class _CallBuilder:
    """Calls from rows, with each CAD code and address resolved once per run rather than once per row."""

    def __init__(self, *, agency_id: int, shift: timedelta) -> None:
        self.agency_id = agency_id
        self.shift = shift
        self.cad_types: dict[str, CadType] = {}
        self.premises: dict[str, PremiseSpot] = premise_spots_by_key(agency_id=agency_id)
        home = agency_municipality(agency_id=agency_id)
        self.address_key = lru_cache(maxsize=ADDRESS_CACHE)(
            lambda address, municipality: place_key(address=address, municipality=municipality,
                                                    agency_municipality=home))

    def cad_type(self, code: str) -> CadType:
        found = self.cad_types.get(code)
        if found is None:
            found = self.cad_types[code] = cad_type_resolve(agency_id=self.agency_id, code=code)
        return found

    def call(self, row: CallRow) -> Call:
        cad_type = self.cad_type(row.cad_code)
        key = self.address_key(row.address, row.municipality)
        place = place_locate(key=key, latitude=row.latitude, longitude=row.longitude,
                             premise=self.premises.get(key) if key else None)
        return Call(
            agency_id=self.agency_id, event_number=row.event_number, source=Call.Source.IMPORT,
            status=Call.Status.CLOSED, cad_code=row.cad_code, cad_description=row.cad_code[:_DESCRIPTION_LENGTH],
            category=cad_type.category, cad_code_unmapped=cad_type.unmapped, priority=cad_type.priority,
            address=row.address, municipality=row.municipality[:100], address_key=place.address_key,
            latitude=place.latitude,
            longitude=place.longitude, cell=place.cell, located_by=place.located_by, premise_id=place.premise_id,
            narrative=row.narrative, received_at=row.received_at + self.shift,
            on_scene_at=row.on_scene_at + self.shift if row.on_scene_at else None,
            cleared_at=row.cleared_at + self.shift if row.cleared_at else None)


def _store(calls: list[Call], *, agency_id: int, report: ImportReport) -> None:
    fresh: dict[str, Call] = {}
    repeats = 0
    with transaction.atomic():
        numbers = {call.event_number for call in calls}
        present = set(Call.objects.filter(agency_id=agency_id, event_number__in=numbers)
                      .values_list("event_number", flat=True))
        for call in calls:
            if call.event_number in present or call.event_number in fresh:
                repeats += 1
            else:
                fresh[call.event_number] = call
        Call.objects.bulk_create(fresh.values())
    report.loaded += len(fresh)
    report.present += repeats


# --- CAD type mappings ---

@dataclass(frozen=True)
class CadTypesLoaded:
    created: int
    updated: int


def cad_types_load(*, path: Path, agency: Agency) -> CadTypesLoaded:
    """Create or update the agency's mappings from a JSON list; nothing is written unless every entry is valid."""
    entries = _cad_types_read(path)
    created = 0
    with transaction.atomic():
        for entry in entries:
            _, was_created = CadTypeMapping.objects.update_or_create(
                agency=agency, code=entry["code"],
                defaults={"description": entry["description"], "category": entry["category"],
                          "priority": entry["priority"]})
            created += was_created
    return CadTypesLoaded(created=created, updated=len(entries) - created)


def _cad_types_read(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise ImportFileError(f"cannot read {path}: {error}") from None
    if not isinstance(data, list):
        raise ImportFileError("expected a JSON list of {code, description, category, priority}")
    entries = [_cad_type_entry(position, entry) for position, entry in enumerate(data, start=1)]
    seen: set[str] = set()
    for position, entry in enumerate(entries, start=1):
        if entry["code"] in seen:
            raise ImportFileError(f"entry {position}: code {entry['code']!r} appears twice")
        seen.add(entry["code"])
    return entries


# Category.UNKNOWN is what an unmapped code gets; a mapping names what the code is.
_MAPPABLE = [value for value in Category.values if value != Category.UNKNOWN]


def _cad_type_entry(position: int, entry: Any) -> dict[str, Any]:
    where = f"entry {position}"
    if not isinstance(entry, dict):
        raise ImportFileError(f"{where}: expected an object")
    unknown = set(entry) - {"code", "description", "category", "priority"}
    if unknown:
        raise ImportFileError(f"{where}: unknown keys {sorted(unknown)}")
    code, description = entry.get("code"), entry.get("description", "")
    category, priority = entry.get("category"), entry.get("priority")
    if not isinstance(code, str) or not code.strip() or len(code.strip()) > _CAD_CODE_LENGTH:
        raise ImportFileError(f"{where}: code must be text of 1 to {_CAD_CODE_LENGTH} characters")
    where = f"entry {position} ({code.strip()})"
    if not isinstance(description, str) or len(description) > _DESCRIPTION_LENGTH:
        raise ImportFileError(f"{where}: description must be text of at most {_DESCRIPTION_LENGTH} characters")
    if category not in _MAPPABLE:
        raise ImportFileError(f"{where}: category {category!r} is not one of {', '.join(_MAPPABLE)}")
    if not isinstance(priority, int) or isinstance(priority, bool) or not 1 <= priority <= 5:
        raise ImportFileError(f"{where}: priority must be a whole number from 1 (most urgent) to 5")
    return {"code": code.strip(), "description": description.strip(), "category": category, "priority": priority}
