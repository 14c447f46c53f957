from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from apps.calls.importing import orlando_event_number
from apps.calls.models import CadTypeMapping, Call, Category
from apps.places.geo import geohash_encode
from apps.places.normalize import address_key
from tests.base import World

pytestmark = pytest.mark.django_db

DATA = Path(__file__).resolve().parents[2] / "fixtures" / "data"
SEATTLE_0325 = DATA / "calls" / "seattle_spd_911_incident_response_2016-03-25.csv"
SEATTLE_0301 = DATA / "calls" / "seattle_spd_911_incident_response_2016-03-01_to_03.csv"
ORLANDO = DATA / "calls" / "orlando_pd_active_calls_2022-01_to_03.csv"
OTHER_ORI = "WA0180000"


def run(*args: object) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*map(str, args), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def summary(output: str) -> str:
    return output.splitlines()[0]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# None of the three published extracts has a row to reject: every Seattle row has an event number, a clearance
# date in the expected format and a position in range, and every Orlando row a M/D/YYYY H:MM date (its
# "Restricted Address" and "NOT AVAILABLE" rows load, unlocated). Rejection is tested on the small files below.
@pytest.mark.parametrize(("path", "layout", "loaded"), [
    (SEATTLE_0325, "seattle", 706),
    (SEATTLE_0301, "seattle", 673),
    (ORLANDO, "orlando", 2889),
])
def test_the_real_files_load_in_full(world: World, path: Path, layout: str, loaded: int) -> None:
    out, err = run("import_calls", path, "--format", layout)
    assert summary(out) == f"loaded {loaded}, skipped as already present 0, duplicates in the file 0, rejected 0"
    calls = Call.objects.filter(agency=world.agency)
    assert calls.count() == loaded
    assert set(calls.values_list("source", "status").distinct()) == {(Call.Source.IMPORT, Call.Status.CLOSED)}
    assert "100%" in err  # the progress bar, on stderr


def test_a_second_run_adds_nothing(world: World) -> None:
    run("import_calls", SEATTLE_0325, "--format", "seattle")
    before = list(Call.objects.order_by("pk").values_list("pk", "event_number", "updated_at"))
    out, _ = run("import_calls", SEATTLE_0325, "--format", "seattle")
    assert summary(out) == "loaded 0, skipped as already present 706, duplicates in the file 0, rejected 0"
    assert list(Call.objects.order_by("pk").values_list("pk", "event_number", "updated_at")) == before


def test_both_seattle_files_go_into_one_agency(world: World) -> None:
    run("import_calls", SEATTLE_0325, "--format", "seattle")
    out, _ = run("import_calls", SEATTLE_0301, "--format", "seattle")
    assert summary(out) == "loaded 673, skipped as already present 0, duplicates in the file 0, rejected 0"
    assert Call.objects.filter(agency=world.agency).count() == 706 + 673


def test_seattle_times_are_pacific_and_the_call_starts_at_the_earliest(world: World) -> None:
    run("import_calls", SEATTLE_0325, "--format", "seattle")
    # Cleared 03/25/2016 11:57:22 PM, on scene 09:54:23 PM, Pacific daylight time (UTC-7).
    shoplift = Call.objects.get(event_number="16000103970")
    assert shoplift.cleared_at == datetime(2016, 3, 26, 6, 57, 22, tzinfo=UTC)
    assert shoplift.on_scene_at == shoplift.received_at == datetime(2016, 3, 26, 4, 54, 23, tzinfo=UTC)
    assert (shoplift.cad_code, shoplift.address, shoplift.address_key) == (
        "SHOPLIFT - THEFT", "92XX BLOCK OF RAINIER AV S", "9200 BLOCK RAINIER AVE S")
    assert (shoplift.latitude, shoplift.longitude, shoplift.located_by) == (47.51985, -122.26803, "cad")
    assert shoplift.cell == geohash_encode(47.51985, -122.26803)
    assert shoplift.narrative == ""
    # 435 rows have no at-scene time: the clearance time is all there is.
    without = Call.objects.filter(on_scene_at=None)
    assert without.count() == 435
    assert all(call.received_at == call.cleared_at for call in without)


