"""Licence plates: one spelling per plate, and a key that forgives the misreads ALPR cameras make.

A hot-list entry and a read match when their confusable-folded keys are equal:
both keys are computed once (the entry's is stored and indexed), so matching a
read against a list of any size is one indexed lookup, never a scan.
"""

from __future__ import annotations

import re

# Characters an ALPR engine (or a person typing a list) mistakes for one another, each folded to one
# representative. O/0, I/1 and B/8 are the pairs the issue names; Q and D also read as 0 on worn or
# bolt-shadowed plates, S/5, Z/2 and G/6 are the next most common OCR confusions in vendors' error
# tables. Letters that are never confused with a digit (A, H, K, ...) stay as they are, so folding
# does not merge unrelated plates. Many states leave I, O and Q out of their series for this reason.
_FOLD = str.maketrans({"O": "0", "Q": "0", "D": "0", "I": "1", "B": "8", "S": "5", "Z": "2", "G": "6"})
_NOT_PLATE = re.compile(r"[^A-Z0-9]")
MAX_PLATE = 10  # longest US/Canadian plate is 8; some European ones reach 10 with the region stripped
# "us-in" (OpenALPR), "US-IN" or "IN": the part after the country.
_REGION = re.compile(r"^(?:[A-Z]{2}-)?([A-Z0-9]{1,3})$")


def plate_normalize(plate: str) -> str:
    """Upper case, without spaces, dashes, dots or anything else that is not a letter or digit."""
    return _NOT_PLATE.sub("", plate.upper())


def plate_key(normalized: str) -> str:
    """The confusable-folded key: the same for every plate a camera could misread as this one."""
    return normalized.translate(_FOLD)


def region_normalize(region: str) -> str:
    """A state or province code: "us-in" -> "IN", "wa" -> "WA"; "" when unknown or unreadable."""
    found = _REGION.match(region.strip().upper()) if region else None
    return found.group(1) if found else ""


class Match:
    """How a read matches an entry, strongest first. Only EXACT may be acted on without a second look."""

    EXACT = "exact"
    CONFUSABLE = "confusable"
    STATE_UNKNOWN = "state_unknown"

    ORDER = (EXACT, CONFUSABLE, STATE_UNKNOWN)


def match_type(*, read_plate: str, read_region: str, entry_plate: str, entry_region: str) -> str | None:
    """The match between a read and an entry with the same key, or None when the states differ."""
    if read_region and entry_region and read_region != entry_region:
        return None  # the same characters on another state's plate: another car
    if not read_region or not entry_region:
        return Match.STATE_UNKNOWN
    return Match.EXACT if read_plate == entry_plate else Match.CONFUSABLE
