"""A service's one road to the record it is about to change: of those the user may see, locked, or 404."""

from __future__ import annotations

from typing import TypeVar

from django.db.models import Model, QuerySet

from apps.common.errors import NotFound

M = TypeVar("M", bound=Model)


def locked_get(queryset: QuerySet[M], *, pk: int, noun: str, code: str) -> M:
    """Row `pk` of `queryset` (what the user may see), locked FOR UPDATE until the transaction ends.

    A row the user may not see answers "<noun> not found." (404) as one that does not exist does, before any
    check of what they may do with it. Call it inside transaction.atomic().
    """
    row = queryset.select_for_update().filter(pk=pk).first()
    if row is None:
        raise NotFound(f"{noun} not found.", code=code)
    return row
