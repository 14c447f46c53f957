"""Media-specific answers beyond apps.common.errors."""

from __future__ import annotations

from apps.common.errors import DomainError


class PayloadTooLarge(DomainError):
    """An upload over its size limit: refused before it is decoded or stored."""

    status = 413
    code = "file_too_large"
