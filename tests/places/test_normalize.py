from __future__ import annotations

import pytest

from apps.places.normalize import address_key, address_redacted

# Every spelling in a row is one place, with the key it must get.
SAME_PLACE = [
    ("9200 BLOCK RAINIER AVE S", [
        "92XX BLOCK OF RAINIER AV S",  # Seattle's hundred block
        "9200 block of Rainier Ave S",
        "9200 BLOCK RAINIER AVE S",
        "9200 BLK RAINIER AVENUE SOUTH",
        "92XX RAINIER AV S",
        "  92xx  block  of  rainier  av.  s.  ",
        "9200 BLOCK RAINIER AVE S, SEATTLE, WA",
    ]),
    ("9241 RAINIER AVE S", [
        "9241 RAINIER AVE S",  # a house keeps its number: it is not its whole block
        "9241 Rainier Avenue South",
        "9241A RAINIER AVE S",
        "9241-9243 RAINIER AVE S",
    ]),
    ("8TH AVE S / S KING ST", [
        "S KING ST / 8 AV S",
        "8TH AVE S & S KING ST",
        "8 AV S AND S KING ST",
        "S King St @ 8th Ave S",
        "SOUTH KING STREET / EIGHTH AVENUE SOUTH",
        "s king st/8 av s",
    ]),
    ("E SPRUCE ST / POWELL ST", [
        "POWELL ST & E SPRUCE ST",
        "E SPRUCE ST / POWELL ST",
        "East Spruce Street and Powell Street",
    ]),
    ("8200 BLOCK LEEVISTA BLVD", [
        "8200 BLOCK LEEVISTA BLVD",  # Orlando
        "82XX BLOCK OF LEEVISTA BOULEVARD",
    ]),
    ("MAJOR BLVD / S KIRKMAN RD", ["S KIRKMAN RD / MAJOR BLVD", "MAJOR BOULEVARD & SOUTH KIRKMAN ROAD"]),
    ("0 BLOCK PINE ST", ["XX BLOCK OF PINE ST", "1 BLOCK PINE ST"]),
    ("12 PINE ST", ["12 PINE STREET"]),
    ("100 BLOCK 1ST AVE S", ["1XX BLOCK OF 1 AV S", "100 BLOCK FIRST AVENUE SOUTH"]),
    ("123 1ST AVE S", ["123 1ST AVE S", "123 First Avenue South"]),
    ("NE 116TH ST", ["NE 116 ST", "NORTHEAST 116TH STREET", "N.E. 116th St."]),
    ("2500 BLOCK W COLONIAL DR", ["2500 BLOCK W COLONIAL DR, ORLANDO", "25XX BLOCK OF WEST COLONIAL DRIVE"]),
    ("9400 BLOCK JEFF FUQUA BLVD N", ["9400 BLOCK JEFF FUQUA BLVD N", "9400 BLOCK JEFF FUQUA BOULEVARD NORTH"]),
    ("123 MAIN ST", ["123 1/2 Main St.", "123 MAIN STREET"]),
    ("1200 BLOCK W SOUTH ST", ["1200 BLOCK W SOUTH ST", "12XX BLOCK OF WEST SOUTH STREET"]),
    ("100 BLOCK CALLE CANADA", ["100 BLOCK CALLE CAÑADA", "100 BLOCK CALLE CANADA"]),
]

SUFFIXES = [
    ("AV", "AVE"), ("AVE", "AVE"), ("AVENUE", "AVE"), ("ST", "ST"), ("STREET", "ST"), ("BLVD", "BLVD"),
    ("BV", "BLVD"), ("BOULEVARD", "BLVD"), ("RD", "RD"), ("ROAD", "RD"), ("DR", "DR"), ("DRIVE", "DR"),
    ("LN", "LN"), ("LANE", "LN"), ("PL", "PL"), ("PLACE", "PL"), ("CT", "CT"), ("COURT", "CT"), ("WAY", "WAY"),
    ("WY", "WAY"), ("PKWY", "PKWY"), ("PARKWAY", "PKWY"), ("HWY", "HWY"), ("HIGHWAY", "HWY"), ("TER", "TER"),
    ("TERRACE", "TER"), ("CIR", "CIR"), ("CIRCLE", "CIR"), ("TRL", "TRL"), ("TRAIL", "TRL"), ("PLAZA", "PLZ"),
]

DIRECTIONS = [
    ("N", "N"), ("NORTH", "N"), ("S", "S"), ("SOUTH", "S"), ("E", "E"), ("EAST", "E"), ("W", "W"), ("WEST", "W"),
    ("NE", "NE"), ("NORTHEAST", "NE"), ("NW", "NW"), ("NORTHWEST", "NW"), ("SE", "SE"), ("SOUTHEAST", "SE"),
    ("SW", "SW"), ("SOUTHWEST", "SW"),
]

