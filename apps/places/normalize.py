"""One key per place, whatever the spelling.

`92XX BLOCK OF RAINIER AV S` and `9200 block Rainier Ave S` -> `9200 BLOCK RAINIER AVE S`;
a house keeps its number, `9241 Rainier Avenue South` -> `9241 RAINIER AVE S`, and
`block_key` gives the hundred block it stands on (a hazard recorded at a house is that
house's; one recorded on the block is only "on this block"). `S KING ST / 8 AV S` and
`8TH AVE S & S KING ST` -> `8TH AVE S / S KING ST` (an intersection's streets in sorted order).
Unusable addresses ("Restricted Address", "NOT AVAILABLE", empty) give "".

Places are scoped by municipality: the same intersection in two townships is two places.
With a municipality (`address_key(raw, municipality="Lower Merion Twp")`) the key reads
`LOWER MERION TOWNSHIP: ...`; without one it is the street part alone, and the agency
scopes it (apps.places.services falls back to the agency's own municipality first).

The key is for matching, not for display: every spelling of a street goes through
the same rules, so two spellings of one place meet even when a rule is crude.
"""

from __future__ import annotations

import re
import unicodedata

UNUSABLE = frozenset({"RESTRICTED ADDRESS", "RESTRICTED", "NOT AVAILABLE", "UNKNOWN", "UNK", "N/A", "NA", "NONE",
                      "REDACTED", "NULL"})

DIRECTIONS = {
    "N": "N", "NORTH": "N", "S": "S", "SOUTH": "S", "E": "E", "EAST": "E", "W": "W", "WEST": "W",
    "NE": "NE", "NORTHEAST": "NE", "NW": "NW", "NORTHWEST": "NW",
    "SE": "SE", "SOUTHEAST": "SE", "SW": "SW", "SOUTHWEST": "SW",
}

# Street types, to the USPS abbreviation. Seattle's CAD writes AV, WY, BV, TL, BR.
STREET_TYPES = {
    "AV": "AVE", "AVE": "AVE", "AVEN": "AVE", "AVENUE": "AVE", "AVN": "AVE",
    "ST": "ST", "STR": "ST", "STREET": "ST",
    "BLVD": "BLVD", "BV": "BLVD", "BOUL": "BLVD", "BOULEVARD": "BLVD",
    "RD": "RD", "ROAD": "RD",
    "DR": "DR", "DRV": "DR", "DRIVE": "DR",
    "LN": "LN", "LANE": "LN",
    "PL": "PL", "PLACE": "PL",
    "CT": "CT", "CRT": "CT", "COURT": "CT",
    "WAY": "WAY", "WY": "WAY",
    "PKWY": "PKWY", "PKY": "PKWY", "PARKWAY": "PKWY",
    "HWY": "HWY", "HIGHWAY": "HWY",
    "TER": "TER", "TERR": "TER", "TERRACE": "TER",
    "CIR": "CIR", "CIRCLE": "CIR",
    "TRL": "TRL", "TL": "TRL", "TRAIL": "TRL",
    "PLZ": "PLZ", "PLAZA": "PLZ",
    "SQ": "SQ", "SQUARE": "SQ",
    "ALY": "ALY", "ALLEY": "ALY",
    "LOOP": "LOOP",
    "CV": "CV", "COVE": "CV",
    "PT": "PT", "POINT": "PT",
    "CRES": "CRES", "CRESCENT": "CRES",
    "EXPY": "EXPY", "EXPRESSWAY": "EXPY",
    "FWY": "FWY", "FREEWAY": "FWY",
    "BRG": "BRG", "BR": "BRG", "BRIDGE": "BRG",
}

SPELLED_ORDINALS = {
    word: number for number, word in enumerate(
        ("FIRST", "SECOND", "THIRD", "FOURTH", "FIFTH", "SIXTH", "SEVENTH", "EIGHTH", "NINTH", "TENTH", "ELEVENTH",
         "TWELFTH", "THIRTEENTH", "FOURTEENTH", "FIFTEENTH", "SIXTEENTH", "SEVENTEENTH", "EIGHTEENTH", "NINETEENTH",
         "TWENTIETH"), start=1)
}

# Call.address_key and Premise.address_key are 200 characters.
KEY_LENGTH = 200
_TYPES = frozenset(STREET_TYPES.values())
_INTERSECTION = re.compile(r"\s*(?:/|&|@|\bAND\b)\s*")
# "92XX BLOCK OF", "9200 BLOCK", "9200 BLK OF", "XX BLOCK OF" (Seattle's 0-99 block), "1 BLOCK" (Orlando's).
_BLOCK = re.compile(r"^(?P<number>\d*)(?P<xx>XX)?\s+(?:BLOCK|BLK)(?:\s+OF)?\b\s*(?P<street>.*)$")
# "92XX RAINIER AVE S": a hundred block without the word BLOCK.
_XX_NUMBER = re.compile(r"^(?P<number>\d*)XX\s+(?P<street>.+)$")
# A house number: 9241, 9241A, 9241-9243.
_HOUSE_NUMBER = re.compile(r"^(?P<number>\d+)(?:[A-Z]|-\d+[A-Z]?)?\s+(?P<street>.+)$")
_NOT_KEPT = re.compile(r"[^A-Z0-9/&@\- ]")
_HALF = re.compile(r"\b1/2\b")
_ORDINAL_ENDINGS = {1: "ST", 2: "ND", 3: "RD"}


_MUNICIPALITY_WORDS = {"TWP": "TOWNSHIP", "TWSP": "TOWNSHIP", "TSP": "TOWNSHIP", "BORO": "BOROUGH",
                       "BOR": "BOROUGH", "VLG": "VILLAGE", "CTY": "CITY", "ST": "SAINT", "MT": "MOUNT"}
