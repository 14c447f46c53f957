"""`field__any=[...]`: membership in a long list of integers as one array parameter on PostgreSQL."""

from __future__ import annotations

from typing import Any

from django.db.models import IntegerField
from django.db.models.lookups import In


@IntegerField.register_lookup
class AnyOf(In):
    """Like `__in`, but `= ANY(%s)` with the whole list as one parameter on PostgreSQL.

    A push's recipient check filters 1,000 user ids: as an IN list Django binds
    1,000 parameters and PostgreSQL parses 1,000 literals, 5.8 ms against 1.4 ms
    this way (bench/fanout.py). Other databases get the IN list.
    """

    lookup_name = "any"

    def as_postgresql(self, compiler: Any, connection: Any) -> tuple[str, tuple[Any, ...]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s::bigint[])", (*lhs_params, [int(value) for value in self.rhs])
