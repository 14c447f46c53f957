"""Is an answer one the schema documents? Its status, its error code, and its body's shape, strictly.

Strictly means what a generated client's decoder does: no undocumented field, no undeclared null, no value
outside an enum. OpenAPI 3.0's `nullable` is turned into JSON Schema's null type; an object that lists its
properties allows no others unless it says so.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from drf_spectacular.generators import SchemaGenerator
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012


@cache
def schema() -> dict[str, Any]:
    return SchemaGenerator().get_schema(request=None, public=True)  # type: ignore[no-any-return]


def _strict(node: Any) -> Any:
    if isinstance(node, list):
        return [_strict(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _strict(v) for k, v in node.items() if k not in ("nullable", "discriminator", "example")}
    if "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    if node.get("nullable"):
        return {"anyOf": [out, {"type": "null"}]}
    return out


@cache
def _registry() -> Registry:
    root = {"components": {"schemas": _strict(schema()["components"]["schemas"])}}
    return Registry().with_resource("urn:api", Resource.from_contents(root, default_specification=DRAFT202012))


def operation(op_id: str) -> tuple[str, str, dict[str, Any]]:
    for path, methods in schema()["paths"].items():
        for method, op in methods.items():
            if op["operationId"] == op_id:
                return method, path, op
    raise KeyError(op_id)


def undocumented(op_id: str, status: int, content_type: str, body: Any) -> list[str]:
    """What about this answer the schema does not document; empty when it all is."""
    _, _, op = operation(op_id)
    response = op["responses"].get(str(status))
    if response is None:
        return [f"{op_id} does not document status {status}"]
    if status >= 400 and isinstance(body, dict) and body.get("code") not in response.get("x-codes", []):
        return [f"{op_id} {status} does not list the code {body.get('code')!r}"]
    content = response.get("content")
    if not content:
        return [] if body in (None, b"") else [f"{op_id} {status} documents no body"]
    media = content_type.split(";")[0].strip()
    declared = next((v for k, v in content.items() if k == media or (k.endswith("/*") and
                                                                      media.startswith(k[:-1]))), None)
    if declared is None:
        return [f"{op_id} {status} does not document {media}; it documents {sorted(content)}"]
    if media != "application/json":
        return []
    validator = Draft202012Validator(_rebase(_strict(declared["schema"])), registry=_registry())
    return [f"{op_id} {status} at {'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(body)][:5]


def _rebase(node: Any) -> Any:
    if isinstance(node, list):
        return [_rebase(n) for n in node]
    if not isinstance(node, dict):
        return node
    return {k: (f"urn:api{v}" if k == "$ref" else _rebase(v)) for k, v in node.items()}
