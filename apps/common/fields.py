"""Field declarations that many models share because they are one rule."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models


def by_user(*, optional: bool = False, **kwargs: Any) -> models.ForeignKey[Any, Any]:
    """Who did something: a user kept as long as the record of what they did (PROTECT), with no reverse accessor.

    `optional`: empty when nobody did it by hand (the system, a sweep, an import).
    """
    return models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                             null=optional, blank=optional, **kwargs)


def owning_agency(**kwargs: Any) -> models.ForeignKey[Any, Any]:
    """The agency a record belongs to, the one whose people may see it: an agency with records is never deleted
    (PROTECT), and the agency has no reverse accessor to every kind of record."""
    return models.ForeignKey("accounts.Agency", on_delete=models.PROTECT, related_name="+", **kwargs)
