"""From an agency's CAD type code to our category and priority."""

from __future__ import annotations

from dataclasses import dataclass

from apps.calls.models import CadTypeMapping, Category

DEFAULT_PRIORITY = 3


@dataclass(frozen=True)
class CadType:
    category: str
    priority: int
    # True when the agency has no mapping for the code: the call is kept, categorised unknown and flagged.
    unmapped: bool


def cad_type_resolve(*, agency_id: int, code: str) -> CadType:
    mapping = CadTypeMapping.objects.filter(agency_id=agency_id, code=code.strip()).first() if code else None
    if mapping is None:
        return CadType(category=Category.UNKNOWN, priority=DEFAULT_PRIORITY, unmapped=True)
    return CadType(category=mapping.category, priority=mapping.priority, unmapped=False)
