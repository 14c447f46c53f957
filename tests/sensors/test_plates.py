"""Plate spelling, the misread-forgiving key, and what kind of match a read and an entry make."""

from __future__ import annotations

import pytest

from apps.sensors.plates import Match, match_type, plate_key, plate_normalize, region_normalize


def test_a_plate_is_written_one_way() -> None:
    assert plate_normalize(" abc-1 234 ") == "ABC1234"
    assert plate_normalize("7·ABC.12") == "7ABC12"


@pytest.mark.parametrize(("typed", "read"), [("A424761", "A4Z476I"), ("BOS1234", "8051234"), ("DOG123", "0061Z3"),
                                             ("QZ5", "025")])
def test_plates_a_camera_confuses_share_a_key(typed: str, read: str) -> None:
    assert plate_key(typed) == plate_key(read)


@pytest.mark.parametrize(("one", "other"), [("ABC1234", "ABC1235"), ("HK1", "HX1"), ("A424761", "A42476")])
def test_different_plates_keep_different_keys(one: str, other: str) -> None:
    assert plate_key(one) != plate_key(other)


@pytest.mark.parametrize(("given", "code"), [("us-in", "IN"), ("WA", "WA"), ("us-wa ", "WA"), ("", ""),
                                             ("not a state", "")])
def test_regions_become_state_codes(given: str, code: str) -> None:
    assert region_normalize(given) == code


def test_the_match_says_how_sure_it_is() -> None:
    assert match_type(read_plate="A424761", read_region="IN", entry_plate="A424761", entry_region="IN") == Match.EXACT
    assert match_type(read_plate="A4Z476I", read_region="IN", entry_plate="A424761",
                      entry_region="IN") == Match.CONFUSABLE
    assert match_type(read_plate="A424761", read_region="", entry_plate="A424761",
                      entry_region="IN") == Match.STATE_UNKNOWN
    assert match_type(read_plate="A424761", read_region="IN", entry_plate="A424761",
                      entry_region="") == Match.STATE_UNKNOWN


def test_the_same_characters_on_another_states_plate_are_no_match() -> None:
    assert match_type(read_plate="A424761", read_region="IN", entry_plate="A424761", entry_region="WA") is None
