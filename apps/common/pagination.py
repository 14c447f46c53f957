"""Keyset pages, newest change first.

A page is found by (updated_at, id) of the last row seen, so paging through a
200,000-row table costs the same on page 1 and page 4,000 and a row changed
while a phone scrolls is neither skipped twice nor repeated. The cursor is
opaque to clients; tampering with it only moves the starting point within
what the user may see anyway.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from django.db.models import Model, Q, QuerySet

from apps.common.errors import ValidationFailed

M = TypeVar("M", bound=Model)

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


@dataclass(frozen=True)
class Page(Generic[M]):
    items: list[M]
    next_cursor: str | None


def encode_cursor(row: Any) -> str:
    raw = json.dumps([row.updated_at.isoformat(), row.pk]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        stamp, pk = json.loads(raw)
        moment = datetime.fromisoformat(stamp)
        if moment.tzinfo is None:
            raise ValueError("cursor time without a zone")
        return moment, int(pk)
    except (ValueError, TypeError) as exc:
        raise ValidationFailed("The cursor is not one this server gave out.", code="invalid_cursor",
                               fields={"cursor": ["invalid"]}) from exc


def after_cursor(queryset: QuerySet[M], cursor: str | None) -> QuerySet[M]:
    if not cursor:
        return queryset
    stamp, pk = decode_cursor(cursor)
    # The redundant updated_at <= stamp gives the index a range bound; the OR alone
    # would make page N read and discard the (N-1) pages before it.
    return queryset.filter(Q(updated_at__lte=stamp), Q(updated_at__lt=stamp) | Q(updated_at=stamp, pk__lt=pk))


def page_size_clamp(size: int | None) -> int:
    if size is None:
        return DEFAULT_PAGE_SIZE
    return max(1, min(size, MAX_PAGE_SIZE))


def keyset_page(parts: Sequence[QuerySet[M]], *, cursor: str | None, size: int) -> Page[M]:
    """One page from the union of disjoint querysets, each fetched with its own index.

    Merging a few small sorted fetches in Python keeps every query a plain index
    range scan, where one OR across them would make the database scan and sort.
    """
    rows: list[M] = []
    for part in parts:
        rows.extend(after_cursor(part, cursor).order_by("-updated_at", "-pk")[: size + 1])
    rows.sort(key=lambda r: (r.updated_at, r.pk), reverse=True)  # type: ignore[attr-defined]
    has_more = len(rows) > size
    rows = rows[:size]
    return Page(items=rows, next_cursor=encode_cursor(rows[-1]) if has_more and rows else None)
