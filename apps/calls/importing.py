"""Loading call history from CSV exports, and CAD type mappings from JSON.

Three layouts: Seattle's "911 Incident Response" open data, Orlando's scraped
active calls, and any other CSV described by a mapping file (YAML or JSON; the
format is docs/importing.md). The file is streamed line by line in the encoding
given: a line that does not decode, a row with a quote problem or the wrong
number of fields is rejected with its exact line and the rest load. Good rows are
written in batches, all in one transaction unless the run is partial. Calls
already present (same agency and event number) are skipped, so running an import
twice adds nothing the second time; a repeat inside the file is a duplicate.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
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
# Unmapped CAD codes the summary names, most frequent first.
UNMAPPED_SHOWN = 20
# A quoted field may span lines (a narrative); a record still open after this many lines is an unterminated quote.
MAX_RECORD_LINES = 50
# Rows --dry-run prints as they would be stored.
DRY_RUN_ROWS = 5
ENCODINGS_NAMED = ("utf-8", "utf-8-sig", "cp1252", "latin-1")
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


class _RolledBack(Exception):
    """Raised inside the run's transaction to undo a dry run."""


@dataclass
class ImportReport:
    loaded: int = 0
    # Already in the database before this run.
    present: int = 0
    # A repeat of an event number earlier in the same file.
    duplicates: int = 0
    rejected: int = 0
    # The first REJECTS_KEPT rejects, as "line 17: bad date '...'".
    rejects: list[str] = field(default_factory=list)
    # How the event numbers were made, for the summary.
    event_numbers: str = ""
    # Header columns the layout neither reads nor ignores.
    unknown_columns: list[str] = field(default_factory=list)
    unmapped_codes: Counter[str] = field(default_factory=Counter)
    dry_run: bool = False
    # With --dry-run, the first rows as they would be stored.
    sample: list[dict[str, Any]] = field(default_factory=list)

    def reject(self, line: int, reason: str) -> None:
        self.rejected += 1
        if len(self.rejects) < REJECTS_KEPT:
            self.rejects.append(f"line {line}: {reason}")

    def summary(self) -> str:
        return (f"loaded {self.loaded}, skipped as already present {self.present}, duplicates in the file "
                f"{self.duplicates}, rejected {self.rejected}")

    def lines(self) -> list[str]:
        """Everything a user reads after a run, the summary first."""
        out = [("dry run, nothing written: would have " if self.dry_run else "") + self.summary()]
        if self.rejects:
            shown = "first " if self.rejected > len(self.rejects) else ""
            out.append(f"Rejected rows ({shown}{len(self.rejects)} of {self.rejected}):")
            out += [f"  {reject}" for reject in self.rejects]
        if self.event_numbers:
            out.append(f"Event numbers: {self.event_numbers}")
        if self.unknown_columns:
            out.append(f"Columns not imported ({len(self.unknown_columns)}): {', '.join(self.unknown_columns)} "
                       f"(list them under ignore: in the mapping to say so)")
        if self.unmapped_codes:
            codes = self.unmapped_codes.most_common(UNMAPPED_SHOWN)
            out.append(f"Unmapped CAD codes ({len(self.unmapped_codes)}, {sum(self.unmapped_codes.values())} "
                       f"calls, categorised unknown; load_cad_types maps them):")
            out += [f"  {n:>6}  {code or '(empty)'}" for code, n in codes]
        for n, row in enumerate(self.sample, start=1):
            out.append(f"Row {n} as it would be stored:")
            out += [f"  {name}: {value}" for name, value in row.items()]
        return out


class Fields:
    """One CSV record, read by our field names through the layout's column indexes."""

    def __init__(self, values: Sequence[str], columns: dict[str, int], width: int) -> None:
        self.values = values
        self.columns = columns
        # Fields a whole record has: the header's, or up to the last mapped index.
        self.width = width

    def all(self) -> list[str]:
        return [value.strip() for value in self.values]

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
    # Header columns read by no field and known to be of no use: not reported.
    ignore: frozenset[str] = frozenset()
    # How event numbers are made, said in the summary ("" when a column holds them).
    event_numbers: str = ""


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


