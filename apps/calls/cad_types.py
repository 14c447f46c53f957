"""From an agency's CAD type code to our category and priority: its exact mapping, else its code family's."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q

from apps.calls.models import CadTypeMapping, Category

DEFAULT_PRIORITY = 3
FAMILY = "*"


@dataclass(frozen=True)
class CadType:
    category: str
    priority: int
    # True when the agency has no mapping for the code: the call is kept, categorised unknown and flagged.
    unmapped: bool


UNMAPPED = CadType(category=Category.UNKNOWN, priority=DEFAULT_PRIORITY, unmapped=True)


def cad_type_resolve(*, agency_id: int, code: str) -> CadType:
    """The exact mapping of the code, else the longest family (`EMS: *`) it belongs to, else unmapped."""
    code = code.strip()
    if not code:
        return UNMAPPED
    found: CadTypeMapping | None = None
    candidates = CadTypeMapping.objects.filter(Q(code=code) | Q(code__endswith=FAMILY), agency_id=agency_id)
    for mapping in candidates.order_by():
        if mapping.code == code:
            found = mapping
            break
        prefix = mapping.code[:-1]
        if code.upper().startswith(prefix.upper()) and (found is None or len(prefix) >= len(found.code)):
            found = mapping
    if found is None:
        return UNMAPPED
    return CadType(category=found.category, priority=found.priority, unmapped=False)
