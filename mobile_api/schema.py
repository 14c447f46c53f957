"""OpenAPI touches that drf-spectacular cannot infer: the one error shape on every operation."""

from __future__ import annotations

from typing import Any

ERROR_SCHEMA = {
    "type": "object",
    "required": ["code", "message", "fields"],
    "properties": {
        "code": {"type": "string", "description": "Machine-readable, stable: e.g. case_not_found, invalid."},
        "message": {"type": "string", "description": "For people."},
        "fields": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
            "description": "What is wrong with each request field; empty when the error is not about a field.",
        },
    },
}

_ERRORS = {
    "400": "Bad input: malformed JSON, wrong types, unknown references.",
    "401": "Not signed in, or the session ended (idle, expired, revoked).",
    "404": "Not found, or not yours to see.",
    "413": "The request body is too large.",
    "429": "Too many requests; retry later.",
}


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    ref = {"$ref": "#/components/schemas/Error"}
    for path in result.get("paths", {}).values():
        for operation in path.values():
            responses = operation.setdefault("responses", {})
            for status, description in _ERRORS.items():
                responses.setdefault(status, {"description": description,
                                              "content": {"application/json": {"schema": ref}}})
    return result
