"""The API's request parsers: DRF's, with malformed bodies refused in the one error shape (mobile_api/errors.py)."""

from __future__ import annotations

from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

from apps.common.jsonbody import JsonBodyError, json_depth_check


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser with the nesting cap of apps.common.jsonbody."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
            json_depth_check(data)
        except RecursionError:
            raise ParseError("JSON nests too deeply.", code="malformed_json") from None
        except JsonBodyError as exc:
            raise ParseError(str(exc), code="malformed_json") from None
        except ParseError as exc:
            raise ParseError(str(exc.detail), code="malformed_json") from None
        return data


class MultiPartParser(parsers.MultiPartParser):
    """DRF's multipart parser; broken framing answers 400 malformed_multipart."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except ParseError as exc:
            raise ParseError(str(exc.detail), code="malformed_multipart") from None
