"""Domain errors that services and selectors raise; the API maps them to 4xx answers.

Each carries a machine-readable `code` that the phone team can switch on. A kind of error is one line:
`class Gone(DomainError, status=410, code="gone")`; a raise may name a narrower code (`code="case_not_found"`).
"""

from __future__ import annotations

from typing import Any

FIELDS_WRONG = "Some fields are missing or wrong."


class DomainError(Exception):
    status = 400
    code = "invalid"

    def __init_subclass__(cls, *, status: int | None = None, code: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if status is not None:
            cls.status = status
        if code is not None:
            cls.code = code

    def __init__(self, message: str, *, code: str | None = None, fields: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.fields = fields or {}


class ValidationFailed(DomainError, status=400, code="invalid"):
    @classmethod
    def of_fields(cls, fields: dict[str, list[str]]) -> ValidationFailed:
        """The one answer to a body with fields missing or wrong: 400 `invalid`, what is wrong by field."""
        return cls(FIELDS_WRONG, code="invalid", fields=fields)


class NotFound(DomainError, status=404, code="not_found"):
    """Also what a user gets for an object they may not see: ids leak nothing."""


class PermissionDenied(DomainError, status=403, code="permission_denied"):
    """Only for actions on objects the user can see but may not change."""


class Conflict(DomainError, status=409, code="conflict"):
    """The request names something real, but it no longer fits its state (a receipt older than the one kept)."""


class Gone(DomainError, status=410, code="gone"):
    """What was asked about existed, and its time is over (an expired push)."""


class AuthenticationFailed(DomainError, status=401, code="authentication_failed"):
    """The credentials are missing, wrong or no longer good (a session ended, a device revoked)."""


class Unavailable(DomainError, status=503, code="unavailable"):
    """A service the request needs is down for now; the client retries (the record is not affected)."""


class RateLimited(DomainError, status=429, code="rate_limited"):
    """The client sends faster than the rule allows (positions above one a second): nothing was stored."""
