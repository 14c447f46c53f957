"""Request bodies declared once, as pydantic models: one spec for the checks, the error messages and the OpenAPI schema.

For the bodies on a hot path: a plate reader posts several times a second, and a DRF serializer, deep-copying
its fields for every body, cost about 0.3 ms of CPU a read, a fifth of the request. A pydantic model checks an
`alpr_group` in a few microseconds (bench/alpr_ingest.py prints the figure). A refusal is the API's one error
shape: 400 `invalid`, every problem collected, each field by its dotted path, in DRF's words, so a sender reads
the same messages whichever endpoint refused it. `BodySchema` hands drf-spectacular the model's own JSON schema
in OpenAPI 3.0 terms (`nullable`, `enum`), named after the model.
"""

from __future__ import annotations

from typing import Any, Self

from django.core.exceptions import ImproperlyConfigured
from drf_spectacular.extensions import OpenApiSerializerExtension
from pydantic import BaseModel, BeforeValidator, ConfigDict, StringConstraints, ValidationError
from pydantic_core import ErrorDetails, PydanticCustomError

from apps.common.errors import ValidationFailed


def _refuse_bool(value: Any) -> Any:
    # JSON's true is not the number 1 (pydantic's lax mode would take it as one).
    if isinstance(value, bool):
        raise PydanticCustomError("bool_for_number", "A valid number is required.")
    return value


NUMBER = BeforeValidator(_refuse_bool)
"""On an int or float field: true and false are refused, as a sender's mistake."""
TEXT = StringConstraints(strip_whitespace=True, min_length=1)
"""On a str field: required, not blank once trimmed (numbers are taken as their text)."""
OPTIONAL_TEXT = StringConstraints(strip_whitespace=True)


class Body(BaseModel):
    """Base of the pydantic request bodies: unknown fields ignored, no NaN or infinity, read-only once checked."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True, allow_inf_nan=False, frozen=True)

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Self:
        """The checked body, or ValidationFailed naming every field that is missing or wrong."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ValidationFailed.of_fields(_messages(cls, exc.errors(include_url=False))) from None


def _bounds(model: type[BaseModel], name: str) -> tuple[Any, Any]:
    low = high = None
    field = model.model_fields.get(name)
    for rule in field.metadata if field else ():
        low = getattr(rule, "ge", low)
        high = getattr(rule, "le", high)
    return low, high


def _message(model: type[BaseModel], error: ErrorDetails) -> str:
    """One pydantic error in the words DRF's fields use (rest_framework/fields.py default_error_messages)."""
    kind, ctx = error["type"], error.get("ctx", {})
    if kind == "missing":
        return "This field is required."
    if error["input"] is None and kind.endswith("_type"):
        return "This field may not be null."
    if kind in ("greater_than_equal", "less_than_equal"):
        low, high = _bounds(model, str(error["loc"][0]))
        if low is not None and high is not None:
            return f"Ensure this value is between {low:g} and {high:g}."
        if kind == "greater_than_equal":
            return f"Ensure this value is greater than or equal to {ctx['ge']}."
        return f"Ensure this value is less than or equal to {ctx['le']}."
    known = {
        "string_type": "Not a valid string.",
        "string_too_short": "This field may not be blank.",
        "string_too_long": f"Ensure this field has no more than {ctx.get('max_length')} characters.",
        "float_type": "A valid number is required.", "float_parsing": "A valid number is required.",
        "finite_number": "A valid number is required.",
        "int_type": "A valid integer is required.", "int_parsing": "A valid integer is required.",
        "int_from_float": "A valid integer is required.",
        "bool_type": "Must be a valid boolean.", "bool_parsing": "Must be a valid boolean.",
        "dict_type": "Expected a dictionary of items.",
        "literal_error": f'"{error["input"]}" is not a valid choice.',
    }
    return known.get(kind, error["msg"])


def _messages(model: type[BaseModel], errors: list[ErrorDetails]) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for error in errors:
        name = ".".join(str(part) for part in error["loc"]) or "non_field_errors"
        fields.setdefault(name, []).append(_message(model, error))
    return fields


def _openapi_30(schema: Any) -> Any:
    """pydantic's JSON schema (2020-12) as OpenAPI 3.0 has it: `nullable` for a null choice, `enum` for const."""
    if isinstance(schema, list):
        return [_openapi_30(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _openapi_30(value) for key, value in schema.items() if key != "title"}
    choices = out.get("anyOf")
    if choices and {"type": "null"} in choices:
        rest = [choice for choice in choices if choice != {"type": "null"}]
        del out["anyOf"]
        out = {**(rest[0] if len(rest) == 1 else {"anyOf": rest}), **out, "nullable": True}
    if "default" in out and out["default"] is None:
        del out["default"]  # absent means not given; whether null may be sent is `nullable`
    if out.get("additionalProperties") is True:
        out["additionalProperties"] = {}  # any value, as drf-spectacular writes it
    if isinstance(out.get("required"), list):
        out["required"] = sorted(out["required"])
    if "const" in out:
        out["enum"] = [out.pop("const")]
    if out.get("type") == "number":
        out.setdefault("format", "double")
    return out


class BodySchema(OpenApiSerializerExtension):
    """`extend_schema(request=SomeBody)`: the model's schema, in place of drf-spectacular's generic pydantic one."""

    target_class = "mobile_api.v1.bodies.Body"
    match_subclasses = True
    priority = 1  # over drf_spectacular.contrib.pydantic, which writes JSON Schema 2020-12 into a 3.0 document

    def get_name(self, auto_schema: Any, direction: str) -> str:
        return str(self.target.__name__)

    def map_serializer(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        schema = _openapi_30(self.target.model_json_schema(mode="validation"))
        if "$defs" in schema:
            raise ImproperlyConfigured(f"{self.target.__name__}: a body nesting models needs components for them.")
        return dict(schema)
