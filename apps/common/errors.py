"""Domain errors that services and selectors raise; the API maps them to 4xx answers.

Each carries a machine-readable `code` that the phone team can switch on.
"""

from __future__ import annotations


class DomainError(Exception):
    status = 400
    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, fields: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.fields = fields or {}


class ValidationFailed(DomainError):
    status = 400
    code = "invalid"


class NotFound(DomainError):
    """Also what a user gets for an object they may not see: ids leak nothing."""

    status = 404
    code = "not_found"


class PermissionDenied(DomainError):
    """Only for actions on objects the user can see but may not change."""

    status = 403
    code = "permission_denied"


class Conflict(DomainError):
    """The request names something real, but it no longer fits its state (a receipt older than the one kept)."""

    status = 409
    code = "conflict"


class Gone(DomainError):
    """What was asked about existed, and its time is over (an expired push)."""

    status = 410
    code = "gone"


class AuthenticationFailed(DomainError):
    status = 401
    code = "authentication_failed"


class Unavailable(DomainError):
    """A service the request needs is down for now; the client retries (the record is not affected)."""

    status = 503
    code = "unavailable"


class RateLimited(DomainError):
    """The client sends faster than the rule allows (positions above one a second): nothing was stored."""

    status = 429
    code = "rate_limited"