def test_seattle_calls_land_on_the_premise_at_their_block(world: World) -> None:
    world.premise.address_key = address_key(world.premise.address)  # 92XX BLOCK OF RAINIER AV S
    world.premise.save()
    run("import_calls", SEATTLE_0325, "--format", "seattle")
    assert world.premise.calls.count() == 4  # rows of the file at that hundred block
    assert set(world.premise.calls.values_list("located_by", flat=True)) == {"cad"}


def test_orlando_withheld_addresses_load_without_address_or_place(world: World) -> None:
    run("import_calls", ORLANDO, "--format", "orlando", "--agency", OTHER_ORI)
    withheld = Call.objects.filter(agency=world.other_agency, address="")
    # 169 "Restricted Address" and 21 "NOT AVAILABLE"
    assert withheld.count() == 190
    assert set(withheld.values_list("address_key", "cell", "located_by", "latitude", "premise")) == {
        ("", "", "", None, None)}
    assert not Call.objects.filter(address__in=["Restricted Address", "NOT AVAILABLE"]).exists()


def test_orlando_event_numbers_are_derived_and_times_are_eastern(world: World) -> None:
    run("import_calls", ORLANDO, "--format", "orlando")
    numbers = list(Call.objects.values_list("event_number", flat=True))
    assert len(set(numbers)) == 2889
    assert all(re.fullmatch(r"ORL-[0-9a-f]{16}", number) for number in numbers)
    # First row: 0,1/25/2022 20:27,Bank alarm,8200 BLOCK LEEVISTA BLVD (EST, UTC-5)
    first = Call.objects.get(event_number=orlando_event_number(
        index="0", date="1/25/2022 20:27", description="Bank alarm", location="8200 BLOCK LEEVISTA BLVD"))
    assert first.received_at == datetime(2022, 1, 26, 1, 27, tzinfo=UTC)
    assert (first.cad_code, first.address_key, first.located_by) == ("Bank alarm", "8200 BLOCK LEEVISTA BLVD", "")


def test_an_orlando_call_at_a_known_premise_takes_its_position(world: World) -> None:
    premise = world.premise
    premise.address, premise.address_key = "82XX BLOCK OF LEEVISTA BLVD", address_key("82XX BLOCK OF LEEVISTA BLVD")
    premise.latitude, premise.longitude = 28.4456, -81.4740
    premise.save()
    run("import_calls", ORLANDO, "--format", "orlando")
    located = Call.objects.filter(premise=premise)
    assert located.exists()
    assert set(located.values_list("located_by", "latitude", "longitude", "cell")) == {
        ("premise", 28.4456, -81.4740, geohash_encode(28.4456, -81.4740))}


def test_with_the_agencys_cad_types_every_call_is_categorised(world: World) -> None:
    out, _ = run("load_cad_types", DATA / "cad_types" / "seattle.json", "--agency", "WA0170000")
    assert out.splitlines()[0] == "CAD types for WA0170000: created 102, updated 0"
    run("load_cad_types", DATA / "cad_types" / "orlando.json", "--agency", OTHER_ORI)
    run("import_calls", SEATTLE_0325, "--format", "seattle")
    run("import_calls", SEATTLE_0301, "--format", "seattle")
    run("import_calls", ORLANDO, "--format", "orlando", "--agency", OTHER_ORI)
    assert not Call.objects.filter(cad_code_unmapped=True).exists()
    assert not Call.objects.filter(category=Category.UNKNOWN).exists()
    crisis = Call.objects.filter(cad_code="CRISIS - PERSON IN BEHAVIORAL/EMOTIONAL CRISIS")
    assert crisis.count() == 30 and {c.category for c in crisis} == {Category.MENTAL_HEALTH}
    overdoses = Call.objects.filter(cad_code="OVERDOSE - DRUG RELATED CASUALTY")
    assert overdoses.count() == 4 and set(overdoses.values_list("category", "priority")) == {(Category.OVERDOSE, 1)}
    assert set(Call.objects.filter(cad_code="Attempted suicide").values_list("category", flat=True)) == {
        Category.MENTAL_HEALTH}


