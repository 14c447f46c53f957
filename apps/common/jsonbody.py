"""How deep a JSON body may nest (one rule for the API's parser and the sensor webhooks' own), and what a
number and a record id are in one.

Nothing we accept nests more than a few levels (a briefing edit is the deepest, at 5); a body of
`{"a":` repeated 5,000 times made Python's decoder raise RecursionError, a 500 with a traceback
for anyone, before sign-in.
"""

from __future__ import annotations

import json
from typing import Any

MAX_JSON_DEPTH = 32
# The largest record id: PostgreSQL's bigint and SQLite's integer. A larger one is refused as a 400, not
# handed to the database (SQLite raises OverflowError for it: a 500).
MAX_ID = 2**63 - 1


def json_number(value: Any) -> bool:
    """An int or a float as JSON gives them: true and false are not numbers, though Python's bool is an int."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def json_id(value: Any) -> bool:
    """A record id as a client sends one: a whole number from 1 to MAX_ID, never true or false."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID


class JsonBodyError(ValueError):
    """The body is not JSON we accept; the message says why, for the client."""


def json_depth_check(data: Any) -> None:
    """Refuse a parsed body whose lists and objects nest deeper than MAX_JSON_DEPTH (iteratively: no recursion)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > MAX_JSON_DEPTH:
            raise JsonBodyError(f"JSON may nest at most {MAX_JSON_DEPTH} levels.")
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))


def json_loads_bounded(text: str | bytes) -> Any:
    """json.loads with the nesting cap; any problem (syntax, encoding, depth) is a JsonBodyError."""
    try:
        data = json.loads(text)
    except RecursionError:
        raise JsonBodyError(f"JSON may nest at most {MAX_JSON_DEPTH} levels.") from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise JsonBodyError(f"The body is not JSON: {exc}") from None
    json_depth_check(data)
    return data
