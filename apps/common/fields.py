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