def test_without_cad_types_calls_are_kept_as_unknown_and_flagged(world: World) -> None:
    run("import_calls", ORLANDO, "--format", "orlando")
    assert set(Call.objects.values_list("category", "priority", "cad_code_unmapped").distinct()) == {
        (Category.UNKNOWN, 3, True)}


def test_loading_cad_types_again_updates_them(world: World) -> None:
    path = DATA / "cad_types" / "orlando.json"
    run("load_cad_types", path, "--agency", "WA0170000")
    out, _ = run("load_cad_types", path, "--agency", "WA0170000")
    assert out.splitlines()[0] == "CAD types for WA0170000: created 0, updated 91"
    assert CadTypeMapping.objects.filter(agency=world.agency).count() == 91


@pytest.mark.parametrize(("entry", "message"), [
    ({"code": "X", "category": "bogus", "priority": 2}, "category 'bogus'"),
    ({"code": "X", "category": "unknown", "priority": 2}, "category 'unknown'"),
    ({"code": "X", "category": "violent", "priority": 9}, "priority must be"),
    ({"code": "", "category": "violent", "priority": 1}, "code must be"),
    ({"code": "X", "category": "violent", "priority": 1, "colour": "red"}, "unknown keys"),
])
def test_a_bad_cad_type_file_writes_nothing(world: World, tmp_path: Path, entry: dict[str, object],
                                            message: str) -> None:
    good = {"code": "FIGHT", "description": "Fight", "category": "violent", "priority": 1}
    path = write(tmp_path / "types.json", json.dumps([good, entry]))
    with pytest.raises(CommandError, match=re.escape(message)):
        run("load_cad_types", path, "--agency", "WA0170000")
    assert not CadTypeMapping.objects.exists()


MAPPING_CSV = """\
Incident,When,Type,Where,Lat,Lon,Notes
CHI-1,03/01/2024 23:30,SHOTS FIRED,1200 W Madison St,41.8817,-87.6597,two shots heard
CHI-2,03/02/2024 00:10,WELFARE CHECK,S State St / E Jackson Blvd,,,
"""


def test_a_mapping_file_describes_a_csv_with_a_header(world: World, tmp_path: Path) -> None:
    csv_path = write(tmp_path / "chicago.csv", MAPPING_CSV)
    mapping = write(tmp_path / "chicago.yaml", """\
header: true
delimiter: ","
timezone: America/Chicago
time_format: "%m/%d/%Y %H:%M"
columns:
  event_number: Incident
  received_at: When
  cad_code: Type
  address: Where
  latitude: 4
  longitude: Lon
  narrative: Notes
""")
    out, _ = run("import_calls", csv_path, "--format", "mapping", "--mapping", mapping)
    assert summary(out) == "loaded 2, skipped as already present 0, duplicates in the file 0, rejected 0"
    shots = Call.objects.get(event_number="CHI-1")
    assert shots.received_at == datetime(2024, 3, 2, 5, 30, tzinfo=UTC)  # CST, UTC-6
    assert (shots.cad_code, shots.address_key, shots.narrative) == (
        "SHOTS FIRED", "1200 W MADISON ST", "two shots heard")
    assert (shots.latitude, shots.longitude, shots.located_by) == (41.8817, -87.6597, "cad")
    welfare = Call.objects.get(event_number="CHI-2")
    assert (welfare.address_key, welfare.located_by, welfare.latitude) == ("E JACKSON BLVD / S STATE ST", "", None)


def test_a_mapping_file_describes_a_csv_without_a_header(world: World, tmp_path: Path) -> None:
    csv_path = write(tmp_path / "calls.tsv", "".join(line.replace(",", "\t") + "\n"
                                                     for line in MAPPING_CSV.splitlines()[1:]))
    mapping = write(tmp_path / "calls.json", json.dumps({
        "header": False, "delimiter": "\t", "timezone": "America/Chicago", "time_format": "%m/%d/%Y %H:%M",
        "columns": {"event_number": 0, "received_at": "1", "cad_code": 2, "address": 3, "latitude": 4,
                    "longitude": 5}}))
    out, _ = run("import_calls", csv_path, "--format", "mapping", "--mapping", mapping)
    assert summary(out) == "loaded 2, skipped as already present 0, duplicates in the file 0, rejected 0"
    assert Call.objects.get(event_number="CHI-1").received_at == datetime(2024, 3, 2, 5, 30, tzinfo=UTC)
    assert Call.objects.get(event_number="CHI-1").narrative == ""


