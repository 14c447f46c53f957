"""One key per place, whatever the spelling.

`92XX BLOCK OF RAINIER AV S`, `9200 block Rainier Ave S` -> `9200 BLOCK RAINIER AVE S`;
`S KING ST / 8 AV S` and `8TH AVE S & S KING ST` -> one key for the intersection,
its streets in a fixed order. Unusable addresses ("Restricted Address",
"NOT AVAILABLE", empty) give "".
"""

from __future__ import annotations


def address_key(raw: str) -> str:
    """The normalised key of an address, or "" when the text names no usable place."""
    # Interim version; replaced by the full normaliser (hundred blocks, intersections, suffixes).
    return " ".join(raw.upper().split())
