"""Signed media links never reach a log: the token in their path is a bearer credential while it lives.

The outside probe's finding: Daphne's access log carried `GET /api/v1/photos/<signed token>`, and
replaying that path with no Authorization header returned the photo. The access log and every log
record through our handler get the token replaced with `[link]`.
"""

from __future__ import annotations

import logging
import re
from typing import Any

# The three signed-link doors (mobile_api/v1/urls.py: photo-file, clip-file, sensor-alert-snapshot).
_SIGNED_LINK = re.compile(r"(/api/v1/(?:photos|media/clips|sensors/snapshots)/)[^\s/?\"']+")


def media_links_redact(text: str) -> str:
    return _SIGNED_LINK.sub(r"\1[link]", text)


class RedactMediaLinks(logging.Filter):
    """A handler filter: the record's message with signed-link tokens replaced."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = media_links_redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def install_redacted_access_log() -> None:
    """Daphne's access log (NCSA lines written straight to its stream) with signed-link tokens replaced."""
    from daphne.access import AccessLogGenerator

    write_entry = AccessLogGenerator.write_entry
    if getattr(write_entry, "redacts_media_links", False):
        return

    def redacted_write_entry(self: Any, host: Any, date: Any, request: str, *args: Any, **kwargs: Any) -> None:
        write_entry(self, host, date, media_links_redact(request), *args, **kwargs)

    redacted_write_entry.redacts_media_links = True  # type: ignore[attr-defined]
    AccessLogGenerator.write_entry = redacted_write_entry