ORDINALS = [
    ("1", "1ST"), ("FIRST", "1ST"), ("2", "2ND"), ("SECOND", "2ND"), ("3", "3RD"), ("THIRD", "3RD"),
    ("4", "4TH"), ("FOURTH", "4TH"), ("5", "5TH"), ("FIFTH", "5TH"), ("8", "8TH"), ("EIGHTH", "8TH"),
    ("9", "9TH"), ("NINTH", "9TH"), ("11", "11TH"), ("ELEVENTH", "11TH"), ("12", "12TH"), ("TWELFTH", "12TH"),
    ("13", "13TH"), ("THIRTEENTH", "13TH"), ("20", "20TH"), ("TWENTIETH", "20TH"), ("21", "21ST"),
    ("22", "22ND"), ("23", "23RD"), ("111", "111TH"), ("112", "112TH"), ("121", "121ST"),
]

UNUSABLE = ["", "   ", "Restricted Address", "RESTRICTED ADDRESS", "NOT AVAILABLE", "not available", "N/A", "UNKNOWN",
            "...", "///", " & ", "-- , --", "1 BLOCK", "92XX BLOCK OF"]

# Different places that must stay apart.
DIFFERENT = [
    ("9200 BLOCK RAINIER AVE S", "9300 BLOCK RAINIER AVE S"),
    ("9200 BLOCK RAINIER AVE S", "9200 BLOCK RAINIER AVE"),
    ("9200 BLOCK RAINIER AVE S", "RAINIER AVE S"),
    ("SOUTH ST", "S ST"),  # a street named South is not S Street
    ("E SPRUCE ST", "SPRUCE ST E"),
    ("8 AV S", "8 AV N"),
    ("1 AV N / JOHN ST", "100 BLOCK JOHN ST"),  # in `1 AV N` the 1 names the avenue, it is no house number
    ("S KING ST / 8 AV S", "S KING ST / 9 AV S"),
]


@pytest.mark.parametrize(("key", "spellings"), SAME_PLACE, ids=[key for key, _ in SAME_PLACE])
def test_every_spelling_of_a_place_gets_its_key(key: str, spellings: list[str]) -> None:
    assert {spelling: address_key(spelling) for spelling in spellings} == dict.fromkeys(spellings, key)


@pytest.mark.parametrize(("written", "key"), SUFFIXES)
def test_street_types_are_abbreviated(written: str, key: str) -> None:
    assert address_key(f"4500 BLOCK OAK {written}") == f"4500 BLOCK OAK {key}"


@pytest.mark.parametrize(("written", "key"), DIRECTIONS)
def test_directions_are_abbreviated_before_and_after_the_street(written: str, key: str) -> None:
    assert address_key(f"{written} OAK ST") == f"{key} OAK ST"
    assert address_key(f"OAK ST {written}") == f"OAK ST {key}"


@pytest.mark.parametrize(("written", "key"), ORDINALS)
def test_numbered_streets_are_ordinals(written: str, key: str) -> None:
    assert address_key(f"{written} AVE NE") == f"{key} AVE NE"
    assert address_key(f"NE {written} STREET") == f"NE {key} ST"


@pytest.mark.parametrize("raw", UNUSABLE)
def test_an_address_naming_no_place_has_no_key(raw: str) -> None:
    assert address_key(raw) == ""


@pytest.mark.parametrize(("one", "other"), DIFFERENT)
def test_different_places_keep_different_keys(one: str, other: str) -> None:
    assert address_key(one) != address_key(other)


@pytest.mark.parametrize("raw", ["Restricted Address", "NOT AVAILABLE", " n/a ", "Unknown"])
def test_placeholders_are_redacted_addresses(raw: str) -> None:
    assert address_redacted(raw)


@pytest.mark.parametrize("raw", ["1 BLOCK", "92XX BLOCK OF RAINIER AV S", ""])
def test_real_or_empty_addresses_are_not_redacted(raw: str) -> None:
    assert not address_redacted(raw)


def test_a_number_that_is_not_a_street_ordinal_is_left_alone() -> None:
    assert address_key("HWY 50") == "HWY 50"
    assert address_key("BUMBY/50") == "50 / BUMBY"
    assert address_key("I-4 W / W KALEY ST") == "I-4 W / W KALEY ST"


def test_an_intersection_with_one_street_is_that_street() -> None:
    assert address_key("WASHINGTON/") == "WASHINGTON"
    assert address_key("PINE ST / PINE ST") == "PINE ST"


def test_a_key_fits_the_column() -> None:
    assert len(address_key("9200 BLOCK " + "AV " * 100)) == 200
