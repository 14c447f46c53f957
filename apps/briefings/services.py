"""Assembling, versioning and editing briefings. (Being written.)"""

from __future__ import annotations


def briefing_assemble(*, call_id: int, reason: str) -> None:
    """Build the briefing's items from the data and store a new version if anything changed."""
