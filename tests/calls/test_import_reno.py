"""A real county CAD export of another layout, imported with the mapping the docs give for it.

Reno's 2011 extract has no header and keeps the date and the time in two columns: the mapping and the CAD
types below are read out of docs/importing.md itself (example 5 and "After the import"), so the page a
new user follows is the one this test runs.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core.management import CommandError

from apps.accounts.models import Agency
from apps.calls.models import Call, Category
from tests.base import World
from tests.calls.test_import import run, summary, write

ROOT = Path(__file__).resolve().parents[2]
RENO = ROOT / "fixtures" / "data" / "calls" / "reno_cad_2011-10-05_to_06.csv"
DOCS = (ROOT / "docs" / "importing.md").read_text()
RENO_ORI = "NV0160200"


def _block(after: str, language: str) -> str:
    """The first ```language block after the heading `after` in docs/importing.md."""
    found = re.search(re.escape(after) + r".*?```" + language + r"\n(.*?)```", DOCS, re.DOTALL)
    assert found, f"no {language} block after {after!r} in docs/importing.md"
    return found.group(1)


@pytest.fixture
def reno(world: World) -> Agency:
    return Agency.objects.create(name="Reno Police Department", ori=RENO_ORI, time_zone="America/Los_Angeles")


def _import(tmp_path: Path, *extra: str) -> str:
    mapping = write(tmp_path / "reno.yaml", _block("### 5.", "yaml"))
    out, _ = run("import_calls", RENO, "--format", "mapping", "--mapping", mapping, "--agency", RENO_ORI, *extra)
    return out


def test_the_headerless_reno_file_imports_whole_with_the_documented_mapping(reno: Agency, tmp_path: Path) -> None:
    out = _import(tmp_path)

    assert summary(out) == "loaded 95, skipped as already present 0, duplicates in the file 0, rejected 0"
    assert Call.objects.filter(agency=reno).count() == 95
    assert "Unmapped CAD codes (22, 95 calls" in out


def test_its_date_and_time_columns_are_one_pacific_time(reno: Agency, tmp_path: Path) -> None:
    _import(tmp_path)

    first = Call.objects.get(agency=reno, event_number="112781463")  # 10062011, 003837
    assert first.received_at == datetime(2011, 10, 6, 7, 38, 37, tzinfo=UTC)  # 00:38:37 PDT
    assert (first.cad_code, first.address, first.municipality) == ("ACCP", "5295 SUN VALLEY BL", "SUN VALLEY")


def test_the_city_column_scopes_the_places(reno: Agency, tmp_path: Path) -> None:
    _import(tmp_path)

    keys = dict(Call.objects.filter(agency=reno).values_list("event_number", "address_key"))
    assert keys["112790114"] == "SPARKS: 1700 MARIETTA WAY"  # WY, WAY: one spelling
    assert keys["112781111"] == "RENO: E 8TH ST / N CENTER ST"  # "N CENTER ST/E 8TH ST": either order is one corner


def test_a_second_run_adds_nothing(reno: Agency, tmp_path: Path) -> None:
    _import(tmp_path)

    again = _import(tmp_path)

    assert summary(again) == "loaded 0, skipped as already present 95, duplicates in the file 0, rejected 0"


def test_the_documented_cad_types_then_recategorise_the_imported_calls(reno: Agency, tmp_path: Path) -> None:
    _import(tmp_path)
    types = write(tmp_path / "reno_cad_types.json", _block("## After the import: CAD codes", "json"))

    run("load_cad_types", types, "--agency", RENO_ORI)
    run("recategorise_calls", "--agency", RENO_ORI)

    by_code = dict(Call.objects.filter(agency=reno).values_list("cad_code", "category"))
    assert by_code["SHOTS"] == Category.WEAPONS
    assert by_code["ALARMF"] == Category.FIRE  # its own code beats the ALARM* family
    assert by_code["FIGHT"] == Category.UNKNOWN  # nothing maps it yet: still said so


def test_a_received_at_join_that_lists_no_columns_is_refused(reno: Agency, tmp_path: Path) -> None:
    mapping = write(tmp_path / "bad.yaml", _block("### 5.", "yaml").replace("{join: [2, 3]}", "{join: []}"))

    with pytest.raises(CommandError, match=r"received_at is a column, or \{join: \[date column, time column\]\}"):
        run("import_calls", RENO, "--format", "mapping", "--mapping", mapping, "--agency", RENO_ORI)
    assert not Call.objects.filter(agency=reno).exists()