_MUNICIPALITY_OF = re.compile(r"^(?:CITY|TOWN|TOWNSHIP|BOROUGH|VILLAGE) OF ")
_SCOPE = re.compile(r"^(?P<scope>[^:]*): (?P<place>.*)$")
_HOUSE_KEY = re.compile(r"^(?P<number>\d+) (?P<street>(?!BLOCK ).+)$")


def address_key(raw: str, municipality: str = "") -> str:
    """The normalised key of an address in a municipality, or "" when the text names no usable place."""
    key = _key(_clean(raw))
    if not key:
        return ""
    scope = municipality_key(municipality)
    return (f"{scope}: {key}" if scope else key)[:KEY_LENGTH]


def municipality_key(raw: str) -> str:
    """`Lower Merion Twp`, `TOWNSHIP OF LOWER MERION` -> `LOWER MERION TOWNSHIP`; `City of Orlando` -> `ORLANDO`."""
    text = " ".join(_MUNICIPALITY_WORDS.get(w, w) for w in _clean(raw.replace(",", " ")).split())
    if match := _MUNICIPALITY_OF.match(text):
        kind = match.group().split()[0]
        text = text[match.end():] if kind == "CITY" else f"{text[match.end():]} {kind}"
    return text


def block_key(key: str) -> str:
    """The hundred block a house key stands on, in the same municipality; any other key is its own block."""
    scope, place = ("", key)
    if match := _SCOPE.match(key):
        scope, place = f"{match['scope']}: ", match["place"]
    if house := _HOUSE_KEY.match(place):
        return f"{scope}{int(house['number']) // 100 * 100} BLOCK {house['street']}"[:KEY_LENGTH]
    return key


def key_is_block(key: str) -> bool:
    """Whether the key names a hundred block (or a whole street) rather than one house or corner."""
    place = match["place"] if (match := _SCOPE.match(key)) else key
    return " BLOCK " in f" {place} " or not (_HOUSE_KEY.match(place) or " / " in place)


def address_redacted(raw: str) -> bool:
    """Whether the text is a placeholder for a withheld or missing address ("Restricted Address", "N/A")."""
    return _clean(raw) in UNUSABLE


def _key(text: str) -> str:
    if not text or text in UNUSABLE:
        return ""
    if _INTERSECTION.search(text):
        streets = {street for street in map(_street_key, _INTERSECTION.split(text)) if street}
        return " / ".join(sorted(streets))
    if (house := _HOUSE_NUMBER.match(text)) and _names_a_street(house["street"]) and not _BLOCK.match(text):
        street_key = _street_key(house["street"])
        return f"{int(house['number'])} {street_key}" if street_key else ""
    block = _block(text)
    if block is None:
        return _street_key(text)
    hundreds, street = block
    street_key = _street_key(street)
    return f"{hundreds} BLOCK {street_key}" if street_key else ""


def _clean(raw: str) -> str:
    # A comma starts the city, unit or state ("2500 BLOCK W COLONIAL DR, ORLANDO"): the place is before it.
    text = raw.upper().split(",", 1)[0]
    # "CAÑADA" and "CANADA" are one street to the people who type them.
    text = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    text = text.replace(".", "").replace("'", "")
    text = _HALF.sub(" ", text)  # "123 1/2 MAIN ST": the half is not an intersection
    text = _NOT_KEPT.sub(" ", text)
    return " ".join(stripped for word in text.split() if (stripped := word.strip("-")))


def _block(text: str) -> tuple[int, str] | None:
    """(hundred block, street) of a hundred block address; None for a bare street."""
    if match := _BLOCK.match(text):
        number = int(match["number"] or 0)
        return (number * 100 if match["xx"] else number // 100 * 100), match["street"]
    if match := _XX_NUMBER.match(text):
        return int(match["number"] or 0) * 100, match["street"]
    return None


def _names_a_street(text: str) -> bool:
    """Whether the words after a leading number name a street, so the number is a house number.

    In `8 AV S` nothing but a type and a direction follows the 8: it is the street's name.
    """
    return any(word not in STREET_TYPES and word not in DIRECTIONS for word in text.split())


def _street_key(text: str) -> str:
    """[direction] name [type] [direction], abbreviated, numbered streets as ordinals."""
    words = [_word(w) for w in text.split()]
    prefix: list[str] = []
    suffix: list[str] = []
    # A direction or type needs a name beside it: in `SOUTH ST` and `N ST`, SOUTH and N are the names.
    if len(words) > 1 and words[-1] in DIRECTIONS:
        suffix.append(DIRECTIONS[words.pop()])
    if len(words) > 1 and words[-1] in _TYPES:
        suffix.insert(0, words.pop())
    if len(words) > 1 and words[0] in DIRECTIONS:
        prefix.append(DIRECTIONS[words.pop(0)])
    body = words + suffix
    numbered = [_ordinal(w) if i + 1 < len(body) and body[i + 1] in _TYPES else w for i, w in enumerate(body)]
    return " ".join(prefix + numbered)


def _word(word: str) -> str:
    if word in SPELLED_ORDINALS:
        return _ordinal(str(SPELLED_ORDINALS[word]))
    return STREET_TYPES.get(word, word)


def _ordinal(word: str) -> str:
    """8 -> 8TH, 21 -> 21ST, 112 -> 112TH: a bare number before a street type is a numbered street."""
    if not word.isdigit():
        return word
    number = int(word)
    ending = "TH" if number % 100 in (11, 12, 13) else _ORDINAL_ENDINGS.get(number % 10, "TH")
    return f"{number}{ending}"