def test_iso_times_are_read_when_the_mapping_gives_no_format(world: World, tmp_path: Path) -> None:
    csv_path = write(tmp_path / "iso.csv", "id,at\nA-1,2024-03-01T23:30:00\nA-2,2024-03-01T23:30:00+00:00\n")
    mapping = write(tmp_path / "iso.json", json.dumps({
        "timezone": "America/Chicago", "columns": {"event_number": "id", "received_at": "at"}}))
    run("import_calls", csv_path, "--format", "mapping", "--mapping", mapping)
    assert Call.objects.get(event_number="A-1").received_at == datetime(2024, 3, 2, 5, 30, tzinfo=UTC)
    assert Call.objects.get(event_number="A-2").received_at == datetime(2024, 3, 1, 23, 30, tzinfo=UTC)


ISO_MAPPING = {"timezone": "UTC", "time_format": "%Y-%m-%d %H:%M",
               "columns": {"event_number": "id", "received_at": "at", "cad_code": "type", "address": "where",
                           "latitude": "lat", "longitude": "lon", "narrative": "notes"}}


def mapped_import(tmp_path: Path, rows: str) -> str:
    csv_path = write(tmp_path / "calls.csv", "id,at,type,where,lat,lon,notes\n" + rows)
    mapping = write(tmp_path / "calls.json", json.dumps(ISO_MAPPING))
    out, _ = run("import_calls", csv_path, "--format", "mapping", "--mapping", mapping)
    return out


def test_a_broken_date_is_reported_by_its_line(world: World, tmp_path: Path) -> None:
    out = mapped_import(tmp_path, "E-1,2024-03-01 10:00,THEFT,1 Main St,,,\n"
                                  "E-2,2024-02-30 10:00,THEFT,1 Main St,,,\n"
                                  "E-3,2024-03-01 11:00,THEFT,1 Main St,,,\n")
    assert summary(out) == "loaded 2, skipped as already present 0, duplicates in the file 0, rejected 1"
    assert "  line 3: bad date '2024-02-30 10:00' (expected %Y-%m-%d %H:%M)" in out.splitlines()
    assert set(Call.objects.values_list("event_number", flat=True)) == {"E-1", "E-3"}


def test_each_bad_row_is_reported_with_its_reason_and_the_rest_load(world: World, tmp_path: Path) -> None:
    out = mapped_import(tmp_path, (
        'E-1,2024-03-01 10:00,THEFT,1 Main St,,,"a note\nover two lines"\n'  # lines 2-3
        "E-2,2024-03-01 10:00,THEFT,1 Main St,91.5,-122.3,\n"  # line 4
        "E-3,2024-03-01 10:00,THEFT,1 Main St,north,-122.3,\n"  # line 5
        "E-4,2024-03-01 10:00,THEFT,1 Main St,47.5,,\n"  # line 6
        ",2024-03-01 10:00,THEFT,1 Main St,,,\n"  # line 7
        "E-6,,THEFT,1 Main St,,,\n"  # line 8
        "\n"  # line 9: blank, skipped
        "E-7,2024-03-01 10:00\n"  # line 10
        f"{'E' * 41},2024-03-01 10:00,THEFT,1 Main St,,,\n"  # line 11
        "E-9,2024-03-01 10:00,THEFT,1 Main St,47.5,nan,\n"  # line 12
        "E-10,2024-03-01 10:00,THEFT,1 Main St,47.5,-122.3,\n"  # line 13
    ))
    assert summary(out) == "loaded 2, skipped as already present 0, duplicates in the file 0, rejected 8"
    assert out.splitlines()[1:10] == [
        "Rejected rows (8 of 8):",
        "  line 4: latitude '91.5' out of range",
        "  line 5: latitude 'north' is not a number",
        "  line 6: latitude without longitude",
        "  line 7: missing event number",
        "  line 8: missing date",
        "  line 10: 2 fields, expected 7",
        "  line 11: event number longer than 40 characters",
        "  line 12: longitude 'nan' out of range",
    ]
    assert Call.objects.get(event_number="E-1").narrative == "a note\nover two lines"


