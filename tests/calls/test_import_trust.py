"""Imports a user can trust: files without ids, bad bytes and quotes, extra columns, all or nothing, dry runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.management import CommandError

from apps.calls.models import CadTypeMapping, Call, Category
from tests.base import World
from tests.calls.test_import import ORLANDO, run, summary, write

pytestmark = pytest.mark.django_db

ROWS = ("1/25/2022 20:27,Bank alarm,8200 BLOCK LEEVISTA BLVD\n"
        "1/25/2022 20:31,Battery - fight in progress,S KIRKMAN RD / MAJOR BLVD\n"
        "1/25/2022 20:40,Suspicious person,2500 BLOCK W COLONIAL DR\n")
HEADERLESS = {"header": False, "timezone": "America/New_York", "time_format": "%m/%d/%Y %H:%M",
              "columns": {"event_number": {"hash": "row"}, "received_at": 0, "cad_code": 1, "address": 2}}


def _mapping(tmp_path: Path, spec: dict) -> Path:
    return write(tmp_path / "mapping.json", json.dumps(spec))


def _import(tmp_path: Path, body: bytes | str, spec: dict, *extra: str) -> str:
    csv_path = tmp_path / "calls.csv"
    csv_path.write_bytes(body if isinstance(body, bytes) else body.encode())
    out, _ = run("import_calls", csv_path, "--format", "mapping", "--mapping", _mapping(tmp_path, spec), *extra)
    return out


def test_a_headerless_file_with_no_id_column_imports_fully(world: World, tmp_path: Path) -> None:
    out = _import(tmp_path, ROWS, HEADERLESS)
    assert summary(out) == "loaded 3, skipped as already present 0, duplicates in the file 0, rejected 0"
    assert "Event numbers: a stable hash of the whole row (H-<20 hex digits>): identical rows are one call" in out
    assert Call.objects.count() == 3
    again = _import(tmp_path, ROWS, HEADERLESS)
    assert summary(again) == "loaded 0, skipped as already present 3, duplicates in the file 0, rejected 0"


def test_a_repeated_row_in_a_file_without_ids_is_a_duplicate_not_already_present(world: World, tmp_path: Path) -> None:
    out = _import(tmp_path, ROWS + ROWS.splitlines(keepends=True)[0], HEADERLESS)
    assert summary(out) == "loaded 3, skipped as already present 0, duplicates in the file 1, rejected 0"


def test_event_numbers_built_from_columns_are_said_in_the_summary(world: World, tmp_path: Path) -> None:
    spec = {"timezone": "UTC", "columns": {"event_number": {"join": ["unit", "seq"], "prefix": "K-"},
                                           "received_at": "at"}}
    out = _import(tmp_path, "unit,seq,at\n2A12,1,2024-03-01T10:00\n2A12,2,2024-03-01T11:00\n2A12,1,2024-03-01T12:00\n",
                  spec)
    assert summary(out) == "loaded 2, skipped as already present 0, duplicates in the file 1, rejected 0"
    assert "Event numbers: built from columns unit + seq" in out
    assert sorted(Call.objects.values_list("event_number", flat=True)) == ["K-2A12-1", "K-2A12-2"]


def test_a_bad_byte_rejects_one_line_named_exactly_and_the_rest_load(world: World, tmp_path: Path) -> None:
    lines = ROWS.encode().splitlines(keepends=True)
    body = lines[0] + b"1/25/2022 20:29,Theft,CAF\xc9 BLVD\n" + lines[1] + lines[2]
    out = _import(tmp_path, body, HEADERLESS)
    assert summary(out) == "loaded 3, skipped as already present 0, duplicates in the file 0, rejected 1"
    assert ("  line 2: not utf-8: byte 0xc9 at position 26 (try --encoding cp1252 or latin-1)"
            in out.splitlines())


def test_the_same_file_reads_whole_with_its_encoding(world: World, tmp_path: Path) -> None:
    body = "1/25/2022 20:29,Theft,100 BLOCK CAFÉ BLVD\n".encode("cp1252")
    out = _import(tmp_path, body, HEADERLESS, "--encoding", "cp1252")
    assert summary(out).startswith("loaded 1,")
    assert Call.objects.get().address == "100 BLOCK CAFÉ BLVD"


def test_an_unknown_encoding_is_refused_naming_the_usual_ones(world: World, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="unknown encoding 'klingon'; try one of utf-8, utf-8-sig, cp1252, latin-1"):
        _import(tmp_path, ROWS, HEADERLESS, "--encoding", "klingon")


def test_an_unterminated_quote_is_contained_to_its_row(world: World, tmp_path: Path) -> None:
    spec = {"timezone": "UTC", "columns": {"event_number": "id", "received_at": "at", "narrative": "notes"}}
    body = ('id,at,notes\nA-1,2024-03-01T10:00,"fine\nA-2,2024-03-01T10:05,second\nA-3,2024-03-01T10:10,"a note\n'
            'on two lines"\nA-4,2024-03-01T10:15,fourth\n')
    out = _import(tmp_path, body, spec)
    assert summary(out) == "loaded 3, skipped as already present 0, duplicates in the file 0, rejected 1"
    assert "  line 2: unterminated quote: the row was read up to the next whole row" in out.splitlines()
    assert sorted(Call.objects.values_list("event_number", flat=True)) == ["A-2", "A-3", "A-4"]
    assert Call.objects.get(event_number="A-3").narrative == "a note\non two lines"


def test_a_row_with_malformed_quoting_is_rejected_by_its_line(world: World, tmp_path: Path) -> None:
    spec = {"timezone": "UTC", "columns": {"event_number": "id", "received_at": "at", "narrative": "notes"}}
    out = _import(tmp_path, 'id,at,notes\nA-1,2024-03-01T10:00,"quoted"tail\nA-2,2024-03-01T10:05,ok\n', spec)
    assert summary(out).endswith("rejected 1") and "  line 2: malformed quoting" in out


def test_unknown_extra_columns_are_reported_or_ignored_when_the_mapping_says_so(world: World, tmp_path: Path) -> None:
    body = "id,at,beat,officer\nA-1,2024-03-01T10:00,B2,Smith\n"
    spec = {"timezone": "UTC", "columns": {"event_number": "id", "received_at": "at"}}
    out = _import(tmp_path, body, spec)
    assert "Columns not imported (2): beat, officer (list them under ignore: in the mapping to say so)" in out
    Call.objects.all().delete()
    quiet = _import(tmp_path, body, {**spec, "ignore": ["beat", "officer"]})
    assert "Columns not imported" not in quiet and summary(quiet).startswith("loaded 1,")


def test_the_summary_counts_the_unmapped_cad_codes(world: World, tmp_path: Path) -> None:
    CadTypeMapping.objects.create(agency=world.agency, code="Bank alarm", category=Category.ALARM, priority=3)
    out = _import(tmp_path, ROWS + "1/25/2022 21:00,Suspicious person,1 MAIN ST\n", HEADERLESS)
    lines = out.splitlines()
    at = lines.index("Unmapped CAD codes (2, 3 calls, categorised unknown; load_cad_types maps them):")
    assert lines[at + 1:at + 3] == ["       2  Suspicious person", "       1  Battery - fight in progress"]


def test_a_fatal_error_keeps_nothing_unless_partial(world: World, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from apps.calls import importing

    monkeypatch.setattr(importing, "BATCH_SIZE", 500)
    real = importing._CallBuilder.call
    seen = {"n": 0}

    def failing_disk(self: importing._CallBuilder, row: importing.CallRow) -> Call:
        seen["n"] += 1
        if seen["n"] == 1200:  # the file stops being readable, as a pulled USB disk does
            raise importing.ImportFileError("cannot read on: input/output error")
        return real(self, row)

    monkeypatch.setattr(importing._CallBuilder, "call", failing_disk)
    with pytest.raises(CommandError, match="Nothing was written"):
        run("import_calls", ORLANDO, "--format", "orlando")
    assert not Call.objects.exists()
    seen["n"] = 0
    with pytest.raises(CommandError, match="were kept"):
        run("import_calls", ORLANDO, "--format", "orlando", "--partial")
    assert Call.objects.count() == 1000


def test_a_dry_run_prints_the_first_rows_as_stored_and_writes_nothing(world: World, tmp_path: Path) -> None:
    out = _import(tmp_path, ROWS, HEADERLESS, "--dry-run")
    lines = out.splitlines()
    assert lines[0] == ("dry run, nothing written: would have loaded 3, skipped as already present 0, "
                        "duplicates in the file 0, rejected 0")
    assert "Row 1 as it would be stored:" in lines
    assert "  address_key: 8200 BLOCK LEEVISTA BLVD" in lines
    assert "  received_at: 2022-01-26 01:27:00+00:00" in lines
    assert not Call.objects.exists()


def test_the_help_names_the_encodings_and_links_the_mapping_docs(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        run("import_calls", "--help")
    text = " ".join(capsys.readouterr().out.split())
    assert "docs/importing.md" in text
    for name in ("utf-8", "utf-8-sig", "cp1252", "latin-1", "--partial", "--dry-run"):
        assert name in text