SEATTLE = Layout(name="seattle", parse=_seattle, ignore=frozenset({
    "CAD CDW ID", "General Offense Number", "Event Clearance Code", "Event Clearance SubGroup",
    "Event Clearance Group", "District/Sector", "Zone/Beat", "Census Tract", "Incident Location",
    "Initial Type Subgroup", "Initial Type Group"}), columns={
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
ORLANDO = Layout(name="orlando", parse=_orlando, event_numbers="ORL- and a hash of the row (the scrape has none)",
                 columns={
    "index": 0, "received_at": "Date", "cad_code": "Description", "address": "Location"})


# --- any CSV, described by a mapping file ---

MAPPED_FIELDS = ("event_number", "received_at", "cad_code", "address", "municipality", "latitude", "longitude",
                 "narrative")
MAPPING_KEYS = {"header", "delimiter", "timezone", "columns", "time_format", "ignore"}
DOCS = "docs/importing.md"
# Event numbers travel in URLs (apps.calls.services.EVENT_NUMBER_RE): a built one keeps these characters only.
_NOT_IN_EVENT_NUMBER = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class EventNumberRule:
    """How a mapping makes event numbers: a column, columns joined, or a stable hash of columns or the row."""

    kind: str  # "column", "join" or "hash"
    parts: int = 0  # how many columns join or hash ("event_number#0"...); 0 with "hash" is the whole row
    prefix: str = ""

    def build(self, fields: Fields) -> str:
        if self.kind == "column":
            return fields["event_number"]
        values = [fields[f"event_number#{n}"] for n in range(self.parts)] if self.parts else fields.all()
        if self.kind == "join":
            if not any(values):
                return ""
            return self.prefix + _NOT_IN_EVENT_NUMBER.sub("-", "-".join(values)).strip("-")
        # Stable across runs and machines: the same row always gets the same number, so a re-run skips it.
        digest = hashlib.sha256("\x1f".join(values).encode()).hexdigest()
        return f"{self.prefix}{digest[:20]}"


def _mapped(fmt: str | None, zone: tzinfo, event: EventNumberRule, time_parts: int) -> Callable[[Fields], CallRow]:
    def parse(fields: Fields) -> CallRow:
        latitude, longitude = _position(fields["latitude"], fields["longitude"])
        # A date column and a time column (10062011, 003837) are read as one text, joined by a space.
        when = (" ".join(fields[f"received_at#{n}"] for n in range(time_parts)) if time_parts
                else fields["received_at"])
        return _checked(CallRow(
            event_number=event.build(fields),
            received_at=_required_time(when, fmt, zone, "date"),
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
    ignore = spec.get("ignore", [])
    if not isinstance(ignore, list) or not all(isinstance(c, str | int) for c in ignore):
        raise ImportFileError("mapping: ignore must be a list of column names (or indexes) not to import")
    raw_columns = spec.get("columns")
    event, described, extra = _event_number_rule(raw_columns, header=header)
    if event.kind != "column" and isinstance(raw_columns, dict):
        raw_columns = {name: column for name, column in raw_columns.items() if name != "event_number"}
    time_parts, time_columns = _received_at_join(raw_columns, header=header)
    if time_parts and isinstance(raw_columns, dict):
        raw_columns = {**raw_columns, "received_at": time_columns["received_at#0"]}  # checked as required below
    columns = _mapping_columns(raw_columns, header=header, event_built=event.kind != "column")
    columns.update(extra)
    if time_parts:
        del columns["received_at"]
        columns.update(time_columns)
    return Layout(name=f"mapping {path.name}", columns=columns,
                  parse=_mapped(fmt, _mapping_zone(spec.get("timezone")), event, time_parts),
                  header=header, delimiter=delimiter, ignore=frozenset(str(c) for c in ignore),
                  event_numbers=described)


def _event_number_rule(columns: Any, *, header: bool) -> tuple[EventNumberRule, str, dict[str, str | int]]:
    """The event-number rule of `columns.event_number`, what the summary says of it, and the columns it reads.

    A column name or index; {join: [columns], prefix: "X-"}; or {hash: [columns] or "row", prefix: "H-"}.
    """
    if not isinstance(columns, dict):
        return EventNumberRule("column"), "", {}
    spec = columns.get("event_number")
    if not isinstance(spec, dict):
        return EventNumberRule("column"), "", {}
    kinds = [k for k in ("join", "hash") if k in spec]
    if len(kinds) != 1 or set(spec) - {"join", "hash", "prefix"}:
        raise ImportFileError(f"mapping: columns.event_number is a column, or {{join: [columns]}} or "
                              f"{{hash: [columns] or row}}, with an optional prefix; see {DOCS}")
    kind = kinds[0]
    prefix = spec.get("prefix", "H-" if kind == "hash" else "")
    if not isinstance(prefix, str) or len(prefix) > 10 or _NOT_IN_EVENT_NUMBER.search(prefix):
        raise ImportFileError("mapping: columns.event_number.prefix is up to 10 letters, digits, '-', '_' or '.'")
    parts = spec[kind]
    if kind == "hash" and parts == "row":
        return (EventNumberRule("hash", 0, prefix),
                f"a stable hash of the whole row ({prefix}<20 hex digits>): identical rows are one call", {})
    if not isinstance(parts, list) or not parts:
        raise ImportFileError(f"mapping: columns.event_number.{kind} must list the columns it uses"
                              + (' (or be "row")' if kind == "hash" else ""))
    extra = {f"event_number#{n}": _mapping_column("event_number", c, header=header) for n, c in enumerate(parts)}
    names = " + ".join(map(str, parts))
    said = (f"built from columns {names}" if kind == "join"
            else f"a stable hash of columns {names} ({prefix}<20 hex digits>)")
    return EventNumberRule(kind, len(parts), prefix), said, extra


def _received_at_join(columns: Any, *, header: bool) -> tuple[int, dict[str, str | int]]:
    """`received_at: {join: [date column, time column]}`: how many columns, and which; (0, {}) for one column."""
    spec = columns.get("received_at") if isinstance(columns, dict) else None
    if not isinstance(spec, dict):
        return 0, {}
    parts = spec.get("join")
    if set(spec) != {"join"} or not isinstance(parts, list) or not parts:
        raise ImportFileError(f"mapping: columns.received_at is a column, or {{join: [date column, time column]}} "
                              f"read as one text joined by a space; see {DOCS}")
    return len(parts), {f"received_at#{n}": _mapping_column("received_at", c, header=header)
                        for n, c in enumerate(parts)}


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


def _mapping_columns(columns: Any, *, header: bool, event_built: bool = False) -> dict[str, str | int]:
    if not isinstance(columns, dict):
        raise ImportFileError("mapping: columns must map our field names to CSV columns")
    unknown = set(columns) - set(MAPPED_FIELDS)
    if unknown:
        raise ImportFileError(f"mapping: unknown columns {sorted(unknown)}; allowed: {list(MAPPED_FIELDS)}")
    for required in ("received_at",) if event_built else ("event_number", "received_at"):
        if columns.get(required) in (None, ""):
            hint = (" (a file without ids: event_number: {hash: row}, or {join: [columns]})"
                    if required == "event_number" else "")
            raise ImportFileError(f"mapping: columns.{required} is required{hint}; see {DOCS}")
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

def encoding_check(name: str) -> str:
    """The codec's name if Python knows it; ImportFileError names the usual ones otherwise."""
    try:
        codecs.lookup(name)
    except LookupError:
        raise ImportFileError(f"unknown encoding {name!r}; try one of {', '.join(ENCODINGS_NAMED)}") from None
    return name


def calls_import(*, path: Path, layout: Layout, agency: Agency, shift: timedelta = timedelta(0),
                 progress: Callable[[int], object] = lambda lines: None, encoding: str = "utf-8",
                 partial: bool = False, dry_run: bool = False) -> ImportReport:
    """Load the calls in a CSV file into `agency`; `progress` is told how many lines each step read.

    All or nothing: a fatal error (the file cannot be read on, the database fails) leaves nothing
    of the run, unless `partial`, where each batch of BATCH_SIZE commits as it goes. A dry run
    does everything, then rolls back. `shift` moves every time forward: demos and drills replay an
    old file as recent history.
    """
    encoding_check(encoding)
    report = ImportReport(event_numbers=layout.event_numbers, dry_run=dry_run)
    try:
        if partial and not dry_run:
            _import(path=path, layout=layout, agency=agency, shift=shift, progress=progress, encoding=encoding,
                    report=report)
        else:
            with transaction.atomic():
                _import(path=path, layout=layout, agency=agency, shift=shift, progress=progress,
                        encoding=encoding, report=report)
                if dry_run:
                    raise _RolledBack
    except _RolledBack:
        pass
    return report


def _import(*, path: Path, layout: Layout, agency: Agency, shift: timedelta, progress: Callable[[int], object],
            encoding: str, report: ImportReport) -> None:
    builder = _CallBuilder(agency_id=agency.pk, shift=shift)
    seen: set[str] = set()
    batch: list[Call] = []
    for line, fields in _records(path, layout, progress, encoding=encoding, report=report):
        try:
            row = layout.parse(fields)
        except RowRejected as reason:
            report.reject(line, str(reason))
            continue
        if row.event_number in seen:
            report.duplicates += 1
            continue
        seen.add(row.event_number)
        call = builder.call(row)
        if call.cad_code_unmapped:
            report.unmapped_codes[call.cad_code] += 1
        if report.dry_run and len(report.sample) < DRY_RUN_ROWS:
            report.sample.append(_as_stored(call))
        batch.append(call)
        if len(batch) >= BATCH_SIZE:
            _store(batch, agency_id=agency.pk, report=report)
            batch = []
    if batch:
        _store(batch, agency_id=agency.pk, report=report)


_SHOWN_FIELDS = ("event_number", "received_at", "cad_code", "category", "priority", "address", "municipality",
                 "address_key", "latitude", "longitude", "located_by", "premise_id", "narrative")


def _as_stored(call: Call) -> dict[str, Any]:
    return {name: getattr(call, name) for name in _SHOWN_FIELDS}


def _lines(f: Iterable[bytes], encoding: str, report: ImportReport) -> Iterator[tuple[int, str]]:
    """(line number, text) of every line that decodes; one that does not is rejected by its number."""
    for number, raw in enumerate(f, start=1):
        if number == 1 and raw.startswith(codecs.BOM_UTF8) and encoding.replace("_", "-").lower() == "utf-8":
            raw = raw[len(codecs.BOM_UTF8):]  # a byte-order mark is unambiguous: never part of the header
        try:
            yield number, raw.decode(encoding)
        except UnicodeDecodeError as error:
            report.reject(number, f"not {encoding}: byte 0x{raw[error.start]:02x} at position {error.start + 1} "
                                  f"(try --encoding cp1252 or latin-1)")


def _split(text: str, delimiter: str) -> list[str] | None:
    """The fields of one record's text, or None when its quoting is malformed."""
    try:
        return next(csv.reader([text], delimiter=delimiter, strict=True), [])
    except csv.Error:
        return None


def _logical(lines: Iterable[tuple[int, str]], layout: Layout, width: list[int],
             report: ImportReport) -> Iterator[tuple[int, str, int]]:
    """(first line, text, lines spanned) of each record, a quoted field being allowed to span lines.

    A record left open by an unterminated quote is rejected at its first line, and ends where the
    next line is a whole record on its own (balanced quotes, the file's number of fields): the
    quote problem stays in its row.
    """
    start, pending = 0, list[str]()
    for number, text in lines:
        if pending:
            fresh = text.count('"') % 2 == 0 and width[0] and (found := _split(text, layout.delimiter)) is not None \
                and len(found) == width[0]
            if fresh or len(pending) >= MAX_RECORD_LINES:
                report.reject(start, "unterminated quote: the row was read up to the next whole row")
                pending = []
            else:
                pending.append(text)
                joined = "".join(pending)
                if joined.count('"') % 2 == 0:
                    yield start, joined, len(pending)
                    pending = []
                continue
        if text.count('"') % 2 == 0:
            yield number, text, 1
        else:
            start, pending = number, [text]
    if pending:
        report.reject(start, "unterminated quote at the end of the file")


def _records(path: Path, layout: Layout, progress: Callable[[int], object], *, encoding: str,
             report: ImportReport) -> Iterator[tuple[int, Fields]]:
    """(line number where the record starts, its fields) for every non-blank record after the header."""
    try:
        f = path.open("rb")
    except OSError as error:
        raise ImportFileError(f"cannot open {path}: {error}") from None
    width = [0]
    with f:
        columns: dict[str, int] | None = None
        for line, text, spanned in _logical(_lines(f, encoding, report), layout, width, report):
            progress(spanned)
            values = _split(text, layout.delimiter)
            if values is None:
                report.reject(line, "malformed quoting (a quote inside an unquoted field, or text after a "
                                    "closing quote)")
                continue
            if not any(v.strip() for v in values):
                continue
            if columns is None:
                columns, width[0] = _column_indexes(values, layout, report)
                if layout.header:
                    continue
            if layout.header and len(values) != width[0]:
                report.reject(line, f"{len(values)} fields, expected {width[0]}")
                continue
            yield line, Fields(values, columns, width[0] if layout.header else max(columns.values()) + 1)
    if columns is None and layout.header:
        raise ImportFileError("the file is empty: no header row")


def _column_indexes(first: list[str], layout: Layout, report: ImportReport) -> tuple[dict[str, int], int]:
    """Each field's column index, and how many fields a record has; unknown header columns go in the report."""
    if not layout.header:
        by_index = {name: int(column) for name, column in layout.columns.items()}
        return by_index, len(first)
    header = [name.strip() for name in first]
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
    read = set(indexes.values())
    report.unknown_columns = [name or f"(unnamed column {n})" for n, name in enumerate(header)
                              if n not in read and name not in layout.ignore and str(n) not in layout.ignore]
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
    """Write a batch (event numbers already unique within the file), skipping those the database has."""
    with transaction.atomic():
        numbers = {call.event_number for call in calls}
        present = set(Call.objects.filter(agency_id=agency_id, event_number__in=numbers)
                      .values_list("event_number", flat=True))
        fresh = [call for call in calls if call.event_number not in present]
        Call.objects.bulk_create(fresh)
    report.loaded += len(fresh)
    report.present += len(calls) - len(fresh)


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