def test_only_the_first_20_rejects_are_listed(world: World, tmp_path: Path) -> None:
    out = mapped_import(tmp_path, "".join(f"E-{n},yesterday,THEFT,,,,\n" for n in range(25)))
    lines = out.splitlines()
    assert lines[0] == "loaded 0, skipped as already present 0, duplicates in the file 0, rejected 25"
    assert lines[1] == "Rejected rows (first 20 of 25):"
    assert lines[2] == "  line 2: bad date 'yesterday' (expected %Y-%m-%d %H:%M)"
    assert lines[-1].startswith("  line 21: ") and len(lines) == 22


def test_repeats_within_a_file_and_across_batches_are_duplicates_and_load_once(
        world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("apps.calls.importing.BATCH_SIZE", 2)
    out = mapped_import(tmp_path, "".join(f"E-{n},2024-03-01 10:00,THEFT,,,,\n" for n in (1, 1, 2, 3, 1, 4, 3)))
    assert summary(out) == "loaded 4, skipped as already present 0, duplicates in the file 3, rejected 0"
    assert sorted(Call.objects.values_list("event_number", flat=True)) == ["E-1", "E-2", "E-3", "E-4"]


def test_an_unknown_agency_is_refused(world: World) -> None:
    with pytest.raises(CommandError, match="No agency with ORI XX0000000"):
        run("import_calls", SEATTLE_0325, "--format", "seattle", "--agency", "XX0000000")
    with pytest.raises(CommandError, match="No agency with ORI XX0000000"):
        run("load_cad_types", DATA / "cad_types" / "seattle.json", "--agency", "XX0000000")


def test_a_file_of_another_layout_is_refused(world: World) -> None:
    with pytest.raises(CommandError, match="not a seattle file: no column 'CAD Event Number'"):
        run("import_calls", ORLANDO, "--format", "seattle")
    assert not Call.objects.exists()


@pytest.mark.parametrize(("mapping", "message"), [
    ({"columns": {"event_number": "id", "received_at": "at"}}, "timezone is required"),
    ({"timezone": "Mars/Olympus", "columns": {"event_number": "id", "received_at": "at"}}, "unknown timezone"),
    ({"timezone": "UTC", "columns": {"event_number": "id"}}, "columns.received_at is required"),
    ({"timezone": "UTC", "columns": {"event_number": "id", "received_at": "at", "color": "c"}}, "unknown columns"),
    ({"timezone": "UTC", "header": False, "columns": {"event_number": "id", "received_at": 1}}, "0-based index"),
    ({"timezone": "UTC", "delimiter": ";;", "columns": {"event_number": "id", "received_at": "at"}}, "delimiter"),
    ({"timezone": "UTC", "columns": {"event_number": "id", "received_at": "missing"}}, "no column 'missing'"),
])
def test_a_bad_mapping_is_refused(world: World, tmp_path: Path, mapping: dict[str, object], message: str) -> None:
    csv_path = write(tmp_path / "calls.csv", "id,at\nA-1,2024-03-01T10:00\n")
    path = write(tmp_path / "mapping.json", json.dumps(mapping))
    with pytest.raises(CommandError, match=re.escape(message)):
        run("import_calls", csv_path, "--format", "mapping", "--mapping", path)
    assert not Call.objects.exists()


def test_the_mapping_option_goes_with_the_mapping_format(world: World, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="needs --mapping"):
        run("import_calls", SEATTLE_0325, "--format", "mapping")
    with pytest.raises(CommandError, match="only for --format mapping"):
        run("import_calls", SEATTLE_0325, "--format", "seattle", "--mapping", tmp_path / "m.yaml")


def test_a_missing_file_is_refused(world: World, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="No such file"):
        run("import_calls", tmp_path / "nothing.csv", "--format", "seattle")
