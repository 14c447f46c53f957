"""One error shape for every 4xx: {"code", "message", "fields"}.

`code` is machine-readable and stable; `message` is for people; `fields` maps
a request field to what is wrong with it (empty when the error is not about a field).
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from apps.common.errors import FIELDS_WRONG, DomainError

logger = logging.getLogger(__name__)


def error_body(code: str, message: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "fields": fields or {}}


def _flatten(detail: Any, name: str = "") -> dict[str, list[str]]:
    """DRF's nested errors as one flat map: {"device": {"kind": [...]}} becomes {"device.kind": [...]}.

    Errors of a list's items are named by index ("items.2.title"); errors not about a field by non_field_errors.
    """
    def inner(key: object) -> str:
        return f"{name}.{key}" if name else str(key)

    if isinstance(detail, dict):
        return {k: v for key, value in detail.items() for k, v in _flatten(value, inner(key)).items()}
    if isinstance(detail, list) and any(isinstance(d, dict | list) for d in detail):
        return {k: v for index, item in enumerate(detail) if item
                for k, v in _flatten(item if isinstance(item, dict | list) else [item], inner(index)).items()}
    messages = detail if isinstance(detail, list) else [detail]
    return {name or "non_field_errors": [str(m) for m in messages]}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        return Response(error_body(exc.code, exc.message, exc.fields), status=exc.status)
    if isinstance(exc, RequestDataTooBig):
        return Response(error_body("body_too_large", "The request body is too large."),
                        status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        response.data = error_body("invalid", FIELDS_WRONG, fields)
        return response
    if isinstance(exc, exceptions.APIException):
        code = str(getattr(exc.detail, "code", None) or exc.default_code)
        if isinstance(exc, exceptions.ParseError):
            code = "malformed_json" if code == exceptions.ParseError.default_code else code
            # A client bug or a probe, not ours: one line, no traceback, and no body (it may hold a password).
            view = context.get("view")
            logger.warning("Malformed request body for %s: %s", type(view).__name__ if view else "?", code)
        response.data = error_body(code, str(exc.detail))
    return response


def json_not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """Unknown URLs answer in the same shape as the API, for phones and browsers alike."""
    return JsonResponse(error_body("not_found", "Not found."), status=404)


def json_server_error(request: HttpRequest) -> JsonResponse:
    return JsonResponse(error_body("server_error", "Something went wrong on our side."), status=500)


def json_bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    if isinstance(exception, RequestDataTooBig):
        return JsonResponse(error_body("body_too_large", "The request body is too large."), status=413)
    return JsonResponse(error_body("bad_request", "Bad request."), status=400)
